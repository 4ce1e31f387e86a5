// Process pauses in the checker (issue 10, Kleppmann's fencing scenario): a worker SIGSTOPped while it
// owns something cannot act until SIGCONT. If its first ownership check after resuming says "not owned",
// it did nothing as owner after the pause began: its interval ends at the pause start. If that check
// says "owned" although the pause lasted at least S (the lease cannot have held: it runs at most S from
// a request sent before the pause), that is a violation, whatever the other owners did.
import type { Interval } from './overlaps.js';

export interface PauseWindow {
  seq: number;
  worker: number;
  /** Just after SIGSTOP was sent. */
  start: number;
  /** Just before SIGCONT was sent. */
  end: number;
}

export interface PauseViolation {
  pause: number;
  worker: number;
  pauseMs: number;
  interval: string;
  /** Last "owned" check, ms after the resume. */
  ownedAfterResumeMs: number;
}

export interface PauseReport {
  executed: number;
  /** Pauses that stopped a process while it owned something. */
  withOwner: number;
  /** Of those, pauses of at least S (the owner's lease certainly ran out meanwhile). */
  longWithOwner: number;
  /** Intervals whose first check after the pause said "not owned": ended at the pause start. */
  endedAtPause: number;
  /** Intervals still "owned" after a pause of at least S: must be none. */
  violations: PauseViolation[];
}

/** Applies the pauses to the intervals (ends moved to the pause start where the rule allows). */
export function applyPauses(
  intervals: Interval[],
  pauses: readonly PauseWindow[],
  sessionTimeoutOf: (worker: number) => number,
): PauseReport {
  const report: PauseReport = {
    executed: pauses.length,
    withOwner: 0,
    longWithOwner: 0,
    endedAtPause: 0,
    violations: [],
  };
  for (const p of pauses) {
    const pauseMs = p.end - p.start;
    const long = pauseMs >= sessionTimeoutOf(p.worker);
    const owners = intervals.filter((i) => i.w === p.worker && i.start < p.start && i.end > p.start);
    if (owners.length > 0) {
      report.withOwner += 1;
      if (long) report.longWithOwner += 1;
    }
    for (const i of owners) {
      if (i.lastTrue <= p.end) {
        // No "owned" check after the resume: the holder stopped acting when it was stopped.
        i.end = Math.max(i.start, p.start);
        i.lastTrue = Math.min(i.lastTrue, i.end);
        report.endedAtPause += 1;
      } else if (long) {
        report.violations.push({
          pause: p.seq,
          worker: p.worker,
          pauseMs: Math.round(pauseMs),
          interval: `${i.who} #${i.n} ${i.path}`,
          ownedAfterResumeMs: Math.round(i.lastTrue - p.end),
        });
      }
    }
  }
  return report;
}
