// Task groups in a chaos worker (issue 13): one TaskGroup per worker over a few tasks, each term of
// each task logged as an ownership interval of kind 'task' on the task's lock path (`<group>/<task>`),
// exactly as lock holds are: it opens when the run callback is entered and closes at the first "not
// owned" (a `control.shouldStop()` sample every SAMPLE_MS, the term's signal, the callback returning
// or throwing). The checker then requires, per task, no two overlapping owners.
//
// CHAOS_MUTANT containing 'ignore-task-ownership' (the suite's mutant test): the run ignores its signal,
// every sample says "owned", and each term lasts at least 4 S; it announces `holding-task <path>` /
// `released-task <path>` on stdout, so the orchestrator can pause it for longer than S while it runs a
// term. Its session expires, another member takes the task, and the mutant keeps "owning" it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Control, Coordinator, TaskGroup } from '../../lib/index.js';
import { Rng } from './prng.js';
import { now } from './records.js';

export const TASK_MUTANT = 'ignore-task-ownership';

/** What the worker's interval log gives a term (worker.ts OwnershipInterval). */
export interface IntervalLike {
  readonly closed: boolean;
  /** Records one ownership check; a "not owned" ends the interval. Returns true while still open. */
  sample(owned: boolean): boolean;
  close(reason: string): void;
}

export interface ChaosTaskOptions {
  coordinator: Coordinator;
  /** The group path; task i's lock path is `<path>/task-<i>`. */
  path: string;
  tasks: number;
  /** This worker incarnation's name, `w<k>.<inc>`: the member id is `<name>:tasks`. */
  name: string;
  seed: string;
  sessionTimeoutMs: number;
  sampleMs: number;
  mutant: boolean;
  /** The worker's quiesce signal: a mutant's term ends with it (and only with it). */
  stop: AbortSignal;
  open(path: string, who: string, extra: { term: number; token: string }): IntervalLike;
  reply(line: string): void;
  countError(where: string, error: unknown): void;
  bump(key: string): void;
}

/** Task names of a group of `count` tasks. */
export const chaosTaskNames = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `task-${i}`);

/** How long a term runs before returning by itself (it returns earlier when told to stop). */
function termPlan(rng: Rng, s: number): { ms: number; end: 'return' | 'yield' | 'throw' } {
  const kind = rng.weighted({ short: 2, medium: 4, long: 4, yield: 0.4, throw: 0.3 });
  const ms =
    kind === 'short'
      ? rng.int(0, 50)
      : kind === 'medium'
        ? rng.int(50, Math.round(0.5 * s))
        : rng.range(0.5, 3) * s;
  return { ms, end: kind === 'yield' ? 'yield' : kind === 'throw' ? 'throw' : 'return' };
}

export function startChaosTaskGroup(options: ChaosTaskOptions): TaskGroup {
  const { path, sampleMs, mutant, stop } = options;
  const s = options.sessionTimeoutMs;
  const who = `${options.name}:tasks`;
  const rng = new Rng(`${options.seed}:${who}`);

  const run = async (task: string, control: Control): Promise<void> => {
    const taskPath = `${path}/${task}`;
    const interval = options.open(taskPath, who, {
      term: control.term,
      token: String(control.fencingToken),
    });
    const owned = (): boolean => mutant || !control.shouldStop();
    const onAbort = (): void => interval.close(`signal:${String(control.signal.reason)}`);
    if (!mutant) control.signal.addEventListener('abort', onAbort, { once: true });
    if (mutant) options.reply(`holding-task ${taskPath}`);
    try {
      if (!mutant && control.signal.aborted) {
        interval.close(`entered-aborted:${String(control.signal.reason)}`);
        return;
      }
      const plan = termPlan(rng, s);
      const until = now() + (mutant ? Math.max(4 * s, plan.ms) : plan.ms);
      interval.sample(owned());
      while (!interval.closed && !stop.aborted && now() < until) {
        await sleep(Math.max(0, Math.min(sampleMs, until - now())));
        interval.sample(owned());
      }
      if (mutant || interval.closed) return;
      if (plan.end === 'yield') {
        options.bump('task:yield');
        control.yield(); // the signal aborts and ends the interval
      } else if (plan.end === 'throw') {
        options.bump('task:throw');
        interval.close('throw');
        throw new Error('chaos: the task run throws');
      }
    } finally {
      interval.close('returned');
      control.signal.removeEventListener('abort', onAbort);
      if (mutant) options.reply(`released-task ${taskPath}`);
    }
  };

  const group = options.coordinator.createTaskGroup(path, {
    id: who,
    tasks: chaosTaskNames(options.tasks),
    minimumWorkTimeMs: rng.int(0, 300),
    errorBackoffMs: 200,
    run,
  });
  group.on('error', (error) => {
    if (!(error instanceof Error && error.message === 'chaos: the task run throws'))
      options.countError('tasks', error);
  });
  group.on('taskStopped', ({ reason }) => options.bump(`task-stopped:${reason}`));
  group.start();
  return group;
}
