import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds; never jumps with the wall clock. All lease maths uses this. */
export function monotonicNow(): number {
  return performance.now();
}

/** Converts a monotonic instant to epoch milliseconds (for values handed to users). */
export function monotonicToEpoch(monotonic: number): number {
  return Math.floor(Date.now() + (monotonic - performance.now()));
}
