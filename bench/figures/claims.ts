// Figure 7: many claims on one coordinator (bench/claims-worker.ts, a child with --expose-gc).
import { execFileSync } from 'node:child_process';
import { JsonChild, fmt } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

interface ClaimsRow {
  n: number;
  rounds: number;
  floorMs: number;
  acquireMs: number;
  ratio: number;
  heapPerLockBytes: number;
  idleRequestsPerSecond: number;
  batchSize: number;
  releaseCalledMs: number;
  allGoneMs: number;
  znodesLeft: number;
}

interface ClaimsResult {
  gcExposed: boolean;
  idleMs: number;
  rows: ClaimsRow[];
}

export const claims: Figure = async (ctx: BenchContext) => {
  const sizes = ctx.quick ? [100, 1000] : [100, 1000, 10_000];
  const idleMs = ctx.quick ? 4000 : 10_000;
  // The worker runs the built package (dist/esm), as services do.
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
  const child = new JsonChild(
    'claims-worker.ts',
    [ctx.connect, ctx.members.join(','), `/bench/${ctx.runId}/claims`, sizes.join(','), String(idleMs)],
    ['--expose-gc'],
  );
  let r: ClaimsResult;
  try {
    r = await child.result<ClaimsResult>(600_000);
  } finally {
    await child.finish();
  }
  return {
    title: 'Many claims on one coordinator',
    tables: [
      {
        columns: [
          'held locks N',
          'rounds',
          'acquire all (ms)',
          'raw floor (ms)',
          'floor ÷ ours',
          'idle req/s',
          'heap per lock',
          'release() all (ms)',
          'all gone after (ms)',
          'znodes left',
        ],
        rows: r.rows.map((row) => [
          String(row.n),
          String(row.rounds),
          fmt(row.acquireMs, 0),
          fmt(row.floorMs, 0),
          fmt(row.ratio, 2),
          fmt(row.idleRequestsPerSecond, 1),
          `${fmt(row.heapPerLockBytes / 1024, 2)} KiB`,
          fmt(row.releaseCalledMs, 0),
          Number.isFinite(row.allGoneMs) ? fmt(row.allGoneMs, 0) : '> 10000',
          String(row.znodesLeft),
        ]),
      },
    ],
    notes: [
      'One Coordinator holds N locks on distinct paths below one existing parent, acquired all at once. Raw floor: the raw client sending what an acquire of a removed path sends (create the path ‖ create the lock node ‖ list), for the same N paths, pipelined. Floor and ours alternate over rounds; medians. Goal: floor ÷ ours >= 0.8.',
      `Idle req/s: the server's zk_packets_received over ${r.idleMs / 1000} s while the N locks are held, after the first verification of each (the data watch on its node), everything this client sends (goal <= 10, independent of N).`,
      `Heap per lock: heapUsed after forced GC (--expose-gc: ${r.gcExposed ? 'yes' : 'NO, noisy'}), lock objects included, ÷ N (goal <= 3 KiB).`,
      'Release (last round): every release() resolved (each waits at most 1 s, the deletes go on in the background), then until no node is left below the parent; znodes left: counted 10 s after the release began at the latest (goal 0).',
    ],
    data: r,
  };
};
