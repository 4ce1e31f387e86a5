// Launchers for peer lock clients written with other ZooKeeper libraries: a real Apache Curator
// InterProcessMutex (CuratorLockWorker.java) and a real kazoo Lock (kazoo_lock_worker.py). Tests use
// them to check mutual exclusion across implementations; benchmarks use bench mode. Curator's
// read-write lock, semaphore and leader latch workers are launched from recipes.ts (same machinery).
//
// - Curator: CuratorLockWorker.java is compiled on first use with `javac -d` against the Debian jars,
//   once per machine, into os.tmpdir()/zk-leader-selector-peers/<hash of source + jars>/ (built in a
//   temp dir, then renamed into place, so concurrent test processes never see a half-built directory).
// - kazoo: run by /usr/bin/python3 (python3-kazoo), not by whatever `python3` is first on PATH.
// - Every child dies with the test process: an 'exit' handler SIGKILLs live children, and loop/bench
//   workers are started with --watchStdin=1 (hold workers always watch stdin), so they exit when the
//   pipe from this process closes, however this process died.
//
// Environment: JAVA_HOME (java/javac, else PATH), PEERS_JAVA_LIB_DIR (default /usr/share/java),
// KAZOO_PYTHON (default /usr/bin/python3).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../executables.js';

export type PeerImpl = 'curator' | 'kazoo';
export type Availability = { ok: true } | { ok: false; reason: string };

export interface LoopResult {
  impl: PeerImpl;
  iterations: number;
  violations: number;
  /** Epoch ms (fractional) of the first acquire / last release; null when iterations is 0. */
  firstAcquiredAt: number | null;
  lastReleasedAt: number | null;
  /** [acquiredAt, releasingAt] epoch ms per iteration; only with `recordHolds: true`. */
  holds?: Array<[number, number]>;
}

export interface BenchResult {
  impl: PeerImpl;
  cycles: number;
  /** Measured duration of the timed part (about the requested seconds). */
  seconds: number;
  cyclesPerSecond: number;
}

export interface HandoffResult {
  impl: PeerImpl;
  /**
   * [acquiredAt, releaseCalledAt, releasedAt] per acquisition after the warm-up, in acquisition
   * order; ms on one monotonic clock of the worker process (not epoch).
   */
  records: Array<[number, number, number]>;
}

export interface HeldPeer {
  readonly impl: PeerImpl;
  /** Full path of the peer's lock node, e.g. /locks/x/_c_<uuid>-lock-0000000003. */
  readonly node: string;
  readonly pid: number;
  /** Sends "release", waits for the worker to release and exit 0. Idempotent; a no-op after kill(). */
  release(): Promise<void>;
  /**
   * SIGKILLs the worker: a crash. Its session is not closed, so its ephemeral lock node stays until
   * the session times out (sessionTimeoutMs); other contenders stay blocked until then.
   */
  kill(): void;
}

interface CommonOptions {
  connectString: string;
  lockPath: string;
  /** Default 10 000. */
  sessionTimeoutMs?: number;
  /**
   * kazoo only (ignored by Curator): suffix of kazoo's node names. Default '__lock__' (stock kazoo:
   * `<32 hex>__lock__<seq>`). Curator 5.4 does not order '__lock__' nodes and takes the lock while a
   * stock kazoo client holds it; pass '-lock-' (`<32 hex>-lock-<seq>`) whenever a Curator peer
   * contends for the same lock.
   */
  kazooNodeName?: string;
  /** Aborting kills the worker (gracefully for a waiting hold worker) and rejects with the reason. */
  signal?: AbortSignal;
}

export interface StartOptions {
  /** Called once the worker is connected to ZooKeeper and about to start (before any acquire). */
  onReady?: () => void;
  /** The worker connects, then waits for this before its first acquire: use it to start peers together. */
  startGate?: PromiseLike<unknown>;
}

