// The fault plan: a pure function of (seed, seconds, processes, S, members). Executing it is not
// deterministic (a fault starts when its lane is free, never before its planned time), the plan is.
//
// Lanes: a few for worker faults (a worker is also never hit by two faults at once) and one for the
// ensemble, each running one fault at a time, so at most one ensemble member is ever down (except during
// the one full restart).
import { Rng } from './prng.js';

export type WorkerFaultKind =
  /** All of the worker's proxies silently frozen for less than S. */
  | 'freeze-short'
  /** All proxies frozen for longer than S: the server expires the session. */
  | 'freeze-long'
  /** One proxy frozen (the client may be on another member; if not, it must move). */
  | 'freeze-one'
  /** Connections destroyed and refused for a while. */
  | 'drop'
  /** Requests reach the server, answers are lost. */
  | 'blackhole'
  /** kill -9 of the worker process, restarted after the down time. */
  | 'kill'
  /**
   * SIGSTOP of the worker process for 0.5-2 S, then SIGCONT (Kleppmann's fencing scenario: a paused
   * owner whose lease ran out meanwhile must see "not owned" in its first check after resuming).
   */
  | 'pause';
export type EnsembleFaultKind = 'member-stop' | 'leader-stop' | 'ensemble-restart';
export type FaultKind = WorkerFaultKind | EnsembleFaultKind;

export const FAULT_KINDS: readonly FaultKind[] = [
  'freeze-short',
  'freeze-long',
  'freeze-one',
  'drop',
  'blackhole',
  'kill',
  'pause',
  'member-stop',
  'leader-stop',
  'ensemble-restart',
];

export interface PlannedFault {
  seq: number;
  /** Planned start, ms after the fault phase began. */
  at: number;
  kind: FaultKind;
  /** 'workers-<k>' or 'ensemble': the faults of a lane run one after the other. */
  lane: string;
  worker?: number;
  /** member-stop: the member; leader-stop: decided when it runs. */
  member?: number;
  /** freeze-one: index of the proxy (= member index). */
  proxy?: number;
  /** How long the fault lasts (kill: down time; ensemble-restart: 0, as long as the restart takes). */
  durationMs: number;
  /**
   * pause only: start once the worker says it holds a lock (`holding <path>`; the mutant test), or
   * a lock and a task's term at once (`holding-task <path>`; the mutant test with a task group).
   */
  trigger?: 'holding' | 'holding-lock-and-task';
}

export interface PlanOptions {
  seed: string;
  seconds: number;
  processes: number;
  sessionTimeoutMs: number;
  members: number;
  /** Plan process pauses (SIGSTOP/SIGCONT) too (default true). */
  pauses?: boolean;
}

const WORKER_WEIGHTS: Record<WorkerFaultKind, number> = {
  'freeze-short': 3,
  'freeze-long': 2,
  'freeze-one': 1.5,
  drop: 2,
  blackhole: 1.5,
  kill: 1.5,
  pause: 1.5,
};

/** The full restart happens at most once, and only in runs of at least this many seconds. */
export const RESTART_MIN_SECONDS = 60;

function workerFault(rng: Rng, kind: WorkerFaultKind, s: number, members: number): Partial<PlannedFault> {
  switch (kind) {
    case 'freeze-short':
      return { durationMs: Math.round(rng.range(0.15, 0.9) * s) };
    case 'freeze-long':
      return { durationMs: Math.round(rng.range(1.2, 2) * s) };
    case 'freeze-one':
      return { durationMs: Math.round(rng.range(0.4, 2) * s), proxy: rng.int(0, members - 1) };
    case 'drop':
      return { durationMs: rng.int(0, 1500) };
    case 'blackhole':
      return { durationMs: Math.round(rng.range(0.2, 1.5) * s) };
    case 'kill':
      return { durationMs: rng.int(200, 3000) };
    case 'pause':
      return { durationMs: Math.round(rng.range(0.5, 2) * s) };
  }
}

