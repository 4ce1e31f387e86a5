// A chaos worker process (started by spec/chaos/run.ts, never by hand):
//   node --import tsx spec/chaos/worker.ts --worker 0 --inc 0 --connect <proxies> --paths /a,/b --session 3000
//     --log <file> --seed <seed> [--selectors 2] [--locks 2] [--task-group /chaos/tasks --tasks 6]
// One Coordinator; on every lock path a few LeaderSelectors and lock loops hammer acquire/release; with
// --task-group, a TaskGroup runs --tasks tasks (tasks.ts), each term an interval of kind 'task'.
// Every ownership interval is written to the log as it opens and as it closes (synchronous writes, so a
// kill -9 loses nothing that happened before it):
//   start: acquire() resolved true / the leader callback was entered;
//   end:   the first of: a considerAsOwned() / shouldStop() sample saying "not owned" (sampled every
//          SAMPLE_MS while holding, right before release, and on the worker's own clock, so a frozen
//          connection ends the interval when the lease runs out), release started, the term's signal
//          aborted, the callback returned or threw.
// Timestamps come from the run's shared clock (records.ts `now()`: host monotonic clock + the
// orchestrator's epoch offset); the first line ('hello') records this process's timeOrigin error.
// stdin commands: `quiesce` (stop every loop and selector, release everything, keep the session;
// answers `quiesced {json}`), `close` (close the Coordinator, answer `closed`, exit 0). stdin closing
// (the orchestrator died) exits at once.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  AbortError,
  Coordinator,
  LockTimeoutError,
  ZkLeaderSelectorError,
  type Control,
  type LeaderSelector,
  type SharedReentrantLock,
} from '../../lib/index.js';
import { Rng } from './prng.js';
import { startChaosTaskGroup, TASK_MUTANT } from './tasks.js';
import {
  applyTimeOriginSkew,
  clockOffset,
  emptyStats,
  now,
  timeOriginError,
  type WorkerRecord,
  type WorkerStats,
} from './records.js';

// Before anything reads the clocks: the regression test's knob (a wrong timeOrigin).
const timeOriginSkewMs = applyTimeOriginSkew();

const SAMPLE_MS = 20;
/**
 * CHAOS_MUTANT=ignore-ownership: the lock loops never check considerAsOwned() (every sample says
 * "owned") and every hold lasts at least 4 S; each hold announces itself with `holding <path>` on
 * stdout, so the orchestrator can pause (SIGSTOP) the process for longer than S in the middle of one.
 * The session expires during the pause, a rival takes the lock, and the mutant keeps "owning" it after
 * SIGCONT: the checker must report HARD overlaps (the suite's mutant test).
 */
const MUTANTS = (process.env.CHAOS_MUTANT ?? '').split(',');
const MUTANT = MUTANTS.includes('ignore-ownership');

const { values: args } = parseArgs({
  options: {
    worker: { type: 'string' },
    inc: { type: 'string', default: '0' },
    connect: { type: 'string' },
    paths: { type: 'string' },
    session: { type: 'string', default: '3000' },
    log: { type: 'string' },
    seed: { type: 'string', default: '1' },
    selectors: { type: 'string', default: '2' },
    locks: { type: 'string', default: '2' },
    'task-group': { type: 'string' },
    tasks: { type: 'string', default: '0' },
  },
});
if (!args.worker || !args.connect || !args.paths || !args.log) {
  process.stderr.write('worker.ts: --worker, --connect, --paths and --log are required\n');
  process.exit(2);
}
const w = Number(args.worker);
const inc = Number(args.inc);
const sessionTimeoutMs = Number(args.session);
const paths = args.paths.split(',');
const connectString = args.connect;
const seed = args.seed;

