// The recipe part of the chaos checker (issue 14), over the intervals recipes.ts logs:
// - read-write lock (kinds 'read' and 'write' on its path): two writers at once, or a writer beside a
//   reader, is a violation, counted per overlapping pair as lock overlaps are (HARD when it remains with
//   each interval ended at its last "owned" check). Holds of one ReadWriteLock instance (the same
//   `who`) are one owner: a downgrading writer's own read beside its write is no violation.
// - semaphore (kind 'lease' on its path): a lease granted while maxLeases others are out is an
//   excess (HARD when the others and it were all confirmed owned at that instant).
// Both fail the run. Also reported: the peak of concurrent readers (readers must share) and of leases.
import { findOverlaps, hardEnd, type Interval, type Overlap } from './overlaps.js';
import type { RunMeta } from './records.js';

export interface ReadWriteSummary {
  path: string;
  reads: number;
  writes: number;
  /** Reads taken while the same instance held the write lock. */
  downgrades: number;
  /** Distinct ReadWriteLock instances that held either side. */
  holders: number;
  /** Overlapping pairs of two writers. */
  writeWrite: number;
  writeWriteHard: number;
  /** Overlapping pairs of a writer and another owner's reader. */
  writeRead: number;
  writeReadHard: number;
  /** Most read holds at one instant. */
  peakReaders: number;
}

export interface ExcessLease {
  /** The lease granted while `others` were out. */
  lease: Interval;
  /** The leases out at its grant (`<who> #<n>`). */
  others: string[];
  hard: boolean;
}

export interface SemaphoreSummary {
  path: string;
  maxLeases: number;
  leases: number;
  /** Distinct semaphore instances (workers) that held a lease. */
  holders: number;
  /** Leases granted while maxLeases or more were out. */
  excess: number;
  excessHard: number;
  /** Most leases out at one instant. */
  peakLeases: number;
  /** The first excesses, for the report. */
  examples: ExcessLease[];
}

export interface RecipeReport {
  readWrite: ReadWriteSummary | undefined;
  semaphore: SemaphoreSummary | undefined;
  /** Read-write overlaps plus semaphore excesses. */
  violations: number;
  hardViolations: number;
}

export const RECIPE_KINDS: ReadonlySet<Interval['kind']> = new Set(['read', 'write', 'lease']);

/** Most intervals open at one instant (an interval ending as another starts does not count). */
function peak(intervals: readonly Interval[]): number {
  const edges: [number, number][] = [];
  for (const i of intervals) edges.push([i.start, 1], [i.end, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, delta] of edges) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

function checkReadWrite(
  path: string,
  intervals: readonly Interval[],
): { summary: ReadWriteSummary; overlaps: Overlap[] } {
  const list = intervals.filter((i) => i.path === path && (i.kind === 'read' || i.kind === 'write'));
  const overlaps = findOverlaps(path, list).filter(
    (o) => o.first.who !== o.second.who && (o.first.kind === 'write' || o.second.kind === 'write'),
  );
  const bothWrite = overlaps.filter((o) => o.first.kind === 'write' && o.second.kind === 'write');
  const mixed = overlaps.filter((o) => o.first.kind !== o.second.kind);
  const reads = list.filter((i) => i.kind === 'read');
  return {
    summary: {
      path,
      reads: reads.length,
      writes: list.length - reads.length,
      downgrades: reads.filter((i) => i.downgrade).length,
      holders: new Set(list.map((i) => i.who)).size,
      writeWrite: bothWrite.length,
      writeWriteHard: bothWrite.filter((o) => o.hard).length,
      writeRead: mixed.length,
      writeReadHard: mixed.filter((o) => o.hard).length,
      peakReaders: peak(reads),
    },
    overlaps,
  };
}

function checkSemaphore(path: string, maxLeases: number, intervals: readonly Interval[]): SemaphoreSummary {
  const list = intervals
    .filter((i) => i.path === path && i.kind === 'lease')
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const examples: ExcessLease[] = [];
  let excess = 0;
  let excessHard = 0;
  let active: Interval[] = [];
  for (const x of list) {
    active = active.filter((a) => a.end > x.start);
    if (active.length >= maxLeases) {
      // Hard: at x's start, x and at least maxLeases others were confirmed owned.
      const hard = hardEnd(x) > x.start && active.filter((a) => hardEnd(a) > x.start).length >= maxLeases;
      excess += 1;
      if (hard) excessHard += 1;
      if (examples.length < 20)
        examples.push({ lease: x, others: active.map((a) => `${a.who} #${a.n}`), hard });
    }
    active.push(x);
  }
  return {
    path,
    maxLeases,
    leases: list.length,
    holders: new Set(list.map((i) => `${i.w}.${i.inc}`)).size,
    excess,
    excessHard,
    peakLeases: peak(list),
    examples,
  };
}

/** Checks the recipe intervals; returns the report and the read-write overlaps (to add to the run's). */
export function checkRecipes(
  meta: Pick<RunMeta, 'readWriteLock' | 'semaphore'>,
  intervals: readonly Interval[],
): { report: RecipeReport; overlaps: Overlap[] } {
  const rw = meta.readWriteLock ? checkReadWrite(meta.readWriteLock.path, intervals) : undefined;
  const semaphore = meta.semaphore
    ? checkSemaphore(meta.semaphore.path, meta.semaphore.maxLeases, intervals)
    : undefined;
  const overlaps = rw?.overlaps ?? [];
  return {
    report: {
      readWrite: rw?.summary,
      semaphore,
      violations: overlaps.length + (semaphore?.excess ?? 0),
      hardViolations: overlaps.filter((o) => o.hard).length + (semaphore?.excessHard ?? 0),
    },
    overlaps,
  };
}

/** The report's recipe lines (report.ts). */
export function formatRecipes(report: RecipeReport, describe: (i: Interval) => string): string[] {
  const lines: string[] = [];
  const rw = report.readWrite;
  if (rw)
    lines.push(
      `read-write lock ${rw.path}: ${rw.writes} write holds, ${rw.reads} read holds (${rw.downgrades} after a downgrade) by ${rw.holders} instances; two writers at once ${rw.writeWrite} (${rw.writeWriteHard} hard), writer beside another's reader ${rw.writeRead} (${rw.writeReadHard} hard); peak readers ${rw.peakReaders}`,
    );
  const sem = report.semaphore;
  if (sem) {
    lines.push(
      `semaphore ${sem.path} (maxLeases ${sem.maxLeases}): ${sem.leases} leases by ${sem.holders} workers; granted beyond maxLeases ${sem.excess} (${sem.excessHard} hard); peak leases ${sem.peakLeases}`,
    );
    for (const x of sem.examples.slice(0, 10))
      lines.push(
        `  EXCESS ${x.hard ? 'HARD' : 'soft'}: ${describe(x.lease)}, while out: ${x.others.join(', ')}`,
      );
  }
  return lines;
}
