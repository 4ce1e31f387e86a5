// Launchers for Curator 5.4 recipe peers (CuratorRecipeWorker.java, with RecipeMarkers.java and
// CuratorRecipeBench.java): InterProcessReadWriteLock, InterProcessSemaphoreV2 and LeaderLatch.
// Same machinery as index.ts: compiled on first use against the Debian jars (cached by hash),
// children die with this process (loop/bench workers watch stdin, hold workers always do).
//
// Bench launchers: recipe-bench.ts. The loop and hold modes run the file-marker protocol of spec/support/recipe-markers.ts (the
// Node side: same file names, same checks), so Curator's holders and ours count violations together.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../executables.js';
import {
  Worker,
  abortReason,
  compileJavaWorker,
  exitText,
  finiteNumber,
  jarPaths,
  runToResult,
  startArgs,
  wireStart,
  type Json,
  type StartOptions,
} from './index.js';

export { curatorAvailable } from './index.js';

export type CuratorRecipe = 'rwlock' | 'semaphore' | 'latch';

const PEERS_DIR = path.dirname(fileURLToPath(import.meta.url));
const MAIN_CLASS = 'CuratorRecipeWorker';
const SOURCES = ['CuratorRecipeWorker.java', 'RecipeMarkers.java', 'CuratorRecipeBench.java'].map((f) =>
  path.join(PEERS_DIR, f),
);

/** Compiles the recipe worker if needed (call it up front to keep javac out of a timed section). */
export function compileCuratorRecipeWorker(): Promise<string> {
  return compileJavaWorker(SOURCES, MAIN_CLASS);
}

export interface RecipeCommon {
  connectString: string;
  /** The recipe's path (the lock, semaphore or latch path). */
  path: string;
  /** Node data of the worker's nodes (Curator's lock data / latch id). Default curator-<pid>. */
  id?: string;
  /** Default 10 000. */
  sessionTimeoutMs?: number;
  /** Aborting kills the worker (a hold worker closes its session first) and rejects with the reason. */
  signal?: AbortSignal;
}

/** Spawns a recipe worker (compiling it first if needed). Used by recipe-bench.ts too. */
export async function startRecipeWorker(
  recipe: CuratorRecipe,
  mode: 'loop' | 'hold' | 'bench' | 'throughput',
  opts: RecipeCommon,
  extra: string[],
): Promise<Worker> {
  const classDir = await compileCuratorRecipeWorker();
  const args = [opts.connectString, opts.path, recipe, mode, ...extra];
  if (opts.id !== undefined) args.push(`--id=${opts.id}`);
  if (opts.sessionTimeoutMs !== undefined) args.push(`--sessionTimeoutMs=${opts.sessionTimeoutMs}`);
  if (mode !== 'hold') args.push('--watchStdin=1');
  // Test workers start in about half the CPU time with the client compiler only and the serial
  // collector (measured: 0.5 s instead of 1 s user time); bench modes keep the JVM's defaults.
  const quickStart =
    mode === 'loop' || mode === 'hold' ? ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'] : [];
  return new Worker('curator', `${recipe} ${mode}`, findExecutable('java') ?? 'java', [
    '-XX:+DisplayVMOutputToStderr',
    ...quickStart,
    '-cp',
    [classDir, ...jarPaths()].join(path.delimiter),
    MAIN_CLASS,
    ...args,
  ]);
}

export const numberOr = (value: unknown, fallback: number): number =>
  finiteNumber(value) ? value : fallback;

// ---------------------------------------------------------------------------------------------------
// Loop: many holds with markers

interface LoopBase extends RecipeCommon, StartOptions {
  iterations: number;
  /** The shared marker directory (spec/support/recipe-markers.ts). */
  markerDir: string;
  /** Time held (latch: leading) per iteration. Default 10 ms. */
  holdMs?: number;
  /** Per acquire; the worker fails if one takes longer. Default 60 000. */
  acquireTimeoutMs?: number;
  /** Whole run, after compilation. Default 120 000. */
  timeoutMs?: number;
}

export type CuratorLoopOptions =
  | (LoopBase & {
      recipe: 'rwlock';
      /** Probability that an iteration writes (else it reads). Default 0.3. */
      writeRatio?: number;
      /** Seed of the read/write choice. Default: the worker's pid. */
      seed?: number;
    })
  | (LoopBase & { recipe: 'semaphore'; maxLeases: number })
  /** Each iteration: a new LeaderLatch, await leadership, lead holdMs with the marker, close. */
  | (LoopBase & { recipe: 'latch' });

export interface CuratorLoopResult {
  impl: 'curator';
  recipe: CuratorRecipe;
  iterations: number;
  reads: number;
  writes: number;
  /** Holds in which a marker check failed (see recipe-markers.ts). */
  violations: number;
  /** Most R-* files seen by one of this worker's readers. */
  peakReaders: number;
  /** Reads that saw the R-* file of a reader of another implementation (held at the same time). */
  readsBesideOthers: number;
  /** Most S-* files seen by one of this worker's lease holders. */
  peakHolders: number;
  /** Latch: terms after which hasLeadership() was already false (none without faults). */
  lostLeadership: number;
  /** The worker's violation reports, for assertion messages. */
  violationDetails: string[];
}