export function planFaults(options: PlanOptions): PlannedFault[] {
  const { seed, seconds, processes, sessionTimeoutMs: s, members } = options;
  const rng = new Rng(`plan:${seed}`);
  const weights: Partial<Record<WorkerFaultKind, number>> = { ...WORKER_WEIGHTS };
  if (options.pauses === false) delete weights.pause;
  const endMs = seconds * 1000;
  const faults: Omit<PlannedFault, 'seq'>[] = [];
  // Worker faults run in `lanes` sequential lanes (about half the workers at most are faulted at once, so
  // the others keep making progress); a fault picks a worker no other lane has planned to be busy with.
  const lanes = Math.max(1, Math.floor((processes + 1) / 2));
  const busyUntil = Array.from({ length: processes }, () => 0);
  for (let lane = 0; lane < lanes; lane += 1) {
    let t = rng.range(1500, 4000);
    while (t < endMs) {
      const free = busyUntil.map((until, w) => (until <= t ? w : -1)).filter((w) => w >= 0);
      if (free.length === 0) {
        t = Math.min(...busyUntil) + rng.range(200, 1000);
        continue;
      }
      const worker = rng.pick(free);
      const kind = rng.weighted(weights as Record<WorkerFaultKind, number>);
      const fault = workerFault(rng, kind, s, members);
      const durationMs = fault.durationMs ?? 0;
      faults.push({ at: Math.round(t), kind, lane: `workers-${lane}`, worker, durationMs, ...fault });
      // Room to recover (a new session, a restarted process) before the next fault of this worker.
      const recovery = kind === 'kill' ? 3000 : kind === 'freeze-long' || kind === 'pause' ? 1500 : 500;
      busyUntil[worker] = t + durationMs + recovery;
      t += durationMs + recovery + rng.range(500, 2500);
    }
  }
  // The ensemble lane.
  const restartAt = seconds >= RESTART_MIN_SECONDS ? rng.range(0.35, 0.65) * endMs : Number.POSITIVE_INFINITY;
  let restarted = false;
  let t = rng.range(3000, 6000);
  while (t < endMs) {
    if (!restarted && t >= restartAt) {
      restarted = true;
      faults.push({ at: Math.round(t), kind: 'ensemble-restart', lane: 'ensemble', durationMs: 0 });
      t += 12_000 + rng.range(2000, 6000);
      continue;
    }
    const kind: EnsembleFaultKind = rng.chance(0.35) ? 'leader-stop' : 'member-stop';
    const durationMs = Math.round(rng.range(1000, 2 * s + 2000));
    const member = rng.int(1, members);
    faults.push({
      at: Math.round(t),
      kind,
      lane: 'ensemble',
      durationMs,
      ...(kind === 'member-stop' ? { member } : {}),
    });
    t += durationMs + 4000 + rng.range(1500, 6000);
  }
  faults.sort((a, b) => a.at - b.at || a.lane.localeCompare(b.lane));
  return faults.map((f, seq) => ({ seq, ...f }));
}

export function countByKind(faults: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of faults) counts[f.kind] += 1;
  return counts;
}

/**
 * The mutant test's plan: one pause of worker 0 for 1.6 S, started while it holds a lock (and, with a
 * task group, runs a task's term). Worker 0 runs CHAOS_MUTANT=ignore-ownership (worker.ts) and
 * ignore-task-ownership (tasks.ts): its session expires during the pause, rivals take the lock and the
 * task, and after SIGCONT the mutant still says "owned": HARD overlaps on both, every time.
 */
export function planMutantPause(sessionTimeoutMs: number, withTasks = false): PlannedFault[] {
  return [
    {
      seq: 0,
      at: 0,
      kind: 'pause',
      lane: 'workers-0',
      worker: 0,
      durationMs: Math.round(1.6 * sessionTimeoutMs),
      trigger: withTasks ? 'holding-lock-and-task' : 'holding',
    },
  ];
}
