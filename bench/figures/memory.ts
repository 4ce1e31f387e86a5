// Figure 6: memory, measured in a child process with --expose-gc (bench/memory.ts).
import { JsonChild, fmt } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

interface MemoryResult {
  gcExposed: boolean;
  heldLocks: number;
  heapPerHeldLocksBytes: number;
  heapRetainedAfterReleaseBytes: number;
  verificationRequestsPerSecond: number;
  selectors: number;
  heapPerSelectorsBytes: number;
  heapRetainedAfterStopBytes: number;
  churnLocks: number;
  heapAfterChurnBytes: number;
  cycles: number;
  heapAfterCyclesBytes: number;
  endedListeners: number;
  lostListeners: number;
}

const kib = (bytes: number): string => `${fmt(bytes / 1024, 0)} KiB`;

export const memory: Figure = async (ctx: BenchContext) => {
  const child = new JsonChild(
    'memory.ts',
    [ctx.connect, ctx.members.join(','), `/bench/${ctx.runId}/memory`, ctx.quick ? '1' : '0'],
    ['--expose-gc'],
  );
  let r: MemoryResult;
  try {
    r = await child.result<MemoryResult>(180_000);
  } finally {
    await child.finish();
  }
  const perLock = r.heapPerHeldLocksBytes / r.heldLocks;
  const perSelector = r.heapPerSelectorsBytes / r.selectors;
  return {
    title: 'Memory',
    tables: [
      {
        columns: ['what', 'heap', 'per item', 'after release / stop'],
        rows: [
          [
            `${r.heldLocks} held locks (distinct paths, one coordinator)`,
            kib(r.heapPerHeldLocksBytes),
            `${fmt(perLock / 1024, 2)} KiB`,
            kib(r.heapRetainedAfterReleaseBytes),
          ],
          [
            `${r.selectors} leading selectors (distinct paths)`,
            kib(r.heapPerSelectorsBytes),
            `${fmt(perSelector / 1024, 2)} KiB`,
            kib(r.heapRetainedAfterStopBytes),
          ],
          [`${r.churnLocks} lock objects created and dropped`, kib(r.heapAfterChurnBytes), '', ''],
          [`${r.cycles} acquire+release cycles on one lock`, kib(r.heapAfterCyclesBytes), '', ''],
        ],
      },
    ],
    notes: [
      `heapUsed after forced GC (--expose-gc: ${r.gcExposed ? 'yes' : 'NO, figures are noisy'}), as deltas over a baseline with a started coordinator.`,
      `While holding ${r.heldLocks} locks the server received ${fmt(r.verificationRequestsPerSecond, 0)} requests/s from this client (verified in one batched multi of checks per coordinator every 2 s; see figure 7).`,
      `Leak checks after the cycles: ${r.endedListeners} 'ended' listener(s) on the session, ${r.lostListeners} 'lost' listener(s) on the coordinator.`,
    ],
    data: r,
  };
};
