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
  type LeaderSelector,
} from '../../lib/index.js';
import { hold, holdTime, IntervalLog, leaderCallback } from './intervals.js';
import { Rng } from './prng.js';
import { RECIPE_MUTANT, startChaosRecipes } from './recipes.js';
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
    'rw-path': { type: 'string' },
    'rw-loops': { type: 'string', default: '3' },
    'semaphore-path': { type: 'string' },
    'max-leases': { type: 'string', default: '2' },
    acquirers: { type: 'string', default: '3' },
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

// ---- ownership intervals (intervals.ts) ---------------------------------------------------------

const intervals = new IntervalLog(write);
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

const onReentered = (): void => {
  stats.reentrant += 1;
};
const onRefused = (): void => bump('reentrant-acquire-refused'); // inside the scope, while owned: a lib defect

async function lockLoop(path: string, j: number, variant: 'acquire' | 'exclusive'): Promise<void> {
  const who = `w${w}.${inc}:lock${j}:${variant}`;
  const rng = new Rng(`${seed}:${who}:${path}`);
  const lock = coordinator.createLock(path, { id: who, verifyIntervalMs: 250 });
  lock.on('lost', (info) => bump(`lost:${info.reason}`));
  while (!stop.aborted) {
    const mode = rng.weighted({ wait: 4, try: 2, timeout: 3, abort: 2 });
    const timeoutMs = mode === 'try' ? 0 : mode === 'timeout' ? rng.int(10, 3000) : 15_000;
    const holdMs = MUTANT
      ? Math.max(4 * sessionTimeoutMs, holdTime(rng, sessionTimeoutMs))
      : holdTime(rng, sessionTimeoutMs);
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
          const interval = intervals.start('lock', path, who, { token: String(lock.fencingToken) });
          if (MUTANT) reply(`holding ${path}`);
          try {
            await hold(interval, () => MUTANT || lock.considerAsOwned(), holdMs, stop, SAMPLE_MS);
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
            const interval = intervals.start('lock', path, who, { token: String(handle.fencingToken) });
            if (MUTANT) reply(`holding ${path}`);
            try {
              await hold(
                interval,
                () => MUTANT || handle.considerAsOwned(),
                holdMs,
                stop,
                SAMPLE_MS,
                rng.chance(0.2) ? { lock, rng, onReentered, onRefused } : undefined,
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
      leader: leaderCallback(intervals, { path, who, rng, sessionTimeoutMs, sampleMs: SAMPLE_MS, stats }),
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
        open: (path, who, extra) => intervals.start('task', path, who, extra),
        reply,
        countError,
        bump,
      })
    : undefined;

// Read-write lock loops and semaphore acquirers (recipes.ts): intervals of kind 'read', 'write', 'lease'.
loops.push(
  ...startChaosRecipes({
    coordinator,
    name: `w${w}.${inc}`,
    seed,
    sessionTimeoutMs,
    sampleMs: SAMPLE_MS,
    mutant: MUTANTS.includes(RECIPE_MUTANT),
    stop,
    readWriteLock: args['rw-path'] ? { path: args['rw-path'], loops: Number(args['rw-loops']) } : undefined,
    semaphore: args['semaphore-path']
      ? {
          path: args['semaphore-path'],
          maxLeases: Number(args['max-leases']),
          acquirers: Number(args.acquirers),
        }
      : undefined,
    log: intervals,
    reply,
    countError,
    bump,
  }),
);

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
  intervals.closeAll('quiesce');
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