const logFd = openSync(args.log, 'a');
const write = (record: WorkerRecord): void => {
  writeSync(logFd, `${JSON.stringify(record)}\n`);
};
const reply = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const stats: WorkerStats = emptyStats();
const bump = (key: string): void => {
  stats.errors[key] = (stats.errors[key] ?? 0) + 1;
};
const countError = (where: string, error: unknown): void => {
  const name =
    error instanceof ZkLeaderSelectorError ? error.code : error instanceof Error ? error.name : 'unknown';
  const key = `${where}:${name}`;
  if (stats.errors[key] === undefined) {
    // The first of each kind, with its stack, for the post-mortem.
    process.stderr.write(
      `${new Date().toISOString()} first ${key}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  bump(key);
};

write({
  t: 'hello',
  w,
  inc,
  pid: process.pid,
  at: now(),
  clockOffsetMs: clockOffset(),
  timeOriginError: timeOriginError(),
  timeOriginSkewMs,
  ...(process.env.CHAOS_MUTANT ? { mutant: process.env.CHAOS_MUTANT } : {}),
});

// ---- ownership intervals --------------------------------------------------------------------------

let intervalCounter = 0;
const openIntervals = new Set<OwnershipInterval>();

class OwnershipInterval {
  readonly n = (intervalCounter += 1);
  private isClosed = false;
  private lastTrue: number;
  private lastSample: number;
  private maxGap = 0;
  private samples = 0;
  private ownedSamples = 0;

  constructor(
    kind: 'lock' | 'leader' | 'task',
    path: string,
    who: string,
    extra: { term?: number; token?: string } = {},
  ) {
    const at = now();
    this.lastTrue = at;
    this.lastSample = at;
    openIntervals.add(this);
    write({ t: 'open', n: this.n, kind, path, who, at, ...extra });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Records one ownership check; a "not owned" ends the interval. Returns true while still open. */
  sample(owned: boolean): boolean {
    if (this.isClosed) return false;
    const at = now();
    this.samples += 1;
    this.maxGap = Math.max(this.maxGap, at - this.lastSample);
    this.lastSample = at;
    if (owned) {
      this.lastTrue = at;
      this.ownedSamples += 1;
    } else this.close('not-owned', at);
    return !this.isClosed;
  }

  close(reason: string, at = now()): void {
    if (this.isClosed) return;
    this.isClosed = true;
    openIntervals.delete(this);
    write({
      t: 'close',
      n: this.n,
      at,
      lastTrue: Math.min(this.lastTrue, at),
      reason,
      maxGap: Math.max(this.maxGap, at - this.lastSample),
      samples: this.samples,
      ownedSamples: this.ownedSamples,
    });
  }
}

/** Holds for about `ms`, sampling ownership every SAMPLE_MS; ends early when ownership is gone. */
async function hold(
  interval: OwnershipInterval,
  owned: () => boolean,
  ms: number,
  stop: AbortSignal,
  reenter?: { lock: SharedReentrantLock; rng: Rng },
): Promise<void> {
  const until = now() + ms;
  let reentered = false;
  if (!interval.sample(owned())) return;
  while (!stop.aborted) {
    const remaining = until - now();
    if (remaining <= 0) break;
    await sleep(Math.min(SAMPLE_MS, remaining));
    if (!interval.sample(owned())) return;
    if (reenter && !reentered && reenter.rng.chance(0.3)) {
      // Reentrant acquire inside runExclusive's scope: no round trip, and ownership must be unchanged.
      // (Only there: a lock instance is one owner, a second acquire() after a plain acquire() waits.)
      reentered = true;
      if (await reenter.lock.acquire(0)) {
        stats.reentrant += 1;
        if (!interval.sample(owned())) {
          await reenter.lock.release();
          return;
        }
        await reenter.lock.release();
        if (!interval.sample(owned())) return;
      } else if (owned()) {
        bump('reentrant-acquire-refused'); // inside the scope, while owned: a lib defect
      }
    }
  }
  interval.sample(owned()); // right before release
}

function holdTime(rng: Rng): number {
  switch (rng.weighted({ tiny: 65, short: 27, medium: 6, long: 2 })) {
    case 'tiny':
      return rng.int(0, 3);
    case 'short':
      return rng.int(3, 100);
    case 'medium':
      return Math.round(rng.range(0.05, 0.3) * sessionTimeoutMs);
    case 'long':
      return Math.round(rng.range(0.3, 1.5) * sessionTimeoutMs);
  }
}

// ---- coordinator --------------------------------------------------------------------------------

async function startCoordinator(): Promise<Coordinator> {
  const giveUpAt = now() + 60_000;
  for (;;) {
    const coordinator = new Coordinator({ connectString, sessionTimeoutMs, connectTimeoutMs: 10_000 });
    try {
      await coordinator.start();
      return coordinator;
    } catch (error) {
      write({ t: 'coord', ev: 'start-failed', at: now(), reason: String(error) });
      await coordinator.close();
      if (now() > giveUpAt) throw error;
      await sleep(200);
    }
  }
}

const coordinator = await startCoordinator();
const record = (ev: 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed', reason?: string) => {
  write({
    t: 'coord',
    ev,
    at: now(),
    sessionId: coordinator.sessionId,
    sessionTimeoutMs: coordinator.sessionTimeoutMs,
    ...(reason ? { reason } : {}),
  });
};
record('connected');
coordinator.on('connected', () => record('connected'));
coordinator.on('suspended', () => record('suspended'));
coordinator.on('reconnected', () => record('reconnected'));
coordinator.on('lost', (info) => record('lost', info.reason));

// ---- load ---------------------------------------------------------------------------------------

const stopController = new AbortController();
const stop = stopController.signal;
const selectors: LeaderSelector[] = [];
const loops: Promise<void>[] = [];

async function lockLoop(path: string, j: number, variant: 'acquire' | 'exclusive'): Promise<void> {
  const who = `w${w}.${inc}:lock${j}:${variant}`;
  const rng = new Rng(`${seed}:${who}:${path}`);
  const lock = coordinator.createLock(path, { id: who, verifyIntervalMs: 250 });
  lock.on('lost', (info) => bump(`lost:${info.reason}`));
  while (!stop.aborted) {
    const mode = rng.weighted({ wait: 4, try: 2, timeout: 3, abort: 2 });
    const timeoutMs = mode === 'try' ? 0 : mode === 'timeout' ? rng.int(10, 3000) : 15_000;
    const holdMs = MUTANT ? Math.max(4 * sessionTimeoutMs, holdTime(rng)) : holdTime(rng);
    const attempt = new AbortController();
    const onStop = (): void => attempt.abort(new Error('stop'));
    stop.addEventListener('abort', onStop, { once: true });
    const abortTimer =
      mode === 'abort'
        ? setTimeout(() => attempt.abort(new Error('chaos abort')), rng.int(0, 1500))
        : undefined;
    stats.acquireCalls += 1;
    try {
      if (variant === 'acquire') {
        const acquired = await lock.acquire({ timeoutMs, signal: attempt.signal });
        clearTimeout(abortTimer);
        if (!acquired) {
          stats.timeouts += 1;
        } else {
          stats.acquired += 1;
          const interval = new OwnershipInterval('lock', path, who, { token: String(lock.fencingToken) });
          if (MUTANT) reply(`holding ${path}`);
          try {
            await hold(interval, () => MUTANT || lock.considerAsOwned(), holdMs, stop);
          } finally {
            interval.close('release');
            if (MUTANT) reply(`released ${path}`);
            await lock.release().catch((error: unknown) => {
              stats.releaseErrors += 1;
              countError('release', error);
            });
          }
        }
      } else {
        await lock.runExclusive(
          async (handle) => {
            clearTimeout(abortTimer);
            stats.acquired += 1;
            const interval = new OwnershipInterval('lock', path, who, { token: String(handle.fencingToken) });
            if (MUTANT) reply(`holding ${path}`);
            try {
              await hold(
                interval,
                () => MUTANT || handle.considerAsOwned(),
                holdMs,
                stop,
                rng.chance(0.2) ? { lock, rng } : undefined,
              );
            } finally {
              interval.close('release');
              if (MUTANT) reply(`released ${path}`);
            }
          },
          { timeoutMs, signal: attempt.signal },
        );
      }
    } catch (error) {
      if (error instanceof LockTimeoutError) stats.timeouts += 1;
      else if (error instanceof AbortError) stats.aborted += 1;
      else {
        stats.acquireErrors += 1;
        countError('acquire', error);
        if (!stop.aborted) await sleep(rng.int(20, 200));
      }
    } finally {
      clearTimeout(abortTimer);
      stop.removeEventListener('abort', onStop);
    }
    if (!stop.aborted) await sleep(rng.int(0, 20));
  }
}

function leaderCallback(path: string, who: string, rng: Rng) {
  return async (control: Control): Promise<void> => {
    stats.terms += 1;
    const interval = new OwnershipInterval('leader', path, who, {
      term: control.term,
      token: String(control.fencingToken),
    });
    const onAbort = (): void => interval.close(`signal:${String(control.signal.reason)}`);
    control.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (control.signal.aborted) {
        interval.close(`entered-aborted:${String(control.signal.reason)}`);
        return;
      }
      const plan = rng.weighted({ short: 5, medium: 4, long: 0.6, yield: 0.4, throw: 0.3 });
      const ms =
        plan === 'short'
          ? rng.int(0, 20)
          : plan === 'long'
            ? rng.range(0.3, 1.5) * sessionTimeoutMs
            : rng.int(20, Math.round(0.1 * sessionTimeoutMs));
      const until = now() + ms;
      interval.sample(!control.shouldStop());
      while (!interval.closed && now() < until) {
        await sleep(Math.max(0, Math.min(SAMPLE_MS, until - now())));
        interval.sample(!control.shouldStop());
      }
      if (plan === 'yield' && !interval.closed) {
        stats.yields += 1;
        control.yield(); // the signal aborts and ends the interval
      }
      if (plan === 'throw') {
        stats.leaderThrows += 1;
        interval.close('throw');
        throw new Error('chaos: the leader callback throws');
      }
    } finally {
      interval.close('returned');
      control.signal.removeEventListener('abort', onAbort);
    }
  };
}

const selectorsPerPath = Number(args.selectors);
const locksPerPath = Number(args.locks);
for (const path of paths) {
  for (let j = 0; j < selectorsPerPath; j += 1) {
    const who = `w${w}.${inc}:leader${j}`;
    const rng = new Rng(`${seed}:${who}:${path}`);
    const selector = coordinator.createLeaderSelector(path, {
      id: who,
      tickMs: 250,
      minimumWorkTimeMs: rng.int(0, 300),
      errorBackoffMs: 200,
      leader: leaderCallback(path, who, rng),
    });
    selector.on('error', (error) => {
      stats.selectorErrors += 1;
      countError('selector', error);
    });
    selectors.push(selector);
    selector.start();
  }
  for (let j = 0; j < locksPerPath; j += 1) {
    const variant = j % 2 === 0 ? 'acquire' : 'exclusive';
    loops.push(
      lockLoop(path, j, variant).catch((error: unknown) => {
        countError('loop', error);
        process.stderr.write(`lock loop ${path}#${j} died: ${String(error)}\n`);
      }),
    );
  }
}

