// The chaos checker: reads a run directory (meta.json, events.jsonl, w<k>-<inc>.jsonl, txns.jsonl) and
// checks the safety property with two independent oracles:
// - intervals: per lock path, and per task of the task group (task-check.ts), no two ownership
//   intervals overlap (timestamps from the run's one shared clock, records.ts);
// - tokens (tokens.ts): per path, fencing tokens increase in grant order, and each is the czxid of the
//   owner's own node as ZooKeeper's transaction log has it.
// Process pauses (pauses.ts): an owner's first check after a pause of at least S must say "not owned".
//   node --import tsx spec/chaos/check.ts <dir> [--json out.json]
// Exit code 0 when the run is clean, 1 otherwise.
//
// Intervals are conservative: a lock interval ends at the first observation of "not owned" (or release
// start), a leader interval at the first of signal abort / callback return; an interval of a process
// killed with -9 (or crashed) ends when the orchestrator saw it die. An overlap is "hard" if it remains
// when each interval instead ends at its last positive ownership check (what the process could act on);
// otherwise "soft" (it lies in a gap between two samples, e.g. an event-loop stall).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  emptyStats,
  parseJsonLines,
  type MemberWatches,
  type OrphanNode,
  type RunEvent,
  type RunMeta,
  type WorkerRecord,
  type WorkerStats,
} from './records.js';
import { applyPauses, type PauseReport, type PauseWindow } from './pauses.js';
import { formatReport } from './report.js';
import { countByKind, FAULT_KINDS, type FaultKind } from './schedule.js';
import { checkTasks, type TaskReport } from './task-check.js';
import { checkTokens, type TokenReport } from './tokens.js';
import type { TxnRecord } from './txnlog.js';

export { formatReport } from './report.js';

export interface Interval {
  path: string;
  kind: 'lock' | 'leader' | 'task';
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
  /** False when no check after the open said "owned" (a grant that was stale when it arrived). */
  confirmed?: boolean | undefined;
}

type OpenRecord = Extract<WorkerRecord, { t: 'open' }>;

/** The interval an 'open' record began, ended as given. */
function closeInterval(
  o: OpenRecord,
  w: number,
  inc: number,
  closing: Pick<Interval, 'end' | 'lastTrue' | 'reason' | 'maxGap'> & { confirmed?: boolean | undefined },
): Interval {
  return {
    path: o.path,
    kind: o.kind,
    who: o.who,
    w,
    inc,
    n: o.n,
    start: o.at,
    ...closing,
    term: o.term,
    token: o.token,
  };
}

export interface Overlap {
  path: string;
  first: Interval;
  second: Interval;
  overlapMs: number;
  hard: boolean;
}

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

export interface DetectionSample {
  faultSeq: number;
  kind: FaultKind;
  worker: number;
  faultMs: number;
  interval: string;
  intervalKind: Interval['kind'];
  detectionMs: number;
  fraction: number;
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
    overlaps: number;
    hardOverlaps: number;
  };
  overlaps: Overlap[];
  /** The workers' task group: per task, its terms and overlapping owners. */
  tasks: TaskReport;
  faults: {
    planned: number;
    executed: Record<FaultKind, number>;
    kinds: number;
    skipped: number;
    errors: { seq: number; kind: FaultKind; error: string }[];
  };
  detection: {
    /** Silent faults of all of a worker's proxies (freeze-short, freeze-long, blackhole) with an interval open at their start. */
    faults: number;
    maxFraction: number;
    maxMs: number;
    maxFractionLock: number;
    maxFractionLeader: number;
    maxFractionTask: number;
    worst: DetectionSample | undefined;
    /** Intervals that outlived a silent fault longer than S (the lease cannot have held): must be 0. */
    survivedLongFaults: DetectionSample[];
  };
  /** The second oracle: fencing tokens against ZooKeeper's transaction log. */
  tokens: TokenReport;
  pauses: PauseReport;
  /** Each worker's measured timeOrigin error (its 'hello'): what the shared clock makes harmless. */
  clocks: { workers: number; maxTimeOriginErrorMs: number; worst: string | undefined; over1ms: number };
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

