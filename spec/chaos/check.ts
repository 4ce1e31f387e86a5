// The chaos checker: reads a run directory (meta.json, events.jsonl, w<k>-<inc>.jsonl, txns.jsonl) and
// checks the safety property with two independent oracles:
// - intervals: per lock path, and per task of the task group (task-check.ts), no two ownership
//   intervals overlap; on the read-write lock's path no writer beside another owner, on the
//   semaphore's no more than maxLeases leases (recipe-check.ts); timestamps from the run's one
//   shared clock (records.ts);
// - tokens (tokens.ts): per path, fencing tokens increase in grant order, and each is the czxid of the
//   owner's own node as ZooKeeper's transaction log has it.
// Process pauses (pauses.ts): an owner's first check after a pause of at least S must say "not owned".
//   node --import tsx spec/chaos/check.ts <dir> [--json out.json]
// Exit code 0 when the run is clean, 1 otherwise.
//
// Intervals are conservative; an overlap is "hard" if it remains when each interval ends at its last
// positive ownership check instead (overlaps.ts). The worker logs are read in worker-logs.ts, silent
// faults checked in detection.ts, the task group in task-check.ts, the read-write lock and the
// semaphore (issue 14) in recipe-check.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  parseJsonLines,
  type MemberWatches,
  type OrphanNode,
  type RunEvent,
  type RunMeta,
  type WorkerStats,
} from './records.js';
import { checkDetection, type DetectionReport } from './detection.js';
import { applyPauses, type PauseReport, type PauseWindow } from './pauses.js';
import { formatReport } from './report.js';
import { countByKind, FAULT_KINDS, type FaultKind } from './schedule.js';
import { findOverlaps, longestUnowned, type Interval, type Overlap } from './overlaps.js';
import { checkRecipes, RECIPE_KINDS, type RecipeReport } from './recipe-check.js';
import { checkTasks, type TaskReport } from './task-check.js';
import { readWorkerLogs, type ClockSummary } from './worker-logs.js';
import { checkTokens, type TokenedInterval, type TokenReport } from './tokens.js';
import type { TxnRecord } from './txnlog.js';

export { formatReport } from './report.js';
export { findOverlaps, longestUnowned, type Interval, type Overlap } from './overlaps.js';

export interface PathSummary {
  path: string;
  intervals: number;
  lockIntervals: number;
  terms: number;
  overlaps: number;
  hardOverlaps: number;
  ownedMs: number;
  /** Owned time / span of the run (0..1). */
  ownedFraction: number;
  longestMs: number;
  /** Longest time in the fault phase with no owner at all (a wedged lock shows here). */
  longestUnownedMs: number;
}

export interface ChaosReport {
  dir: string;
  seed: string;
  seconds: number;
  processes: number;
  sessionTimeoutMs: number;
  paths: PathSummary[];
  /** Overlaps count every path: the lock paths and the task group's tasks. */
  totals: {
    intervals: number;
    lockIntervals: number;
    terms: number;
    taskTerms: number;
    /** Read-write lock holds (either side) and semaphore leases. */
    recipeHolds: number;
    overlaps: number;
    hardOverlaps: number;
  };
  overlaps: Overlap[];
  /** The workers' task group: per task, its terms and overlapping owners. */
  tasks: TaskReport;
  /** The read-write lock's and the semaphore's holds; read-write overlaps are also in `overlaps`. */
  recipes: RecipeReport;
  faults: {
    planned: number;
    executed: Record<FaultKind, number>;
    kinds: number;
    skipped: number;
    errors: { seq: number; kind: FaultKind; error: string }[];
  };
  detection: DetectionReport;
  /** The second oracle: fencing tokens against ZooKeeper's transaction log. */
  tokens: TokenReport;
  pauses: PauseReport;
  /** Each worker's measured timeOrigin error (its 'hello'): what the shared clock makes harmless. */
  clocks: ClockSummary;
  load: number;
  mutant: boolean;
  orphans: { live: OrphanNode[]; afterClose: OrphanNode[]; total: number; checked: boolean };
  watches: MemberWatches[];
  workers: {
    incarnations: number;
    kills: number;
    crashes: { w: number; inc: number; code: number | null; signal: string | null; stderrTail?: string }[];
    unclosed: number;
    stats: WorkerStats;
  };
  problems: string[];
  /** Not safety violations, but worth a look: e.g. a lock path nobody could take for a long time. */
  warnings: string[];
  ok: boolean;
}

/**
 * What the token oracle sees of an interval: writers as lock holders; readers and leases are shared
 * holds (no grant order, never "the first"), a lease's node is under `<semaphore>/leases`.
 */
function tokenView(i: Interval): TokenedInterval {
  if (i.kind === 'read') return { ...i, shared: true };
  if (i.kind === 'lease') return { ...i, path: `${i.path}/leases`, shared: true };
  return i;
}

