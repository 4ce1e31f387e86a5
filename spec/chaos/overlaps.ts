// Ownership intervals as the checker sees them, and the overlap arithmetic shared by the lock paths
// (check.ts), the tasks (task-check.ts) and the recipes (recipe-check.ts).
//
// Intervals are conservative: a lock interval ends at the first observation of "not owned" (or release
// start), a leader interval at the first of signal abort / callback return; an interval of a process
// killed with -9 (or crashed) ends when the orchestrator saw it die. An overlap is "hard" if it remains
// when each interval instead ends at its last positive ownership check (what the process could act on);
// otherwise "soft" (it lies in a gap between two samples, e.g. an event-loop stall).
import type { IntervalKind } from './records.js';

export interface Interval {
  path: string;
  kind: IntervalKind;
  who: string;
  w: number;
  inc: number;
  n: number;
  start: number;
  /** Conservative end. */
  end: number;
  /** Last positive ownership check (killed/crashed: the death time). */
  lastTrue: number;
  reason: string;
  maxGap: number;
  term?: number | undefined;
  token?: string | undefined;
  /** A read taken while the same read-write lock held the write lock. */
  downgrade?: boolean | undefined;
  /** False when no check after the open said "owned" (a grant that was stale when it arrived). */
  confirmed?: boolean | undefined;
}

export interface Overlap {
  path: string;
  first: Interval;
  second: Interval;
  overlapMs: number;
  hard: boolean;
}

/** Every interval of one path in start order, and each overlapping pair. */
export function findOverlaps(path: string, intervals: Interval[]): Overlap[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start || a.end - b.end);
  const overlaps: Overlap[] = [];
  let active: Interval[] = [];
  for (const x of sorted) {
    active = active.filter((a) => a.end > x.start);
    for (const a of active) {
      const overlapMs = Math.min(a.end, x.end) - x.start;
      if (overlapMs <= 0) continue;
      const hardEnd = Math.min(Math.max(a.start, a.lastTrue), Math.max(x.start, x.lastTrue));
      overlaps.push({ path, first: a, second: x, overlapMs, hard: hardEnd > x.start });
    }
    active.push(x);
  }
  return overlaps;
}

/** Longest stretch of [from, to] covered by no interval. */
export function longestUnowned(intervals: Interval[], from: number, to: number): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let covered = from;
  let longest = 0;
  for (const i of sorted) {
    if (i.start > to) break;
    if (i.start > covered) longest = Math.max(longest, i.start - covered);
    covered = Math.max(covered, i.end);
  }
  if (to > covered) longest = Math.max(longest, to - covered);
  return longest;
}

/** The end an interval has when it ends at its last positive ownership check (what its holder could act on). */
export const hardEnd = (i: Interval): number => Math.max(i.start, i.lastTrue);
