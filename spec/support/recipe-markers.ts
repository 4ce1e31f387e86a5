/**
 * The file-marker protocol of the recipe interop tests, Node side (the Java side is
 * spec/support/peers/RecipeMarkers.java: same names, same checks, so our holders and Curator's
 * count violations together). Clock-free: every holder leaves a file in one shared directory while
 * it holds and looks for the files of holders that must not exist at the same time.
 *
 * - writer: after acquiring, create `<dir>/W` exclusively (already there = violation), then list the
 *   directory: any `R-*` = violation. Deletes W (if it created it) before releasing.
 * - reader: after acquiring, create `<dir>/R-<tag>-<n>`, then `<dir>/W` exists = violation; the number
 *   of `R-*` files is the readers seen at once (peak). Deletes its file before releasing.
 * - semaphore: after acquiring, create `<dir>/S-<tag>-<n>` and count `S-*`: more than maxLeases =
 *   violation (and the peak). Deletes its file before returning the lease.
 * - latch: on leadership, create `<dir>/L` exclusively (already there = violation) and append
 *   `<impl> <tag> <n>` to `<dir>/leaders.log` (who took over, in order). Deletes L before giving up.
 *
 * A violation counts once per hold. Also: the loops our recipe clients run in the interop tests,
 * written against the recipes' public surface only.
 */
import { appendFile, mkdtemp, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const WRITER_MARKER = 'W';
export const LEADER_MARKER = 'L';
export const LEADERS_LOG = 'leaders.log';

export interface MarkerHold {
  /** This hold found what it must not (see the protocol above). */
  readonly violation: boolean;
  /** Deletes what this hold created. */
  release(): Promise<void>;
}

/** A fresh marker directory in the OS temp dir; remove it with removeMarkerDir. */
export function makeMarkerDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `zk-recipe-markers-${label}-`));
}

export function removeMarkerDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** One holder identity (a client): its files are `<prefix>-<tag>-<n>`. */
export class RecipeMarkers {
  violations = 0;
  peakReaders = 0;
  peakHolders = 0;
  /** Tags of other readers whose R-* files one of our readers saw (readers held at once). */
  readonly coReaders = new Set<string>();
  /** One line per violation: what the hold found. */
  readonly details: string[] = [];
  private seq = 0;

  constructor(
    readonly dir: string,
    /** Unique among holders sharing the directory (Curator workers use c<pid>). */
    readonly tag: string,
    /** Written to leaders.log. */
    readonly impl = 'ours',
  ) {}

  async enterWrite(): Promise<MarkerHold> {
    const problems: string[] = [];
    const created = await this.createExclusive(WRITER_MARKER);
    if (!created) problems.push('writer found W');
    const readers = await this.list('R-');
    if (readers.length > 0) problems.push(`writer found readers ${readers.join(',')}`);
    return this.hold('write', problems, created ? WRITER_MARKER : undefined);
  }

  async enterRead(): Promise<MarkerHold> {
    const name = `R-${this.tag}-${(this.seq += 1)}`;
    await this.createExclusive(name, true);
    const problems: string[] = [];
    if (await exists(path.join(this.dir, WRITER_MARKER))) problems.push('reader found W');
    const readers = await this.list('R-');
    this.peakReaders = Math.max(this.peakReaders, readers.length);
    for (const reader of readers) {
      const tag = reader.slice(2, reader.lastIndexOf('-'));
      if (tag !== this.tag) this.coReaders.add(tag);
    }
    return this.hold('read', problems, name);
  }

  async enterSemaphore(maxLeases: number): Promise<MarkerHold> {
    const name = `S-${this.tag}-${(this.seq += 1)}`;
    await this.createExclusive(name, true);
    const holders = await this.list('S-');
    this.peakHolders = Math.max(this.peakHolders, holders.length);
    const problems =
      holders.length > maxLeases
        ? [`${holders.length} holders > maxLeases ${maxLeases}: ${holders.join(',')}`]
        : [];
    return this.hold('semaphore', problems, name);
  }

  async enterLatch(): Promise<MarkerHold> {
    const created = await this.createExclusive(LEADER_MARKER);
    await appendFile(path.join(this.dir, LEADERS_LOG), `${this.impl} ${this.tag} ${(this.seq += 1)}\n`);
    return this.hold('latch', created ? [] : ['leader found L'], created ? LEADER_MARKER : undefined);
  }

  private hold(role: string, problems: string[], created: string | undefined): MarkerHold {
    if (problems.length > 0) {
      this.violations += 1;
      this.details.push(`${this.impl} ${this.tag} ${role}: ${problems.join('; ')}`);
    }
    let released = false;
    return {
      violation: problems.length > 0,
      release: async () => {
        if (released || created === undefined) return;
        released = true;
        await unlink(path.join(this.dir, created)).catch(() => undefined);
      },
    };
  }

