// Figure 4: leader failover. A leader in a child process (bench/leader-worker.ts) and a follower
// selector in this process on the same path. Graceful: the leader is asked to stop(); crash: the
// leader process is SIGKILLed, so the follower leads once ZooKeeper expires the dead session.
// Latency: from the stop request / the kill to the follower's leader callback starting.
import { Coordinator } from '../../lib/index.js';
import { JsonChild, fmt, median, now, sleep, withTimeout } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

async function sample(
  ctx: BenchContext,
  follower: Coordinator,
  path: string,
  sessionTimeoutMs: number,
  how: 'stop' | 'kill',
): Promise<number> {
  const leader = new JsonChild('leader-worker.ts', [ctx.connect, path, String(sessionTimeoutMs)]);
  try {
    await leader.next((e) => e.event === 'leading', 30_000);
    let leadingAt = 0;
    let signalLeading: () => void = () => undefined;
    const leading = new Promise<void>((resolve) => (signalLeading = resolve));
    const selector = follower.createLeaderSelector(path, {
      id: 'follower',
      minimumWorkTimeMs: 0,
      leader: async (control) => {
        leadingAt = now();
        signalLeading();
        await control.waitUntilShouldStop(3_600_000);
      },
    });
    selector.start();
    // Queued behind the leader.
    const lock = follower.createLock(path);
    for (let i = 0; (await lock.contenders()).length < 2; i += 1) {
      if (i > 200) throw new Error('follower never queued');
      await sleep(10);
    }
    const t0 = now();
    if (how === 'stop') leader.send({ cmd: 'stop' });
    else leader.kill('SIGKILL');
    const limit = sessionTimeoutMs * 2 + 10_000;
    await withTimeout(leading, limit, `follower not leading ${limit} ms after ${how}`);
    const latency = leadingAt - t0;
    await selector.stop();
    return latency;
  } finally {
    leader.kill();
    await leader.exited;
  }
}

export const failover: Figure = async (ctx: BenchContext) => {
  const graceful = ctx.quick ? 3 : 5;
  const killSessions = ctx.quick ? [2_000] : [2_000, 5_000, 10_000];
  const killSamples = ctx.quick ? 1 : 3;
  const follower = new Coordinator({ connectString: ctx.connect, sessionTimeoutMs: 10_000 });
  await follower.start();
  const rows: string[][] = [];
  const data: Array<{ how: string; sessionTimeoutMs: number; samplesMs: number[] }> = [];
  try {
    let n = 0;
    const stops: number[] = [];
    for (let i = 0; i < graceful; i += 1) {
      stops.push(await sample(ctx, follower, `/bench/${ctx.runId}/failover/${(n += 1)}`, 10_000, 'stop'));
    }
    ctx.log(`  graceful: ${stops.map((s) => fmt(s, 1)).join(', ')} ms`);
    data.push({ how: 'graceful stop()', sessionTimeoutMs: 10_000, samplesMs: stops });
    rows.push([
      'graceful stop()',
      '10 s',
      String(stops.length),
      fmt(median(stops), 1),
      fmt(Math.min(...stops), 1),
      fmt(Math.max(...stops), 1),
      '',
    ]);
    for (const s of killSessions) {
      const kills: number[] = [];
      for (let i = 0; i < killSamples; i += 1) {
        kills.push(await sample(ctx, follower, `/bench/${ctx.runId}/failover/${(n += 1)}`, s, 'kill'));
      }
      ctx.log(`  kill -9, S = ${s / 1000} s: ${kills.map((k) => fmt(k, 0)).join(', ')} ms`);
      data.push({ how: 'kill -9', sessionTimeoutMs: s, samplesMs: kills });
      rows.push([
        'kill -9 of the leader process',
        `${s / 1000} s`,
        String(kills.length),
        fmt(median(kills), 0),
        fmt(Math.min(...kills), 0),
        fmt(Math.max(...kills), 0),
        `${fmt(median(kills) / s, 2)}`,
      ]);
    }
  } finally {
    await follower.close();
  }
  return {
    title: 'Leader failover',
    tables: [
      {
        columns: ['event', 'session timeout S', 'samples', 'median ms', 'min', 'max', 'median ÷ S'],
        rows,
      },
    ],
    notes: [
      'From the stop request (sent over a pipe) or the SIGKILL to the next leader callback starting, in another process. After a kill the server must first expire the dead session (S, rounded up to its tickTime of 200 ms); the follower then takes over on the deletion notification.',
    ],
    data,
  };
};
