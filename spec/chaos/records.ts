// The JSON-lines records the chaos run writes, shared by the orchestrator, the workers and the checker.
//
// All instants are epoch ms (sub-ms precision) from ONE clock that every process on the host shares:
// `process.hrtime.bigint()` (the host's monotonic clock, CLOCK_MONOTONIC on Linux) plus one epoch offset
// that the orchestrator sets once and passes to every worker (CHAOS_CLOCK_OFFSET_MS). Not
// `performance.timeOrigin + performance.now()`: Node reads timeOrigin once at process start, and on a
// loaded machine about 1% of processes get it wrong by 10-16 ms for their whole life (issue 10; the
// seed-3 CI failure came from one such worker). Each worker records its timeOrigin error in its
// first line ('hello').
import { performance } from 'node:perf_hooks';
import type { FaultKind, PlannedFault } from './schedule.js';

/** The environment variable carrying the run's epoch offset (ms) from the orchestrator to its workers. */
export const CLOCK_OFFSET_ENV = 'CHAOS_CLOCK_OFFSET_MS';
/**
 * Test knob (the clock regression test): skews this process's `performance.timeOrigin` by this many
 * ms, as a process that read a wrong timeOrigin at start would have it. The chaos clock must not care.
 */
export const TIME_ORIGIN_SKEW_ENV = 'CHAOS_TIME_ORIGIN_SKEW_MS';

const monotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

/**
 * Epoch ms minus monotonic ms, measured now: Date.now() has ms resolution, so it spins (at most ~1 ms)
 * until Date.now() ticks and takes the monotonic time of that edge; the median of 3 edges.
 */
export function measureClockOffset(): number {
  const offsets: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const first = Date.now();
    let wall = first;
    let mono = monotonicMs();
    const giveUp = mono + 5;
    while (wall === first && mono < giveUp) {
      mono = monotonicMs();
      wall = Date.now();
    }
    offsets.push(wall - mono);
  }
  offsets.sort((a, b) => a - b);
  return offsets[1]!;
}

function initialOffset(): number {
  const passed = Number(process.env[CLOCK_OFFSET_ENV]);
  return process.env[CLOCK_OFFSET_ENV] !== undefined && Number.isFinite(passed)
    ? passed
    : measureClockOffset();
}

const clockOffsetMs = initialOffset();

/** The run's epoch offset: what the orchestrator passes to its workers in CLOCK_OFFSET_ENV. */
export const clockOffset = (): number => clockOffsetMs;

/** The shared chaos clock: host monotonic time + the run's epoch offset, in epoch ms. */
export const now = (): number => monotonicMs() + clockOffsetMs;

/** The clock the harness used before issue 10 (per-process timeOrigin): for the regression test only. */
export const timeOriginNow = (): number => performance.timeOrigin + performance.now();

/** Applies TIME_ORIGIN_SKEW_ENV to this process's `performance.timeOrigin` (no-op when unset). */
export function applyTimeOriginSkew(): number {
  const skew = Number(process.env[TIME_ORIGIN_SKEW_ENV] ?? 0);
  if (!Number.isFinite(skew) || skew === 0) return 0;
  const skewed = performance.timeOrigin + skew;
  Object.defineProperty(performance, 'timeOrigin', { value: skewed, configurable: true });
  return skew;
}

/** How far this process's timeOrigin-based time is off, in ms: against Date.now() and the shared clock. */
export function timeOriginError(): { vsDateNowMs: number; vsSharedClockMs: number } {
  const wall = Date.now();
  const origin = timeOriginNow();
  const shared = now();
  // Date.now() truncates to the ms: +0.5 centres it.
  return { vsDateNowMs: origin - (wall + 0.5), vsSharedClockMs: origin - shared };
}

/** Written once by the orchestrator at the start of a run: `<dir>/meta.json`. */
export interface RunMeta {
  seed: string;
  seconds: number;
  processes: number;
  /** Requested session timeout S in ms (workers log the negotiated one). */
  sessionTimeoutMs: number;
  paths: string[];
  selectorsPerPath: number;
  lockLoopsPerPath: number;
  members: { id: number; clientPort: number }[];
  plan: PlannedFault[];
  startedAt: number;
  /** The epoch offset of the run's shared clock (every process uses it). */
  clockOffsetMs?: number;
  /** Busy-looping processes of the load mode (0: none). */
  load?: number;
  /** Worker 0 ran as the ignore-ownership mutant. */
  mutant?: boolean;
  /** Every worker's task group (tasks.ts): its path and task names; absent in runs without one. */
  taskGroup?: { path: string; tasks: string[] };
}

