// Figure 2: handoff latency. N+1 clients (one session each, in one process per implementation) loop
// acquire / hold 1 ms / release on one lock, so N waiters queue behind the holder. Latency of one
// handoff: the next holder's acquire() resolving minus the previous holder's release() call (and
// minus its release() resolving: the server sends the delete's answer and the waiter's
// notification at the same moment, so this one is near zero or negative).
import { runHandoffWorker, type PeerImpl } from '../../spec/support/peers/index.js';
import { JsonChild, fmt, quantile } from '../lib/common.js';
import {
  availablePeers,
  networkSettings,
  type BenchContext,
  type Figure,
  type Table,
} from '../lib/context.js';

type Impl = 'ours' | PeerImpl;
const LABEL: Record<Impl, string> = { ours: 'ours', curator: 'Curator', kazoo: 'kazoo' };
const HOLD_MS = 1;
const SESSION_TIMEOUT_MS = 10_000;

type Records = Array<[number, number, number]>;

async function run(
  impl: Impl,
  connect: string,
  lockPath: string,
  clients: number,
  warmup: number,
  handoffs: number,
): Promise<Records> {
  if (impl === 'ours') {
    const child = new JsonChild('ours-worker.ts', [
      'handoff',
      connect,
      lockPath,
      String(clients),
      String(warmup),
      String(handoffs),
      String(HOLD_MS),
      String(SESSION_TIMEOUT_MS),
    ]);
    try {
      return (await child.result<{ records: Records }>(120_000)).records;
    } finally {
      await child.finish();
    }
  }
  const result = await runHandoffWorker(impl, {
    connectString: connect,
    lockPath,
    clients,
    warmup,
    handoffs,
    holdMs: HOLD_MS,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    timeoutMs: 180_000,
  });
  return result.records;
}

export const handoff: Figure = async (ctx: BenchContext) => {
  const warmup = ctx.quick ? 20 : 50;
  const handoffs = ctx.quick ? 100 : 500;
  const { peers, notes } = availablePeers(ctx);
  const impls: Impl[] = ['ours', ...peers];
  const settings = await networkSettings(ctx);
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (const setting of settings) {
    for (const waiters of ctx.quick ? [1, 2, 20] : [1, 2, 100]) {
      for (const impl of impls) {
        const lockPath = `/bench/${ctx.runId}/handoff/${setting.name === 'loopback' ? 'lo' : 'rtt'}-${waiters}-${impl}`;
        const records = await run(impl, setting.connect, lockPath, waiters + 1, warmup, handoffs);
        const fromCall: number[] = [];
        const fromResolved: number[] = [];
        for (let i = 1; i < records.length; i += 1) {
          const prev = records[i - 1] as [number, number, number];
          const next = records[i] as [number, number, number];
          fromCall.push(next[0] - prev[1]);
          fromResolved.push(next[0] - prev[2]);
        }
        const summary = {
          setting: setting.name,
          waiters,
          impl,
          handoffs: fromCall.length,
          fromCallP50: quantile(fromCall, 0.5),
          fromCallP99: quantile(fromCall, 0.99),
          fromResolvedP50: quantile(fromResolved, 0.5),
          fromResolvedP99: quantile(fromResolved, 0.99),
        };
        data.push(summary);
        ctx.log(
          `  ${setting.name} ${waiters} waiters ${impl}: p50 ${fmt(summary.fromCallP50, 2)} ms, p99 ${fmt(summary.fromCallP99, 2)} ms (from release() call)`,
        );
        rows.push([
          setting.name,
          String(waiters),
          LABEL[impl],
          fmt(summary.fromCallP50, 2),
          fmt(summary.fromCallP99, 2),
          fmt(summary.fromResolvedP50, 2),
          fmt(summary.fromResolvedP99, 2),
        ]);
      }
    }
  }
  const table: Table = {
    columns: [
      'network',
      'waiters',
      'implementation',
      'p50 from release() call',
      'p99',
      'p50 from release() resolved',
      'p99',
    ],
    rows,
  };
  notes.push(
    `ms; ${handoffs} handoffs per row after ${warmup} warm-up acquisitions; each holder keeps the lock ${HOLD_MS} ms, then queues again. All clients of one row run in one process (Curator: one JVM, kazoo: one Python process, ours: one Node process), one session each.`,
    'From release() resolved: the server answers the delete and notifies the next waiter at the same time, so the next acquire() often resolves before the previous release() does (values near 0 or negative).',
  );
  return { title: 'Handoff latency', tables: [table], notes, data };
};