export function checkRun(dir: string): ChaosReport {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as RunMeta;
  const events = existsSync(join(dir, 'events.jsonl'))
    ? parseJsonLines<RunEvent>(readFileSync(join(dir, 'events.jsonl'), 'utf8'))
    : [];
  const problems: string[] = [];
  const deaths = new Map<string, { at: number; reason: string }>();
  const crashes: ChaosReport['workers']['crashes'] = [];
  let kills = 0;
  for (const e of events) {
    if (e.t === 'kill') {
      kills += 1;
      deaths.set(`${e.w}-${e.inc}`, { at: e.at, reason: 'killed' });
    } else if (e.t === 'exit' && !e.expected) {
      crashes.push({ w: e.w, inc: e.inc, code: e.code, signal: e.signal, stderrTail: e.stderrTail });
      if (!deaths.has(`${e.w}-${e.inc}`)) deaths.set(`${e.w}-${e.inc}`, { at: e.at, reason: 'crashed' });
    }
  }
  const lastEventAt = events.reduce((max, e) => Math.max(max, e.at), meta.startedAt);

  // ---- intervals from the worker logs
  const { intervals, stats, sessionTimeouts, sessions, clocks, incarnations, unclosed } = readWorkerLogs(
    dir,
    deaths,
    lastEventAt,
  );
  let firstStart = Number.POSITIVE_INFINITY;
  let lastEnd = Number.NEGATIVE_INFINITY;
  // ---- pauses: a paused owner that resumed to "not owned" stopped acting at the pause start
  const pauseWindows: PauseWindow[] = [];
  const faultEvents = events.filter((e): e is Extract<RunEvent, { t: 'fault' }> => e.t === 'fault');
  for (const e of faultEvents) {
    if (e.kind !== 'pause' || e.phase !== 'start' || e.worker === undefined) continue;
    const end = faultEvents.find((x) => x.seq === e.seq && x.phase === 'end');
    if (end) pauseWindows.push({ seq: e.seq, worker: e.worker, start: e.at, end: end.at });
  }
  const pauses = applyPauses(intervals, pauseWindows, (w) => sessionTimeouts.get(w) ?? meta.sessionTimeoutMs);

  // ---- tokens against ZooKeeper's transaction log
  const txnFile = join(dir, 'txns.jsonl');
  const txns = existsSync(txnFile) ? parseJsonLines<TxnRecord>(readFileSync(txnFile, 'utf8')) : undefined;
  const tokens = checkTokens(intervals.map(tokenView), txns, sessions);

  for (const i of intervals) {
    firstStart = Math.min(firstStart, i.start);
    lastEnd = Math.max(lastEnd, i.end);
  }
  const span = Math.max(1, lastEnd - firstStart);
  const phaseAt = (name: string): number | undefined =>
    events.find((e) => e.t === 'phase' && e.name === name)?.at;
  const phaseStart = phaseAt('faults-start') ?? firstStart;
  const phaseEnd = phaseAt('faults-end') ?? lastEnd;

  // ---- per path
  const byPath = new Map<string, Interval[]>();
  for (const p of meta.paths) byPath.set(p, []);
  for (const i of intervals) {
    if (i.kind === 'task' || RECIPE_KINDS.has(i.kind)) continue; // per task and per recipe below
    const list = byPath.get(i.path) ?? [];
    list.push(i);
    byPath.set(i.path, list);
  }
  const overlaps: Overlap[] = [];
  const paths: PathSummary[] = [];
  for (const [path, list] of byPath) {
    const found = findOverlaps(path, list);
    overlaps.push(...found);
    const ownedMs = list.reduce((sum, i) => sum + (i.end - i.start), 0);
    paths.push({
      path,
      intervals: list.length,
      lockIntervals: list.filter((i) => i.kind === 'lock').length,
      terms: list.filter((i) => i.kind === 'leader').length,
      overlaps: found.length,
      hardOverlaps: found.filter((o) => o.hard).length,
      ownedMs,
      ownedFraction: ownedMs / span,
      longestMs: list.reduce((max, i) => Math.max(max, i.end - i.start), 0),
      longestUnownedMs: longestUnowned(list, phaseStart, phaseEnd),
    });
  }

  const taskCheck = checkTasks(meta.taskGroup, intervals, phaseStart, phaseEnd);
  overlaps.push(...taskCheck.overlaps);
  const recipes = checkRecipes(meta, intervals);
  overlaps.push(...recipes.overlaps);

  // ---- faults
  const started = faultEvents;
  const starts = started.filter((e) => e.phase === 'start');
  const ends = new Map(started.filter((e) => e.phase === 'end').map((e) => [e.seq, e]));
  const executed = countByKind(starts);
  const faultErrors = started
    .filter((e) => e.phase === 'error')
    .map((e) => ({ seq: e.seq, kind: e.kind, error: e.error ?? '' }));

  // ---- detection: silent faults of all of a worker's proxies
  const detection = checkDetection(
    starts,
    ends,
    intervals,
    (w) => sessionTimeouts.get(w) ?? meta.sessionTimeoutMs,
  );

  // ---- orphans and watches
  const orphanEvents = events.filter((e): e is Extract<RunEvent, { t: 'orphans' }> => e.t === 'orphans');
  const live = orphanEvents.filter((e) => e.stage === 'live').pop()?.nodes ?? [];
  const afterCloseEvent = orphanEvents.filter((e) => e.stage === 'after-close').pop();
  const afterClose = afterCloseEvent?.nodes ?? [];
  const watches =
    events.filter((e): e is Extract<RunEvent, { t: 'watches' }> => e.t === 'watches').pop()?.members ?? [];

  // ---- verdict
  const totals = {
    intervals: intervals.length,
    lockIntervals: intervals.filter((i) => i.kind === 'lock').length,
    terms: intervals.filter((i) => i.kind === 'leader').length,
    taskTerms: taskCheck.report.terms,
    recipeHolds: intervals.filter((i) => RECIPE_KINDS.has(i.kind)).length,
    overlaps: overlaps.length,
    hardOverlaps: overlaps.filter((o) => o.hard).length,
  };
  if (totals.overlaps > 0) problems.push(`${totals.overlaps} overlapping ownership intervals`);
  if (recipes.report.semaphore?.excess)
    problems.push(`${recipes.report.semaphore.excess} semaphore leases beyond maxLeases`);
  if (meta.readWriteLock && !recipes.report.readWrite?.writes) problems.push('no write lock was ever held');
  if (meta.semaphore && !recipes.report.semaphore?.leases) problems.push('no semaphore lease was ever held');
  if (totals.lockIntervals === 0) problems.push('no lock was ever held');
  if (totals.terms === 0) problems.push('no leader term ever ran');
  if (meta.taskGroup && totals.taskTerms === 0) problems.push('no task term ever ran');
  if (live.length + afterClose.length > 0)
    problems.push(`${live.length + afterClose.length} orphan lock nodes`);
  if (!afterCloseEvent) problems.push('the run did not reach the orphan check after shutdown');
  if (crashes.length > 0) problems.push(`${crashes.length} worker crashes`);
  if (unclosed > 0) problems.push(`${unclosed} intervals never closed by a live worker`);
  if (detection.survivedLongFaults.length > 0)
    problems.push(`${detection.survivedLongFaults.length} intervals outlived a silent fault longer than S`);
  if (faultErrors.length > 0) problems.push(`${faultErrors.length} faults failed to run`);
  if (tokens.inversions.length > 0) problems.push(`${tokens.inversions.length} fencing-token inversions`);
  if (tokens.mismatches.length > 0) problems.push(`${tokens.mismatches.length} fencing-token mismatches`);
  if (pauses.violations.length > 0)
    problems.push(`${pauses.violations.length} owners still "owned" after a pause of at least S`);
  const warnings: string[] = [];
  const sOfRun = [...sessionTimeouts.values()][0] ?? meta.sessionTimeoutMs;
  if (!tokens.checked)
    warnings.push('no transaction log (txns.jsonl): fencing tokens checked for order only');
  for (const p of paths) {
    if (p.longestUnownedMs > 10 * sOfRun)
      warnings.push(
        `${p.path} had no owner for ${(p.longestUnownedMs / 1000).toFixed(1)} s (> 10 S): a wedged lock? see the workers' logs`,
      );
  }
  if (taskCheck.report.maxUnownedMs > 10 * sOfRun)
    warnings.push(
      `a task of ${meta.taskGroup?.path} had no owner for ${(taskCheck.report.maxUnownedMs / 1000).toFixed(1)} s (> 10 S): see the workers' logs`,
    );

  return {
    dir,
    seed: meta.seed,
    seconds: meta.seconds,
    processes: meta.processes,
    sessionTimeoutMs: sOfRun,
    paths,
    totals,
    overlaps,
    tasks: taskCheck.report,
    recipes: recipes.report,
    faults: {
      planned: meta.plan.length,
      executed,
      kinds: FAULT_KINDS.filter((k) => executed[k] > 0).length,
      skipped: started.filter((e) => e.phase === 'skip').length,
      errors: faultErrors,
    },
    detection,
    orphans: {
      live,
      afterClose,
      total: live.length + afterClose.length,
      checked: afterCloseEvent !== undefined,
    },
    tokens,
    pauses,
    clocks,
    load: meta.load ?? 0,
    mutant: meta.mutant ?? false,
    watches,
    workers: { incarnations, kills, crashes, unclosed, stats },
    problems,
    warnings,
    ok: problems.length === 0,
  };
}

export function writeReportJson(report: ChaosReport, file: string): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { json: { type: 'string' } },
  });
  const dir = positionals[0];
  if (!dir) {
    process.stderr.write('usage: node --import tsx spec/chaos/check.ts <run dir> [--json out.json]\n');
    process.exit(2);
  }
  const report = checkRun(dir);
  process.stdout.write(`${formatReport(report)}\n`);
  writeReportJson(report, values.json ?? join(dir, 'report.json'));
  process.exit(report.ok ? 0 : 1);
}