export interface WorkerStats {
  acquireCalls: number;
  acquired: number;
  timeouts: number;
  aborted: number;
  acquireErrors: number;
  releaseErrors: number;
  reentrant: number;
  terms: number;
  leaderThrows: number;
  yields: number;
  selectorErrors: number;
  errors: Record<string, number>;
}

/** One line of a worker's log `<dir>/w<k>-<incarnation>.jsonl`. */
/** Counters all zero: a worker starts from these, the checker sums into them. */
export const emptyStats = (): WorkerStats => ({
  acquireCalls: 0,
  acquired: 0,
  timeouts: 0,
  aborted: 0,
  acquireErrors: 0,
  releaseErrors: 0,
  reentrant: 0,
  terms: 0,
  leaderThrows: 0,
  yields: 0,
  selectorErrors: 0,
  errors: {},
});

export type WorkerRecord =
  | {
      t: 'hello';
      w: number;
      inc: number;
      pid: number;
      at: number;
      /** The epoch offset this worker's clock uses (the orchestrator's). */
      clockOffsetMs: number;
      /** Measured error of this process's `performance.timeOrigin + performance.now()`. */
      timeOriginError: { vsDateNowMs: number; vsSharedClockMs: number };
      /** TIME_ORIGIN_SKEW_ENV as applied (test knob), 0 normally. */
      timeOriginSkewMs: number;
      mutant?: string;
    }
  | {
      t: 'coord';
      ev: 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed' | 'start-failed';
      at: number;
      sessionId?: string | undefined;
      sessionTimeoutMs?: number;
      reason?: string;
    }
  | {
      t: 'open';
      /** Interval number, unique within the file. */
      n: number;
      /** 'task': a term of a task group's task; its path is the task's lock path. */
      kind: 'lock' | 'leader' | 'task';
      path: string;
      /** The contender: worker, incarnation, role. */
      who: string;
      at: number;
      term?: number;
      token?: string;
    }
  | {
      t: 'close';
      n: number;
      /** End of ownership (conservative): the first instant the holder knew it was not owner. */
      at: number;
      /** The last instant a check said "owned" (<= at). */
      lastTrue: number;
      reason: string;
      /** Largest gap between two ownership samples (event-loop stalls show here). */
      maxGap: number;
      samples: number;
      /** Of those, the checks that said "owned" (0: the grant was never confirmed, e.g. stale after a pause). */
      ownedSamples?: number;
    }
  | { t: 'stats'; at: number; stats: WorkerStats }
  | { t: 'bye'; at: number };

export interface OrphanNode {
  path: string;
  node: string;
  /** ephemeralOwner as 16 hex digits ('0000000000000000': persistent). */
  owner: string;
  data: string;
  /** Owned by the live session of a worker (a leak), or by some other session. */
  liveWorker?: number | undefined;
}

export interface MemberWatches {
  member: number;
  watchCount: number | undefined;
  /** Sessions listed by `wchc`. */
  wchcSessions: number | undefined;
  wchcPaths: number | undefined;
  error?: string;
}

/** One line of the orchestrator's `<dir>/events.jsonl`. */
export type RunEvent =
  | {
      t: 'fault';
      phase: 'start' | 'end' | 'skip' | 'error';
      seq: number;
      kind: FaultKind;
      at: number;
      plannedAt: number;
      worker?: number | undefined;
      member?: number | undefined;
      proxy?: number | undefined;
      durationMs: number;
      error?: string;
    }
  | { t: 'spawn'; w: number; inc: number; pid: number; at: number }
  | { t: 'ready'; w: number; inc: number; at: number; sessionId: string }
  | { t: 'kill'; w: number; inc: number; at: number }
  | {
      t: 'exit';
      w: number;
      inc: number;
      at: number;
      code: number | null;
      signal: string | null;
      expected: boolean;
      stderrTail?: string;
    }
  | {
      t: 'phase';
      name: 'faults-start' | 'faults-end' | 'quiet' | 'quiesced' | 'closed' | 'end';
      at: number;
    }
  | {
      t: 'orphans';
      stage: 'live' | 'after-close';
      nodes: OrphanNode[];
      at: number;
      /** Sessions of live workers at the time of the listing. */
      sessions?: Record<string, string>;
    }
  | { t: 'watches'; members: MemberWatches[]; at: number }
  | { t: 'note'; at: number; text: string };

/** Parses a JSON-lines file's text; a torn last line (killed writer) is skipped. */
export function parseJsonLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a line cut by kill -9
    }
  }
  return out;
}