const taskGroup =
  args['task-group'] && Number(args.tasks) > 0
    ? startChaosTaskGroup({
        coordinator,
        path: args['task-group'],
        tasks: Number(args.tasks),
        name: `w${w}.${inc}`,
        seed,
        sessionTimeoutMs,
        sampleMs: SAMPLE_MS,
        mutant: MUTANTS.includes(TASK_MUTANT),
        stop,
        open: (path, who, extra) => new OwnershipInterval('task', path, who, extra),
        reply,
        countError,
        bump,
      })
    : undefined;

const statsTimer = setInterval(() => write({ t: 'stats', at: now(), stats }), 5000);
reply(`ready ${coordinator.sessionId ?? ''}`);

// ---- orchestrator commands ----------------------------------------------------------------------

async function quiesce(): Promise<void> {
  stopController.abort();
  const bounded = <T>(p: Promise<T>, ms: number): Promise<unknown> =>
    Promise.race([p, sleep(ms, undefined, { ref: false })]);
  await bounded(
    Promise.allSettled([
      ...selectors.map((s) => s.stop({ timeoutMs: 15_000 })),
      ...(taskGroup ? [taskGroup.stop({ timeoutMs: 15_000 })] : []),
    ]),
    16_000,
  );
  await bounded(Promise.allSettled(loops), 16_000);
  for (const interval of [...openIntervals]) interval.close('quiesce');
  write({ t: 'stats', at: now(), stats });
  reply(
    `quiesced ${JSON.stringify({
      sessionId: coordinator.sessionId,
      state: coordinator.state,
      selectorsStopped: selectors.every((s) => s.hasStopped()),
      taskGroup: taskGroup?.state,
    })}`,
  );
}

async function close(): Promise<void> {
  clearInterval(statsTimer);
  if (!stop.aborted) await quiesce();
  record('closed');
  await coordinator.close();
  write({ t: 'bye', at: now() });
  closeSync(logFd);
  reply('closed');
  process.exit(0);
}

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const command = line.trim();
  if (command === 'quiesce') void quiesce();
  else if (command === 'close') void close();
});
commands.on('close', () => {
  // The orchestrator is gone: nothing will ever read our log; leave at once.
  process.exit(3);
});
