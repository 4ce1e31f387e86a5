// The JSON-lines records the chaos run writes, shared by the orchestrator, the workers and the checker.
// All instants are `performance.timeOrigin + performance.now()` (epoch ms, sub-ms precision), which
// compare across processes on one machine.
import { performance } from 'node:perf_hooks';
import type { FaultKind, PlannedFault } from './schedule.js';

export const now = (): number => performance.timeOrigin + performance.now();

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
  | { t: 'hello'; w: number; inc: number; pid: number; at: number }
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
      kind: 'lock' | 'leader';
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
