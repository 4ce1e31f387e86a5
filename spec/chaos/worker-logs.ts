// Reading a chaos run's worker logs (w<k>-<inc>.jsonl; moved out of check.ts): the ownership intervals
// ('open' + 'close' records; an interval left open by a killed or crashed worker ends when the
// orchestrator saw it die, one left open by a live worker is "unclosed"), the workers' last stats,
// negotiated session timeouts, session ids and measured timeOrigin errors.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Interval } from './overlaps.js';
import { emptyStats, parseJsonLines, type WorkerRecord, type WorkerStats } from './records.js';

export interface ClockSummary {
  workers: number;
  maxTimeOriginErrorMs: number;
  worst: string | undefined;
  over1ms: number;
}

export interface WorkerLogs {
  intervals: Interval[];
  /** Every incarnation's last stats, summed. */
  stats: WorkerStats;
  /** Negotiated session timeout per worker. */
  sessionTimeouts: Map<number, number>;
  /** Session ids (16 hex digits) per incarnation "w-inc". */
  sessions: Map<string, Set<string>>;
  clocks: ClockSummary;
  incarnations: number;
  /** Intervals a live worker never closed. */
  unclosed: number;
}

const WORKER_LOG = /^w(\d+)-(\d+)\.jsonl$/;

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
    ...(o.downgrade ? { downgrade: true } : {}),
  };
}

function addStats(into: WorkerStats, from: WorkerStats): void {
  for (const key of Object.keys(into) as (keyof WorkerStats)[]) {
    if (key === 'errors') continue;
    into[key] += from[key];
  }
  for (const [key, count] of Object.entries(from.errors)) into.errors[key] = (into.errors[key] ?? 0) + count;
}

/** Reads every worker log of `dir`; `deaths` ("w-inc" -> when and why) ends what the dead left open. */
export function readWorkerLogs(
  dir: string,
  deaths: ReadonlyMap<string, { at: number; reason: string }>,
  lastEventAt: number,
): WorkerLogs {
  const intervals: Interval[] = [];
  const stats = emptyStats();
  const sessionTimeouts = new Map<number, number>();
  const sessions = new Map<string, Set<string>>();
  const clocks: ClockSummary = { workers: 0, maxTimeOriginErrorMs: 0, worst: undefined, over1ms: 0 };
  let incarnations = 0;
  let unclosed = 0;
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
  return { intervals, stats, sessionTimeouts, sessions, clocks, incarnations, unclosed };
}