function addStats(into: WorkerStats, from: WorkerStats): void {
  for (const key of Object.keys(into) as (keyof WorkerStats)[]) {
    if (key === 'errors') continue;
    into[key] += from[key];
  }
  for (const [key, count] of Object.entries(from.errors)) into.errors[key] = (into.errors[key] ?? 0) + count;
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

const WORKER_LOG = /^w(\d+)-(\d+)\.jsonl$/;

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
  const intervals: Interval[] = [];
  const stats = emptyStats();
  const sessionTimeouts = new Map<number, number>();
  const sessions = new Map<string, Set<string>>();
  const clocks: ChaosReport['clocks'] = { workers: 0, maxTimeOriginErrorMs: 0, worst: undefined, over1ms: 0 };
  let incarnations = 0;
  let unclosed = 0;
  let firstStart = Number.POSITIVE_INFINITY;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const file of readdirSync(dir).sort()) {
    const match = WORKER_LOG.exec(file);
    if (!match) continue;
    incarnations += 1;
    const w = Number(match[1]);
    const inc = Number(match[2]);
    const records = parseJsonLines<WorkerRecord>(readFileSync(join(dir, file), 'utf8'));
    const open = new Map<number, OpenRecord>();
    let lastStats: WorkerStats | undefined;
    for (const r of records) {
      if (r.t === 'open') open.set(r.n, r);
      else if (r.t === 'close') {
        const o = open.get(r.n);
        if (!o) continue;
        open.delete(r.n);
        intervals.push(
          closeInterval(o, w, inc, {
            end: r.at,
            lastTrue: r.lastTrue,
            reason: r.reason,
            maxGap: r.maxGap,
            // (logs from before ownedSamples: a positive check moved lastTrue past the open)
            confirmed: r.ownedSamples === undefined ? r.lastTrue > o.at : r.ownedSamples > 0,
          }),
        );
      } else if (r.t === 'stats') lastStats = r.stats;
      else if (r.t === 'coord') {
        if (r.ev === 'connected' && r.sessionTimeoutMs) sessionTimeouts.set(w, r.sessionTimeoutMs);
        if (r.sessionId)
          sessions.set(`${w}-${inc}`, (sessions.get(`${w}-${inc}`) ?? new Set()).add(r.sessionId));
      } else if (r.t === 'hello' && r.timeOriginError) {
        const error = Math.abs(r.timeOriginError.vsSharedClockMs);
        clocks.workers += 1;
        if (error > 1) clocks.over1ms += 1;
        if (error >= clocks.maxTimeOriginErrorMs) {
          clocks.maxTimeOriginErrorMs = error;
          clocks.worst = `w${w}.${inc}`;
        }
      }
    }
    if (lastStats) addStats(stats, lastStats);
    const death = deaths.get(`${w}-${inc}`);
    for (const o of open.values()) {
      const end = death?.at ?? lastEventAt;
      if (!death) unclosed += 1;
      const at = Math.max(end, o.at);
      intervals.push(
        closeInterval(o, w, inc, { end: at, lastTrue: at, reason: death?.reason ?? 'unclosed', maxGap: 0 }),
      );
    }
  }
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
  const tokens = checkTokens(intervals, txns, sessions);

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
    if (i.kind === 'task') continue; // per task below
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

  // ---- faults
  const started = faultEvents;
  const starts = started.filter((e) => e.phase === 'start');
  const ends = new Map(started.filter((e) => e.phase === 'end').map((e) => [e.seq, e]));
  const executed = countByKind(starts);
  const faultErrors = started
    .filter((e) => e.phase === 'error')
    .map((e) => ({ seq: e.seq, kind: e.kind, error: e.error ?? '' }));

  // ---- detection: silent faults of all of a worker's proxies
  const samples: DetectionSample[] = [];
  const survived: DetectionSample[] = [];
  let detectionFaults = 0;
  for (const f of starts) {
    if (f.worker === undefined) continue;
    if (f.kind !== 'freeze-short' && f.kind !== 'freeze-long' && f.kind !== 'blackhole') continue;
    const end = ends.get(f.seq);
    if (!end) continue;
    const s = sessionTimeouts.get(f.worker) ?? meta.sessionTimeoutMs;
    const faultMs = end.at - f.at;
    const openAtStart = intervals.filter((i) => i.w === f.worker && i.start < f.at && i.end > f.at);
    if (openAtStart.length > 0) detectionFaults += 1;
    for (const i of openAtStart) {
      const sample: DetectionSample = {
        faultSeq: f.seq,
        kind: f.kind,
        worker: f.worker,
        faultMs: Math.round(faultMs),
        interval: `${i.who} #${i.n} ${i.path}`,
        intervalKind: i.kind,
        detectionMs: Math.round(i.end - f.at),
        fraction: (i.end - f.at) / s,
      };
      if (i.end <= end.at) samples.push(sample);
      else if (faultMs > s) survived.push(sample);
    }
  }
  const maxBy = (list: DetectionSample[]): DetectionSample | undefined =>
    list.reduce<DetectionSample | undefined>((m, x) => (!m || x.fraction > m.fraction ? x : m), undefined);
  const worst = maxBy(samples);

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
    overlaps: overlaps.length,
    hardOverlaps: overlaps.filter((o) => o.hard).length,
  };
  if (totals.overlaps > 0) problems.push(`${totals.overlaps} overlapping ownership intervals`);
  if (totals.lockIntervals === 0) problems.push('no lock was ever held');
  if (totals.terms === 0) problems.push('no leader term ever ran');
  if (meta.taskGroup && totals.taskTerms === 0) problems.push('no task term ever ran');
  if (live.length + afterClose.length > 0)
    problems.push(`${live.length + afterClose.length} orphan lock nodes`);
  if (!afterCloseEvent) problems.push('the run did not reach the orphan check after shutdown');
  if (crashes.length > 0) problems.push(`${crashes.length} worker crashes`);
  if (unclosed > 0) problems.push(`${unclosed} intervals never closed by a live worker`);
  if (survived.length > 0)
    problems.push(`${survived.length} intervals outlived a silent fault longer than S`);
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
    faults: {
      planned: meta.plan.length,
      executed,
      kinds: FAULT_KINDS.filter((k) => executed[k] > 0).length,
      skipped: started.filter((e) => e.phase === 'skip').length,
      errors: faultErrors,
    },
    detection: {
      faults: detectionFaults,
      maxFraction: worst?.fraction ?? 0,
      maxMs: worst?.detectionMs ?? 0,
      maxFractionLock: maxBy(samples.filter((x) => x.intervalKind === 'lock'))?.fraction ?? 0,
      maxFractionLeader: maxBy(samples.filter((x) => x.intervalKind === 'leader'))?.fraction ?? 0,
      maxFractionTask: maxBy(samples.filter((x) => x.intervalKind === 'task'))?.fraction ?? 0,
      worst,
      survivedLongFaults: survived,
    },
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
