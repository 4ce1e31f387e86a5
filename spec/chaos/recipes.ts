// Curator's recipes in a chaos worker (issue 14): a read-write lock and a semaphore, each on one path
// that every worker shares. Every hold is an ownership interval, logged as lock holds are (it opens
// when acquire() resolves and closes at the first "not owned" sample, every SAMPLE_MS, or the release):
// - read-write lock: a few loops per worker, each with its own ReadWriteLock instance (id
//   `w<k>.<inc>:rw<j>`: one owner per instance), take the read or the write side at random and hold
//   it 0 ms to about S; now and then a writer downgrades (takes the read lock while it holds the
//   write lock, then releases the write lock). Intervals of kind 'read' and 'write'; a downgrade's
//   read is marked `downgrade` and has the same `who` as its write: the checker treats the two as
//   one owner.
// - semaphore: one Semaphore per worker (id `w<k>.<inc>:sem`, maxLeases the same everywhere) and
//   several concurrent acquirers sharing it; each lease is an interval of kind 'lease'.
// The checker (recipe-check.ts) counts two writers at once, a writer beside another owner's reader,
// and more than maxLeases leases at once.
//
// CHAOS_MUTANT containing 'ignore-recipe-ownership' (the suite's mutant test): every sample says
// "owned", every hold lasts at least 4 S, no downgrades, and each hold announces itself on stdout
// (`holding-rw <path>` / `released-rw`, `holding-lease <path>` / `released-lease`) so the orchestrator
// can pause the worker for longer than S in the middle of both.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortError,
  LockTimeoutError,
  type Coordinator,
  type ReadWriteLock,
  type Semaphore,
} from '../../lib/index.js';
import { holdTime, sampleFor, type IntervalLog, type OwnershipInterval } from './intervals.js';
import { Rng } from './prng.js';

export const RECIPE_MUTANT = 'ignore-recipe-ownership';

export interface ChaosRecipeOptions {
  coordinator: Coordinator;
  /** This worker incarnation's name, `w<k>.<inc>`. */
  name: string;
  seed: string;
  sessionTimeoutMs: number;
  sampleMs: number;
  mutant: boolean;
  /** The worker's quiesce signal. */
  stop: AbortSignal;
  readWriteLock?: { path: string; loops: number } | undefined;
  semaphore?: { path: string; maxLeases: number; acquirers: number } | undefined;
  log: IntervalLog;
  reply(line: string): void;
  countError(where: string, error: unknown): void;
  bump(key: string): void;
}

/** Starts the recipe loops; each promise settles after `stop` aborted and its holds are released. */
export function startChaosRecipes(o: ChaosRecipeOptions): Promise<void>[] {
  const loops: Promise<void>[] = [];
  const guard = (what: string, loop: Promise<void>): void => {
    loops.push(
      loop.catch((error: unknown) => {
        o.countError('loop', error);
        process.stderr.write(`${what} died: ${String(error)}\n`);
      }),
    );
  };
  if (o.readWriteLock) {
    const { path, loops: count } = o.readWriteLock;
    for (let j = 0; j < count; j += 1) guard(`read-write loop ${path}#${j}`, readWriteLoop(o, path, j));
  }
  if (o.semaphore) {
    const { path, maxLeases, acquirers } = o.semaphore;
    const who = `${o.name}:sem`;
    const semaphore = o.coordinator.createSemaphore(path, { maxLeases, id: who, verifyIntervalMs: 250 });
    for (let k = 0; k < acquirers; k += 1)
      guard(`semaphore acquirer ${path}#${k}`, leaseLoop(o, semaphore, who, k));
  }
  return loops;
}

/** One attempt's timeout and abort: wait long, time out, or try once; aborted by `stop`. */
function attemptOf(
  o: ChaosRecipeOptions,
  rng: Rng,
): { timeoutMs: number; signal: AbortSignal; done(): void } {
  const mode = rng.weighted({ wait: 4, try: 1, timeout: 3 });
  const controller = new AbortController();
  const onStop = (): void => controller.abort(new Error('stop'));
  o.stop.addEventListener('abort', onStop, { once: true });
  return {
    timeoutMs: mode === 'try' ? 0 : mode === 'timeout' ? rng.int(10, 3000) : 15_000,
    signal: controller.signal,
    done: () => o.stop.removeEventListener('abort', onStop),
  };
}

/** What failed attempts count as; other errors back off a little. */
async function onAcquireError(o: ChaosRecipeOptions, where: string, error: unknown, rng: Rng): Promise<void> {
  if (error instanceof LockTimeoutError) o.bump(`${where}:timeout`);
  else if (error instanceof AbortError) o.bump(`${where}:aborted`);
  else {
    o.countError(where, error);
    if (!o.stop.aborted) await sleep(rng.int(20, 200));
  }
}