export interface LoopOptions extends CommonOptions, StartOptions {
  iterations: number;
  /** Created with O_EXCL while the lock is held; finding it already there counts a violation. */
  markerFile: string;
  /** Time the lock is held per iteration. Default 10 ms. */
  holdMs?: number;
  /** Whole run, after compilation. Default 120 000. */
  timeoutMs?: number;
  /** Return the [acquiredAt, releasingAt] pair of every iteration. */
  recordHolds?: boolean;
}

export interface HoldOptions extends CommonOptions {
  /** Until the lock is acquired. Default 60 000; the waiting worker then closes its session and exits. */
  timeoutMs?: number;
}

export interface BenchOptions extends CommonOptions, StartOptions {
  seconds: number;
  /** Whole run, after compilation. Default seconds * 1000 + 60 000. */
  timeoutMs?: number;
}

export interface HandoffOptions extends CommonOptions {
  /** Clients (one session each, in one worker process) contending for the lock: waiters + 1. */
  clients: number;
  /** Acquisitions dropped before recording. Default 0. */
  warmup?: number;
  /** Acquisitions recorded. */
  handoffs: number;
  /** Time each holder keeps the lock. Default 1 ms. */
  holdMs?: number;
  /** Whole run, after compilation. Default 120 000. */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------------
// Locations and availability

const PEERS_DIR = path.dirname(fileURLToPath(import.meta.url));
const JAVA_SOURCE = path.join(PEERS_DIR, 'CuratorLockWorker.java');
const JAVA_MAIN_CLASS = 'CuratorLockWorker';
const KAZOO_SCRIPT = path.join(PEERS_DIR, 'kazoo_lock_worker.py');
const JAVA_LIB_DIR = process.env.PEERS_JAVA_LIB_DIR ?? '/usr/share/java';
const KAZOO_PYTHON = process.env.KAZOO_PYTHON ?? '/usr/bin/python3';

/**
 * What the Curator worker loads at run time (checked with -verbose:class): Curator 5.4 recipes,
 * framework and client, the ZooKeeper 3.8 client and jute, guava, slf4j-api, and slf4j-nop so that
 * Curator/ZooKeeper logging never reaches stdout. No netty (the client uses NIO), no jackson.
 */
export const CURATOR_JARS: readonly string[] = [
  'curator-recipes.jar',
  'curator-framework.jar',
  'curator-client.jar',
  'zookeeper.jar',
  'zookeeper-jute.jar',
  'guava.jar',
  'slf4j-api.jar',
  'slf4j-nop.jar',
];

export function jarPaths(): string[] {
  return CURATOR_JARS.map((jar) => path.join(JAVA_LIB_DIR, jar));
}

let curatorAvailability: Availability | undefined;

/** True when java, javac and the Curator/ZooKeeper jars are installed. Does not compile. */
export function curatorAvailable(): Availability {
  if (curatorAvailability) return curatorAvailability;
  const missingJars = jarPaths().filter((jar) => !existsSync(jar));
  if (!findExecutable('java'))
    curatorAvailability = { ok: false, reason: 'java not found (JAVA_HOME or PATH)' };
  else if (!findExecutable('javac'))
    curatorAvailability = { ok: false, reason: 'javac not found (JAVA_HOME or PATH); install a JDK' };
  else if (missingJars.length > 0)
    curatorAvailability = {
      ok: false,
      reason: `missing ${missingJars.join(', ')} (Debian: libcurator-recipes-java, libzookeeper-java, libslf4j-java)`,
    };
  else curatorAvailability = { ok: true };
  return curatorAvailability;
}

const KAZOO_PROBE = `
import inspect, sys
import kazoo.version
from kazoo.recipe.lock import Lock
if 'extra_lock_patterns' not in inspect.signature(Lock.__init__).parameters:
    sys.exit('kazoo %s: Lock has no extra_lock_patterns (needs kazoo >= 2.7.1)' % kazoo.version.__version__)
print(kazoo.version.__version__)
`;

let kazooAvailability: Availability | undefined;
let kazooVersion: string | undefined;

/** True when KAZOO_PYTHON (default /usr/bin/python3) imports kazoo with Lock(extra_lock_patterns=...). */
export function kazooAvailable(): Availability {
  if (kazooAvailability) return kazooAvailability;
  const probe = spawnSync(KAZOO_PYTHON, ['-c', KAZOO_PROBE], { encoding: 'utf8', timeout: 15_000 });
  if (probe.error) {
    kazooAvailability = { ok: false, reason: `${KAZOO_PYTHON}: ${probe.error.message}` };
  } else if (probe.status !== 0) {
    const detail = (probe.stderr || '').trim().split('\n').slice(-1)[0] ?? '';
    kazooAvailability = {
      ok: false,
      reason: `kazoo not usable with ${KAZOO_PYTHON} (python3-kazoo): ${detail}`,
    };
  } else {
    kazooVersion = probe.stdout.trim();
    kazooAvailability = { ok: true };
  }
  return kazooAvailability;
}

/** kazoo's version string once kazooAvailable() succeeded, e.g. '2.8.0'. */
export function kazooVersionString(): string | undefined {
  kazooAvailable();
  return kazooVersion;
}

// ---------------------------------------------------------------------------------------------------
// Compilation of the Curator worker

const compiledDirs = new Map<string, Promise<string>>();

/**
 * Compiles CuratorLockWorker.java if needed and returns the directory holding its classes. Called by
 * the launchers; call it up front to keep compilation out of a timed section.
 */
export function compileCuratorWorker(): Promise<string> {
  return compileJavaWorker([JAVA_SOURCE], JAVA_MAIN_CLASS);
}

/**
 * Compiles Java sources (one main class and its helpers) against the Curator jars, once per machine
 * and content: os.tmpdir()/zk-leader-selector-peers/<hash of sources + jars + javac>/. Resolves with
 * the class directory. Used for every Curator worker (recipes.ts too).
 */
export function compileJavaWorker(sources: readonly string[], mainClass: string): Promise<string> {
  const key = `${mainClass}\0${sources.join('\0')}`;
  let compiled = compiledDirs.get(key);
  if (!compiled) {
    compiled = doCompile(sources, mainClass).catch((error: unknown) => {
      compiledDirs.delete(key);
      throw error;
    });
    compiledDirs.set(key, compiled);
  }
  return compiled;
}

async function doCompile(sources: readonly string[], mainClass: string): Promise<string> {
  const available = curatorAvailable();
  if (!available.ok) throw new Error(`Curator worker not available: ${available.reason}`);
  const javac = findExecutable('javac')!;
  const hash = createHash('sha256');
  for (const source of sources) {
    hash.update(`${path.basename(source)}\0`);
    hash.update(readFileSync(source));
  }
  for (const jar of jarPaths()) hash.update(`\0${realpathSync(jar)}`);
  hash.update(`\0${realpathSync(javac)}`);
  const root = path.join(os.tmpdir(), 'zk-leader-selector-peers');
  const dir = path.join(root, hash.digest('hex').slice(0, 20));
  const classFile = path.join(dir, `${mainClass}.class`);
  if (existsSync(classFile)) return dir;

  await mkdir(root, { recursive: true });
  const staging = await mkdtemp(path.join(root, '.build-'));
  try {
    const result = await collect(javac, [
      '-nowarn',
      '-encoding',
      'UTF-8',
      '-cp',
      jarPaths().join(path.delimiter),
      '-d',
      staging,
      ...sources,
    ]);
    if (result.code !== 0)
      throw new Error(
        `javac ${sources.join(' ')} failed (${result.code ?? result.signal}):\n${result.output.slice(-4000)}`,
      );
    try {
      await rename(staging, dir);
    } catch (error) {
      // Another process won the race (a non-empty directory cannot be renamed over): use theirs.
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(classFile)) throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dir;
}

function collect(
  command: string,
  args: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

// ---------------------------------------------------------------------------------------------------
// Child bookkeeping

const liveChildren = new Set<ChildProcess>();
let exitHandlerInstalled = false;

export function track(child: ChildProcess): void {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  liveChildren.add(child);
  child.on('exit', () => liveChildren.delete(child));
  child.on('error', () => liveChildren.delete(child));
}

export type Json = Record<string, unknown>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** One running worker process: parsed JSON stdout lines, stderr tail, exit. */
export class Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private stderr = '';
  private stdoutNoise = '';
  private partial = '';
  private readonly listeners: Array<(event: Json) => void> = [];
  private exitInfo: Exit | undefined;

  constructor(
    readonly impl: PeerImpl,
    readonly mode: string,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    track(this.child);
    this.child.stdin?.on('error', () => undefined); // EPIPE after the worker exited
    this.child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-8000);
    });
    this.exited = new Promise<Exit>((resolve) => {
      this.child.on('error', (error) => {
        this.exitInfo ??= { code: null, signal: null, error };
        resolve(this.exitInfo);
      });
      this.child.on('close', (code, signal) => {
        if (this.partial) this.onLine(this.partial);
        this.partial = '';
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  onEvent(listener: (event: Json) => void): void {
    this.listeners.push(listener);
  }

  send(line: string): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.write(`${line}\n`);
  }

  closeStdin(): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.end();
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** Lets this process exit while the worker runs (the exit handler then kills it). */
  setRef(ref: boolean): void {
    const handles = [
      this.child.stdin,
      this.child.stdout,
      this.child.stderr,
    ] as unknown as Array<net.Socket | null>;
    if (ref) this.child.ref();
    else this.child.unref();
    for (const handle of handles) {
      if (ref) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  describe(): string {
    return `${this.impl} ${this.mode} worker (pid ${this.child.pid ?? '?'})`;
  }

  diagnostics(): string {
    const parts: string[] = [];
    if (this.exitInfo?.error) parts.push(`spawn error: ${this.exitInfo.error.message}`);
    if (this.stderr.trim()) parts.push(`stderr tail:\n${this.stderr.trim().slice(-3000)}`);
    if (this.stdoutNoise.trim()) parts.push(`non-JSON stdout:\n${this.stdoutNoise.trim().slice(-1000)}`);
    return parts.length > 0 ? `\n${parts.join('\n')}` : ' (no output)';
  }

  private onStdout(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  private onLine(raw: string): void {
    const line = raw.trim();
    if (!line) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      this.stdoutNoise = (this.stdoutNoise + line + '\n').slice(-4000);
      return;
    }
    for (const listener of this.listeners) listener(parsed as Json);
  }
}

export function exitText(exit: Exit): string {
  if (exit.error) return `failed to start: ${exit.error.message}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

async function startWorker(
  impl: PeerImpl,
  mode: 'loop' | 'hold' | 'bench' | 'handoff',
  opts: CommonOptions,
  extra: string[],
): Promise<Worker> {
  const args = [opts.connectString, opts.lockPath, mode, ...extra];
  if (opts.sessionTimeoutMs !== undefined) args.push(`--sessionTimeoutMs=${opts.sessionTimeoutMs}`);
  if (mode !== 'hold') args.push('--watchStdin=1');
  if (impl === 'curator') {
    const classDir = await compileCuratorWorker();
    const classpath = [classDir, ...jarPaths()].join(path.delimiter);
    return new Worker(impl, mode, findExecutable('java') ?? 'java', [
      '-XX:+DisplayVMOutputToStderr',
      '-cp',
      classpath,
      JAVA_MAIN_CLASS,
      ...args,
    ]);
  }
  if (impl === 'kazoo') {
    const available = kazooAvailable();
    if (!available.ok) throw new Error(`kazoo worker not available: ${available.reason}`);
    if (opts.kazooNodeName !== undefined) args.push(`--nodeName=${opts.kazooNodeName}`);
    return new Worker(impl, mode, KAZOO_PYTHON, ['-u', KAZOO_SCRIPT, ...args]);
  }
  throw new Error(`unknown peer implementation: ${String(impl)}`);
}

export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

/** Wires --waitForGo: onReady on the worker's "ready" event, then "go" once startGate settles. */
export function startArgs(opts: StartOptions): string[] {
  return opts.onReady || opts.startGate ? ['--waitForGo=1'] : [];
}

export function wireStart(worker: Worker, opts: StartOptions): void {
  if (!opts.onReady && !opts.startGate) return;
  let readySeen = false;
  worker.onEvent((event) => {
    if (event.event !== 'ready' || readySeen) return;
    readySeen = true;
    try {
      opts.onReady?.();
    } finally {
      // A rejected gate starts the worker anyway; the caller sees its own rejection elsewhere.
      Promise.resolve(opts.startGate).then(
        () => worker.send('go'),
        () => worker.send('go'),
      );
    }
  });
}

/** Runs a worker to completion; resolves with `pick(event)` of the first event it accepts. */
export function runToResult<T>(
  worker: Worker,
  opts: { timeoutMs: number; signal?: AbortSignal; okCodes: number[] },
  pick: (event: Json) => T | undefined,
): Promise<T> {
  let result: T | undefined;
  worker.onEvent((event) => {
    if (result === undefined) result = pick(event);
  });
  return new Promise<T>((resolve, reject) => {
    let failure: Error | undefined;
    const fail = (error: Error): void => {
      failure ??= error;
      worker.kill();
    };
    const timer = setTimeout(
      () => fail(new Error(`${worker.describe()} timed out after ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    const onAbort = (): void => fail(abortReason(opts.signal!));
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    void worker.exited.then((exit) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure) {
        failure.message += worker.diagnostics();
        reject(failure);
      } else if (exit.code !== null && opts.okCodes.includes(exit.code) && result !== undefined) {
        resolve(result);
      } else {
        const why =
          result === undefined && exit.code !== null && opts.okCodes.includes(exit.code)
            ? ' without a result line'
            : '';
        reject(new Error(`${worker.describe()} ${exitText(exit)}${why}${worker.diagnostics()}`));
      }
    });
  });
}

export function finiteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function numberOrNull(value: unknown): number | null {
  return finiteNumber(value) ? value : null;
}

// ---------------------------------------------------------------------------------------------------
// Public launchers

/**
 * Runs a loop worker: `iterations` times acquire, create `markerFile` with O_EXCL (already there =
 * violation), hold `holdMs`, delete it, release. Resolves with the result (violations included: exit
 * code 2); rejects with the stderr tail on any other failure, on timeout (the child is killed), or on abort.
 */
export async function runLoopWorker(impl: PeerImpl, opts: LoopOptions): Promise<LoopResult> {
  const extra = [
    `--iterations=${opts.iterations}`,
    `--marker=${opts.markerFile}`,
    `--holdMs=${opts.holdMs ?? 10}`,
    ...startArgs(opts),
  ];
  if (opts.recordHolds) extra.push('--recordHolds=1');
  const worker = await startWorker(impl, 'loop', opts, extra);
  wireStart(worker, opts);
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal, okCodes: [0, 2] },
    (event) => {
      if (event.event !== undefined || !finiteNumber(event.iterations) || !finiteNumber(event.violations))
        return undefined;
      const result: LoopResult = {
        impl,
        iterations: event.iterations,
        violations: event.violations,
        firstAcquiredAt: numberOrNull(event.firstAcquiredAt),
        lastReleasedAt: numberOrNull(event.lastReleasedAt),
      };
      if (Array.isArray(event.holds)) {
        result.holds = event.holds.filter(
          (h): h is [number, number] =>
            Array.isArray(h) && h.length === 2 && finiteNumber(h[0]) && finiteNumber(h[1]),
        );
      }
      return result;
    },
  );
}