  /** O_EXCL create; false if the file was there (unless `mustCreate`: then that throws). */
  private async createExclusive(name: string, mustCreate = false): Promise<boolean> {
    try {
      await (await open(path.join(this.dir, name), 'wx')).close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || mustCreate) throw error;
      return false;
    }
  }

  private async list(prefix: string): Promise<string[]> {
    return (await readdir(this.dir)).filter((name) => name.startsWith(prefix));
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** leaders.log: who took over, in order. */
export async function readLeadersLog(dir: string): Promise<Array<{ impl: string; tag: string }>> {
  const text = await readFile(path.join(dir, LEADERS_LOG), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [impl = '', tag = ''] = line.trim().split(' ');
      return { impl, tag };
    });
}

/** How often leadership passed from one implementation to another in `log`. */
export function implementationChanges(log: ReadonlyArray<{ impl: string }>): number {
  return log.filter((entry, i) => i > 0 && entry.impl !== log[i - 1]?.impl).length;
}

// ---------------------------------------------------------------------------------------------------
// Our clients' loops (the recipes' public surface, structurally: see DESIGN.md's Round 2 contract)

interface LockLike {
  acquire(timeoutMs: number): Promise<boolean>;
  release(): Promise<void>;
  considerAsOwned(): boolean;
}
interface LeaseLike {
  considerAsOwned(): boolean;
  release(): Promise<void>;
}
interface LatchLike {
  start(): Promise<void>;
  await(timeoutMs: number): Promise<boolean>;
  hasLeadership(): boolean;
  close(): Promise<void>;
}

export interface OurLoopOptions {
  iterations: number;
  /** Time held (latch: leading) per iteration. Default 10 ms. */
  holdMs?: number;
  /** Per acquire. Default 60 000. */
  acquireTimeoutMs?: number;
}

export interface OurLoopResult {
  iterations: number;
  reads: number;
  writes: number;
  /** Holds in which considerAsOwned() (latch: hasLeadership()) was false after the markers. */
  notOwned: number;
}

/** Seeded PRNG (mulberry32) for reproducible read/write choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each iteration writes with probability writeRatio (default 0.3), else reads; markers while held. */
export async function runOurReadWriteLoop(
  rw: { readLock: LockLike; writeLock: LockLike },
  markers: RecipeMarkers,
  opts: OurLoopOptions & { writeRatio?: number; random?: () => number },
): Promise<OurLoopResult> {
  const random = opts.random ?? Math.random;
  const result: OurLoopResult = { iterations: 0, reads: 0, writes: 0, notOwned: 0 };
  for (let i = 0; i < opts.iterations; i += 1) {
    const write = random() < (opts.writeRatio ?? 0.3);
    const lock = write ? rw.writeLock : rw.readLock;
    if (!(await lock.acquire(opts.acquireTimeoutMs ?? 60_000)))
      throw new Error(`${write ? 'write' : 'read'} lock not acquired in time`);
    try {
      const held = write ? await markers.enterWrite() : await markers.enterRead();
      await sleep(opts.holdMs ?? 10);
      if (!lock.considerAsOwned()) result.notOwned += 1;
      await held.release();
    } finally {
      await lock.release();
    }
    if (write) result.writes += 1;
    else result.reads += 1;
    result.iterations += 1;
  }
  return result;
}

/** Each iteration: acquire a lease, markers, hold, markers off, release the lease. */
export async function runOurSemaphoreLoop(
  semaphore: { acquire(timeoutMs: number): Promise<LeaseLike | undefined> },
  markers: RecipeMarkers,
  opts: OurLoopOptions & { maxLeases: number },
): Promise<OurLoopResult> {
  const result: OurLoopResult = { iterations: 0, reads: 0, writes: 0, notOwned: 0 };
  for (let i = 0; i < opts.iterations; i += 1) {
    const lease = await semaphore.acquire(opts.acquireTimeoutMs ?? 60_000);
    if (!lease) throw new Error('no lease in time');
    try {
      const held = await markers.enterSemaphore(opts.maxLeases);
      await sleep(opts.holdMs ?? 10);
      if (!lease.considerAsOwned()) result.notOwned += 1;
      await held.release();
    } finally {
      await lease.release();
    }
    result.iterations += 1;
  }
  return result;
}

/** Each iteration: a new latch, start, await leadership, lead holdMs with the L marker, close. */
export async function runOurLatchLoop(
  newLatch: () => LatchLike,
  markers: RecipeMarkers,
  opts: OurLoopOptions,
): Promise<OurLoopResult> {
  const result: OurLoopResult = { iterations: 0, reads: 0, writes: 0, notOwned: 0 };
  for (let i = 0; i < opts.iterations; i += 1) {
    const latch = newLatch();
    await latch.start();
    try {
      if (!(await latch.await(opts.acquireTimeoutMs ?? 60_000))) throw new Error('no leadership in time');
      const held = await markers.enterLatch();
      await sleep(opts.holdMs ?? 10);
      if (!latch.hasLeadership()) result.notOwned += 1;
      await held.release();
    } finally {
      await latch.close();
    }
    result.iterations += 1;
  }
  return result;
}