/** Runs a loop worker to the end; resolves with its counts (violations too: exit 2), rejects on failure. */
export async function runCuratorLoop(opts: CuratorLoopOptions): Promise<CuratorLoopResult> {
  const extra = [
    `--iterations=${opts.iterations}`,
    `--dir=${opts.markerDir}`,
    `--holdMs=${opts.holdMs ?? 10}`,
    `--acquireTimeoutMs=${opts.acquireTimeoutMs ?? 60_000}`,
    ...startArgs(opts),
  ];
  if (opts.recipe === 'rwlock') {
    if (opts.writeRatio !== undefined) extra.push(`--writeRatio=${opts.writeRatio}`);
    if (opts.seed !== undefined) extra.push(`--seed=${opts.seed}`);
  } else if (opts.recipe === 'semaphore') {
    extra.push(`--maxLeases=${opts.maxLeases}`);
  }
  const worker = await startRecipeWorker(opts.recipe, 'loop', opts, extra);
  wireStart(worker, opts);
  const violationDetails: string[] = [];
  worker.onEvent((event) => {
    if (event.event === 'violation') violationDetails.push(`${String(event.role)}: ${String(event.detail)}`);
  });
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal, okCodes: [0, 2] },
    (event) => {
      if (event.event !== undefined || !finiteNumber(event.iterations) || !finiteNumber(event.violations))
        return undefined;
      return {
        impl: 'curator',
        recipe: opts.recipe,
        iterations: event.iterations,
        reads: numberOr(event.reads, 0),
        writes: numberOr(event.writes, 0),
        violations: event.violations,
        peakReaders: numberOr(event.peakReaders, 0),
        readsBesideOthers: numberOr(event.readsBesideOthers, 0),
        peakHolders: numberOr(event.peakHolders, 0),
        lostLeadership: numberOr(event.lostLeadership, 0),
        violationDetails,
      };
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Hold: one read lock, write lock or lease, held until released

export type CuratorHoldOptions = RecipeCommon & {
  /** With it, the holder runs the marker protocol in this directory while it holds. */
  markerDir?: string;
  /** Until acquired. Default 60 000; the waiting worker then closes its session and exits. */
  timeoutMs?: number;
} & ({ recipe: 'rwlock'; side: 'read' | 'write' } | { recipe: 'semaphore'; maxLeases: number });

export interface CuratorHeld {
  /** Full path of the worker's node (the lock node, or the lease node under <path>/leases). */
  readonly node: string;
  /** True if the worker's marker check failed when it acquired (with markerDir only). */
  readonly violation: boolean;
  /** Epoch ms (the worker's clock, the same machine's) at which the acquire returned. */
  readonly acquiredAt: number;
  readonly pid: number;
  /** Sends "release" and waits for the worker to release and exit 0. Idempotent; a no-op after kill(). */
  release(): Promise<void>;
  /** SIGKILL: the session stays until it times out, and so does its node. */
  kill(): void;
}

/**
 * Starts a hold worker and resolves once it holds the read lock, write lock or lease. On timeout or
 * abort the waiting worker closes its session (its node goes at once) and the promise rejects.
 */
export async function holdCuratorRecipe(opts: CuratorHoldOptions): Promise<CuratorHeld> {
  const extra = opts.recipe === 'rwlock' ? [`--side=${opts.side}`] : [`--maxLeases=${opts.maxLeases}`];
  if (opts.markerDir !== undefined) extra.push(`--dir=${opts.markerDir}`);
  const worker = await startRecipeWorker(opts.recipe, 'hold', opts, extra);
  const what = opts.recipe === 'rwlock' ? `the ${opts.side} lock on ${opts.path}` : `a lease of ${opts.path}`;
  const acquired = await firstEvent(worker, 'acquired', opts.timeoutMs ?? 60_000, opts.signal, what);
  if (typeof acquired.node !== 'string') {
    worker.kill();
    throw new Error(`${worker.describe()} reported no node: ${JSON.stringify(acquired)}`);
  }
  worker.setRef(false);
  const node = acquired.node;
  let killed = false;
  let released: Promise<void> | undefined;
  return {
    node,
    violation: acquired.violation === true,
    acquiredAt: numberOr(acquired.at, Number.NaN),
    pid: worker.child.pid ?? -1,
    release(): Promise<void> {
      released ??= finish(worker, 'release', 'released', () => killed, `holding ${node}`);
      return released;
    },
    kill(): void {
      killed = true;
      worker.kill();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Latch: one LeaderLatch, started until closed

export interface CuratorLatchOptions extends RecipeCommon {
  /** With it, the worker creates the L marker while it leads (recipe-markers.ts). */
  markerDir?: string;
  /** Until the worker reports its latch started. Default 30 000. */
  timeoutMs?: number;
}

export interface CuratorLatchPeer {
  /** Full path of the latch node (null if Curator had not created it within 5 s of start()). */
  readonly node: string | null;
  readonly pid: number;
  /** As last reported by the worker's LeaderLatchListener. */
  isLeader(): boolean;
  /**
   * isLeader / notLeader events so far, in order (violation: the L marker was there already; at:
   * epoch ms, the worker's clock for isLeader, else when this process received the event).
   */
  readonly events: Array<{ event: 'isLeader' | 'notLeader'; violation: boolean; at: number }>;
  /** Resolves once the worker reports the state; rejects after timeoutMs (default 20 000). */
  waitForLeadership(leader?: boolean, timeoutMs?: number): Promise<void>;
  /** Closes the latch (its node goes) and waits for the worker to exit 0. Idempotent. */
  close(): Promise<void>;
  kill(): void;
}

/** Starts a worker with one started LeaderLatch; resolves once the latch has started. */
export async function startCuratorLatch(opts: CuratorLatchOptions): Promise<CuratorLatchPeer> {
  const extra = opts.markerDir !== undefined ? [`--dir=${opts.markerDir}`] : [];
  const worker = await startRecipeWorker('latch', 'hold', opts, extra);
  let leader = false;
  const events: CuratorLatchPeer['events'] = [];
  const waiters = new Set<() => void>();
  worker.onEvent((event) => {
    if (event.event !== 'isLeader' && event.event !== 'notLeader') return;
    leader = event.event === 'isLeader';
    events.push({
      event: event.event,
      violation: event.violation === true,
      at: numberOr(event.at, Date.now()),
    });
    for (const wake of [...waiters]) wake();
  });
  const started = await firstEvent(
    worker,
    'started',
    opts.timeoutMs ?? 30_000,
    opts.signal,
    'a started latch',
  );
  worker.setRef(false);
  let killed = false;
  let closed: Promise<void> | undefined;
  return {
    node: typeof started.node === 'string' ? started.node : null,
    pid: worker.child.pid ?? -1,
    isLeader: () => leader,
    events,
    waitForLeadership(wanted = true, timeoutMs = 20_000): Promise<void> {
      if (leader === wanted) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const wake = (): void => {
          if (leader !== wanted) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${worker.describe()}: leader ${String(!wanted)} for ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
        void worker.exited.then(() => {
          if (!waiters.has(wake)) return;
          done();
          reject(new Error(`${worker.describe()} exited while waiting for leader=${wanted}`));
        });
      });
    },
    close(): Promise<void> {
      closed ??= finish(worker, 'release', 'closed', () => killed, 'with its latch started');
      return closed;
    },
    kill(): void {
      killed = true;
      worker.kill();
    },
  };
}

/** Resolves with the worker's first `name` event; on timeout or abort it closes stdin (the worker gives up). */
function firstEvent(
  worker: Worker,
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Json> {
  return new Promise<Json>((resolve, reject) => {
    let settled = false;
    let failure: Error | undefined;
    const giveUp = (error: Error): void => {
      if (settled || failure) return;
      failure = error;
      worker.closeStdin(); // a waiting hold worker closes its session and exits 1
      setTimeout(() => worker.kill(), 5_000).unref();
    };
    const timer = setTimeout(
      () => giveUp(new Error(`${worker.describe()}: no ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => giveUp(abortReason(signal!));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    worker.onEvent((event) => {
      if (settled || failure || event.event !== name) return;
      cleanup();
      resolve(event);
    });
    void worker.exited.then((exit) => {
      if (settled) return;
      cleanup();
      const error = failure ?? new Error(`${worker.describe()} ${exitText(exit)} before ${what}`);
      error.message += worker.diagnostics();
      reject(error);
    });
  });
}

/** Sends `command`, closes stdin, waits for `doneEvent` and exit 0 (30 s, then SIGKILL and reject). */
async function finish(
  worker: Worker,
  command: string,
  doneEvent: string,
  killed: () => boolean,
  state: string,
): Promise<void> {
  if (killed()) return;
  if (!worker.running) {
    const exit = await worker.exited;
    throw new Error(`${worker.describe()} ${exitText(exit)} ${state}${worker.diagnostics()}`);
  }
  worker.setRef(true);
  let sawDone = false;
  worker.onEvent((event) => {
    if (event.event === doneEvent) sawDone = true;
  });
  worker.send(command);
  worker.closeStdin();
  const timer = setTimeout(() => worker.kill(), 30_000);
  const exit = await worker.exited;
  clearTimeout(timer);
  if (killed()) return;
  if (exit.code !== 0 || !sawDone)
    throw new Error(`${worker.describe()} ${exitText(exit)} ${state}${worker.diagnostics()}`);
}