/**
 * Starts a hold worker and resolves once it holds the lock (it waits while someone else holds it).
 * On timeout or abort the waiting worker closes its session (so its node goes away at once) and the
 * promise rejects. While held, the worker does not keep this process alive: forgotten peers are killed
 * when it exits.
 */
export async function holdLock(impl: PeerImpl, opts: HoldOptions): Promise<HeldPeer> {
  const worker = await startWorker(impl, 'hold', opts, []);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const node = await new Promise<string>((resolve, reject) => {
    let settled = false;
    let failure: Error | undefined;
    const giveUp = (error: Error): void => {
      if (settled || failure) return;
      failure = error;
      worker.closeStdin(); // the worker closes its session and exits 1
      setTimeout(() => worker.kill(), 5_000).unref();
    };
    const timer = setTimeout(
      () => giveUp(new Error(`${worker.describe()} did not acquire ${opts.lockPath} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => giveUp(abortReason(opts.signal!));
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    worker.onEvent((event) => {
      if (settled || failure || event.event !== 'acquired') return;
      cleanup();
      if (typeof event.node === 'string') resolve(event.node);
      else {
        worker.kill();
        reject(
          new Error(
            `${worker.describe()} reported an acquired event without a node: ${JSON.stringify(event)}`,
          ),
        );
      }
    });
    void worker.exited.then((exit) => {
      if (settled) return;
      cleanup();
      const error =
        failure ?? new Error(`${worker.describe()} ${exitText(exit)} before acquiring ${opts.lockPath}`);
      error.message += worker.diagnostics();
      reject(error);
    });
  });

  worker.setRef(false);
  let killed = false;
  let released: Promise<void> | undefined;
  return {
    impl,
    node,
    pid: worker.child.pid ?? -1,
    release(): Promise<void> {
      released ??= (async () => {
        if (killed) return;
        if (!worker.running) {
          const exit = await worker.exited;
          throw new Error(
            `${worker.describe()} ${exitText(exit)} while holding ${node}${worker.diagnostics()}`,
          );
        }
        worker.setRef(true);
        let sawReleased = false;
        worker.onEvent((event) => {
          if (event.event === 'released') sawReleased = true;
        });
        worker.send('release');
        worker.closeStdin();
        const timer = setTimeout(() => worker.kill(), 30_000);
        const exit = await worker.exited;
        clearTimeout(timer);
        if (killed) return;
        if (exit.code !== 0 || !sawReleased) {
          throw new Error(
            `${worker.describe()} ${exitText(exit)} while releasing ${node}${worker.diagnostics()}`,
          );
        }
      })();
      return released;
    },
    kill(): void {
      killed = true;
      worker.kill();
    },
  };
}

/** Uncontended acquire+release cycles for `seconds` after a 1 s warm-up (JVM/interpreter start not included). */
export async function runBenchWorker(impl: PeerImpl, opts: BenchOptions): Promise<BenchResult> {
  const worker = await startWorker(impl, 'bench', opts, [`--seconds=${opts.seconds}`, ...startArgs(opts)]);
  wireStart(worker, opts);
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? opts.seconds * 1000 + 60_000, signal: opts.signal, okCodes: [0] },
    (event) => {
      if (event.event !== undefined || !finiteNumber(event.cycles) || !finiteNumber(event.cyclesPerSecond))
        return undefined;
      return {
        impl,
        cycles: event.cycles,
        seconds: finiteNumber(event.seconds) ? event.seconds : opts.seconds,
        cyclesPerSecond: event.cyclesPerSecond,
      };
    },
  );
}

/**
 * Runs a handoff worker (bench/): `clients` sessions in one process loop acquire / hold / release on
 * one lock; resolves with the timestamps of every recorded acquisition.
 */
export async function runHandoffWorker(impl: PeerImpl, opts: HandoffOptions): Promise<HandoffResult> {
  const worker = await startWorker(impl, 'handoff', opts, [
    `--clients=${opts.clients}`,
    `--warmup=${opts.warmup ?? 0}`,
    `--handoffs=${opts.handoffs}`,
    `--holdMs=${opts.holdMs ?? 1}`,
  ]);
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? 120_000, signal: opts.signal, okCodes: [0] },
    (event) => {
      if (event.event !== undefined || !Array.isArray(event.records)) return undefined;
      return {
        impl,
        records: event.records.filter(
          (r): r is [number, number, number] =>
            Array.isArray(r) && r.length === 3 && r.every((x) => finiteNumber(x)),
        ),
      };
    },
  );
}