async function readWriteLoop(o: ChaosRecipeOptions, path: string, j: number): Promise<void> {
  const who = `${o.name}:rw${j}`;
  const rng = new Rng(`${o.seed}:${who}:${path}`);
  const rw = o.coordinator.createReadWriteLock(path, { id: who, verifyIntervalMs: 250 });
  rw.writeLock.on('lost', (info) => o.bump(`rw:write-lost:${info.reason}`));
  rw.readLock.on('lost', (info) => o.bump(`rw:read-lost:${info.reason}`));
  const s = o.sessionTimeoutMs;
  while (!o.stop.aborted) {
    const write = rng.chance(0.4);
    const side = write ? rw.writeLock : rw.readLock;
    const attempt = attemptOf(o, rng);
    try {
      if (!(await side.acquire({ timeoutMs: attempt.timeoutMs, signal: attempt.signal }))) {
        o.bump(`rw:${write ? 'write' : 'read'}-timeout`);
      } else if (write) {
        await holdWrite(o, rw, path, who, rng, attempt.signal);
      } else {
        // Readers hold longer than writers, so that readers meet.
        const ms = o.mutant ? 4 * s : rng.chance(0.8) ? rng.int(0, 300) : holdTime(rng, s);
        await holdSide(o, rw, 'read', path, who, ms, false);
      }
    } catch (error) {
      await onAcquireError(o, 'rw', error, rng);
    } finally {
      attempt.done();
    }
    if (!o.stop.aborted) await sleep(rng.int(0, 20));
  }
}

/** Holds one side for `ms` and releases it; an interval of that kind. */
async function holdSide(
  o: ChaosRecipeOptions,
  rw: ReadWriteLock,
  side: 'read' | 'write',
  path: string,
  who: string,
  ms: number,
  downgrade: boolean,
): Promise<void> {
  const lock = side === 'read' ? rw.readLock : rw.writeLock;
  const interval = o.log.start(side, path, who, {
    token: String(lock.fencingToken),
    ...(downgrade ? { downgrade } : {}),
  });
  if (o.mutant) o.reply(`holding-rw ${path}`);
  try {
    await sampleFor(interval, () => o.mutant || lock.considerAsOwned(), ms, o.stop, o.sampleMs);
  } finally {
    interval.close('release');
    if (o.mutant) o.reply(`released-rw ${path}`);
    await lock.release().catch((error: unknown) => o.countError(`rw:${side}-release`, error));
  }
}

/** A write hold; one in four downgrades to a read hold before it releases the write lock. */
async function holdWrite(
  o: ChaosRecipeOptions,
  rw: ReadWriteLock,
  path: string,
  who: string,
  rng: Rng,
  signal: AbortSignal,
): Promise<void> {
  const s = o.sessionTimeoutMs;
  const ms = o.mutant ? Math.max(4 * s, holdTime(rng, s)) : holdTime(rng, s);
  if (o.mutant || !rng.chance(0.25)) {
    await holdSide(o, rw, 'write', path, who, ms, false);
    return;
  }
  const write = o.log.start('write', path, who, { token: String(rw.writeLock.fencingToken) });
  let read: OwnershipInterval | undefined;
  try {
    const owned = await sampleFor(write, () => rw.writeLock.considerAsOwned(), ms, o.stop, o.sampleMs);
    if (owned && !o.stop.aborted) {
      // The downgrade: the read lock while we hold the write lock (no wait: our writer is ahead of
      // everybody), then the write lock goes; from here on we are a reader.
      if (await rw.readLock.acquire({ timeoutMs: 2000, signal })) {
        o.bump('rw:downgrade');
        read = o.log.start('read', path, who, { token: String(rw.readLock.fencingToken), downgrade: true });
        read.sample(rw.readLock.considerAsOwned());
        write.sample(rw.writeLock.considerAsOwned());
      } else if (rw.writeLock.considerAsOwned()) o.bump('rw:downgrade-timeout');
    }
  } finally {
    write.close('release');
    await rw.writeLock.release().catch((error: unknown) => o.countError('rw:write-release', error));
  }
  if (!read) return;
  try {
    await sampleFor(read, () => rw.readLock.considerAsOwned(), rng.int(0, 300), o.stop, o.sampleMs);
  } finally {
    read.close('release');
    await rw.readLock.release().catch((error: unknown) => o.countError('rw:read-release', error));
  }
}

async function leaseLoop(o: ChaosRecipeOptions, semaphore: Semaphore, who: string, k: number): Promise<void> {
  const rng = new Rng(`${o.seed}:${who}${k}:${semaphore.path}`);
  const s = o.sessionTimeoutMs;
  while (!o.stop.aborted) {
    const attempt = attemptOf(o, rng);
    try {
      const lease = await semaphore.acquire({ timeoutMs: attempt.timeoutMs, signal: attempt.signal });
      if (!lease) o.bump('semaphore:timeout');
      else {
        const ms = o.mutant ? 4 * s : rng.chance(0.9) ? rng.int(0, 200) : rng.int(200, s);
        const interval = o.log.start('lease', semaphore.path, who, { token: String(lease.fencingToken) });
        if (o.mutant) o.reply(`holding-lease ${semaphore.path}`);
        try {
          await sampleFor(interval, () => o.mutant || lease.considerAsOwned(), ms, o.stop, o.sampleMs);
        } finally {
          interval.close('release');
          if (o.mutant) o.reply(`released-lease ${semaphore.path}`);
          await lease.release().catch((error: unknown) => o.countError('semaphore:release', error));
        }
      }
    } catch (error) {
      await onAcquireError(o, 'semaphore', error, rng);
    } finally {
      attempt.done();
    }
    if (!o.stop.aborted) await sleep(rng.int(0, 20));
  }
}
