// Figure 5: loss detection in a silent freeze. A leader connected through a FaultProxy; the proxy
// freezes (bytes dropped both ways, sockets left open: the client sees nothing). Measured from the
// freeze to the coordinator's 'suspended' event and to the leader's control.signal abort, as a
// fraction of the session timeout S. The server cannot expire the session before S.
import { Coordinator, type Control } from '../../lib/index.js';
import { proxiesFor } from '../../spec/support/fault-proxy.js';
import { fmt, median, now, sleep, withTimeout } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

interface FreezeSample {
  sessionTimeoutMs: number;
  suspendedMs: number;
  abortedMs: number;
  leaseLeftAtFreezeMs: number;
}

async function sample(
  ctx: BenchContext,
  path: string,
  sessionTimeoutMs: number,
  offsetMs: number,
): Promise<FreezeSample> {
  const proxies = await proxiesFor([...ctx.members]);
  const coordinator = new Coordinator({ connectString: proxies.connectString, sessionTimeoutMs });
  try {
    await coordinator.start();
    let control: Control | undefined;
    let signalLeading: () => void = () => undefined;
    const leading = new Promise<void>((resolve) => (signalLeading = resolve));
    const selector = coordinator.createLeaderSelector(path, {
      minimumWorkTimeMs: 0,
      leader: async (c) => {
        control = c;
        signalLeading();
        await c.waitUntilShouldStop(3_600_000);
      },
    });
    selector.start();
    await withTimeout(leading, 30_000, 'never led');
    // Freeze at a different phase of the heartbeat cycle in every sample.
    await sleep(1000 + offsetMs);
    const term = control as Control;
    let suspendedAt = Number.NaN;
    let abortedAt = Number.NaN;
    const suspended = new Promise<void>((resolve) =>
      coordinator.once('suspended', () => {
        suspendedAt = now();
        resolve();
      }),
    );
    const aborted = new Promise<void>((resolve) =>
      term.signal.addEventListener('abort', () => {
        abortedAt = now();
        resolve();
      }),
    );
    const leaseLeft = term.ownershipDeadline() - Date.now();
    const t0 = now();
    for (const proxy of proxies.proxies) proxy.freeze();
    await withTimeout(Promise.all([suspended, aborted]), sessionTimeoutMs * 2, 'no loss detected');
    for (const proxy of proxies.proxies) proxy.restore();
    await selector.stop({ timeoutMs: sessionTimeoutMs * 2 }).catch(() => undefined);
    return {
      sessionTimeoutMs,
      suspendedMs: suspendedAt - t0,
      abortedMs: abortedAt - t0,
      leaseLeftAtFreezeMs: leaseLeft,
    };
  } finally {
    for (const proxy of proxies.proxies) proxy.restore();
    await coordinator.close();
    await proxies.close();
  }
}

export const freeze: Figure = async (ctx: BenchContext) => {
  const timeouts = ctx.quick ? [2_000] : [2_000, 5_000, 10_000];
  const samples = ctx.quick ? 2 : 3;
  const all: FreezeSample[] = [];
  const rows: string[][] = [];
  let n = 0;
  for (const s of timeouts) {
    const these: FreezeSample[] = [];
    for (let i = 0; i < samples; i += 1) {
      // Spread the freeze over one heartbeat interval (S/6).
      const offset = ((i + 0.5) / samples) * (s / 6);
      these.push(await sample(ctx, `/bench/${ctx.runId}/freeze/${(n += 1)}`, s, offset));
    }
    all.push(...these);
    const frac = (key: 'suspendedMs' | 'abortedMs' | 'leaseLeftAtFreezeMs'): number[] =>
      these.map((x) => x[key] / s);
    const range = (values: number[]): string =>
      `${fmt(median(values), 2)} (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`;
    ctx.log(
      `  S = ${s / 1000} s: suspended ${these.map((x) => fmt(x.suspendedMs, 0)).join(', ')} ms; signal ${these.map((x) => fmt(x.abortedMs, 0)).join(', ')} ms`,
    );
    rows.push([
      `${s / 1000} s`,
      String(these.length),
      range(frac('suspendedMs')),
      range(frac('abortedMs')),
      fmt(median(these.map((x) => x.abortedMs)), 0),
      range(frac('leaseLeftAtFreezeMs')),
    ]);
  }
  return {
    title: 'Loss detection in a silent freeze',
    tables: [
      {
        columns: [
          'session timeout S',
          'samples',
          "'suspended' ÷ S",
          'control.signal abort ÷ S',
          'abort, median ms',
          'lease left at freeze ÷ S',
        ],
        rows,
      },
    ],
    notes: [
      'Median (min–max). The freeze comes at a different phase of the heartbeat (every S/6) in each sample. Expected: suspended once nothing was answered for S/2, counted from the send time of the last answered request, checked every min(S/12, 500 ms); the leader is told at the same moment, long before the server may expire the session (S).',
    ],
    data: all,
  };
};
