// Shared helpers of the benchmarks: statistics, four-letter words, JSON-line child processes,
// the raw node-zookeeper-client view used by the floor, and small timing utilities.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zookeeper from 'node-zookeeper-client';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Monotonic milliseconds (fractional); comparable within one process only. */
export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection after `ms` (the timer is cleared either way). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------
// Statistics

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

// ---------------------------------------------------------------------------------------------------
// Four-letter words against every member (loopback)

export function fourLetterWord(hostPort: string, word: string, timeoutMs = 5_000): Promise<string> {
  const [host = '127.0.0.1', port = '2181'] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${word} to ${hostPort}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** `mntr` of every member, numeric values summed. */
export async function mntr(members: readonly string[]): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const member of members) {
    const text = await fourLetterWord(member, 'mntr');
    for (const line of text.split('\n')) {
      const [key, value] = line.split('\t');
      if (!key || value === undefined) continue;
      const n = Number(value);
      if (Number.isFinite(n)) sums.set(key, (sums.get(key) ?? 0) + n);
    }
  }
  return sums;
}

/** `wchc` of every member: session id (0x...) -> watched paths. */
export async function watchesBySession(members: readonly string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  for (const member of members) {
    const text = await fourLetterWord(member, 'wchc', 15_000);
    let session: string | undefined;
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      if (/^0x[0-9a-f]+$/i.test(raw.trim()) && !raw.startsWith('\t')) {
        session = raw.trim().toLowerCase();
        if (!result.has(session)) result.set(session, []);
      } else if (session) result.get(session)?.push(raw.trim());
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// JSON-line child processes (our own workers under bench/)

export type Json = Record<string, unknown>;
const liveChildren = new Set<ChildProcess>();
let exitHandler = false;

export class JsonChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly events: Json[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly subscribers: Array<(event: Json) => void> = [];
  private partial = '';
  private stderr = '';

  constructor(script: string, args: string[], nodeFlags: string[] = []) {
    if (!exitHandler) {
      exitHandler = true;
      process.on('exit', () => {
        for (const c of liveChildren) c.kill('SIGKILL');
      });
    }
    this.child = spawn(
      process.execPath,
      [...nodeFlags, '--import', 'tsx', path.join(BENCH_DIR, script), ...args],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, DEBUG: process.env.BENCH_CHILD_DEBUG ?? '' },
      },
    );
    liveChildren.add(this.child);
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString()).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim().startsWith('{')) continue;
        try {
          this.events.push(JSON.parse(line) as Json);
        } catch {
          continue;
        }
        for (const subscriber of this.subscribers) subscriber(this.events[this.events.length - 1] as Json);
        for (const wake of [...this.listeners]) wake();
      }
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        liveChildren.delete(this.child);
        for (const wake of [...this.listeners]) wake();
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sees every event as it arrives (events stay available to next()). */
  subscribe(listener: (event: Json) => void): void {
    this.subscribers.push(listener);
  }

  /** Resolves with (and consumes) the first event matching `pick`; rejects on exit or timeout. */
  next(pick: (event: Json) => boolean, timeoutMs: number): Promise<Json> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const index = this.events.findIndex(pick);
        if (index >= 0) {
          const [event] = this.events.splice(index, 1);
          done();
          resolve(event as Json);
        } else if (!this.running) {
          done();
          reject(new Error(`worker ${this.describe()} exited before the expected event${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`worker ${this.describe()}: no expected event within ${timeoutMs} ms${this.tail()}`),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for the result line ({"result": ...}) and the exit. */
  async result<T>(timeoutMs: number): Promise<T> {
    const event = await this.next((e) => e.result !== undefined, timeoutMs);
    return event.result as T;
  }

  send(message: Json): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.write(`${JSON.stringify(message)}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child.kill(signal);
  }

  /** Closes stdin (the worker exits) and waits, killing it after `graceMs`. */
  async finish(graceMs = 10_000): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private describe(): string {
    return `${String(this.child.spawnargs.slice(3, 4))} (pid ${this.child.pid ?? '?'})`;
  }

  private tail(): string {
    return this.stderr.trim() ? `\nstderr: ${this.stderr.trim().slice(-1500)}` : '';
  }
}

/** In a worker: JSON lines out, JSON commands in; exits when stdin closes (the driver is gone). */
export function workerIo(onCommand: (command: Json) => void = () => undefined): {
  emit: (event: Json) => void;
} {
  let partial = '';
  process.stdin.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        onCommand(JSON.parse(line) as Json);
      } catch (error) {
        process.stderr.write(`bad command ${line}: ${String(error)}\n`);
      }
    }
  });
  process.stdin.on('end', () => process.exit(1));
  return { emit: (event) => process.stdout.write(`${JSON.stringify(event)}\n`) };
}

// ---------------------------------------------------------------------------------------------------
// The raw node-zookeeper-client, as a local minimal type (the floor and RTT probes)

export interface RawError {
  code: number;
  name: string;
}
export interface RawClient {
  connect(): void;
  close(): void;
  once(event: 'connected', listener: () => void): void;
  create(
    path: string,
    data: Buffer,
    mode: number,
    callback: (error: RawError | null, path: string) => void,
  ): void;
  remove(path: string, version: number, callback: (error: RawError | null) => void): void;
  exists(path: string, callback: (error: RawError | null, stat: unknown) => void): void;
  getChildren(path: string, callback: (error: RawError | null, children: string[]) => void): void;
  mkdirp(path: string, callback: (error: RawError | null) => void): void;
}
interface RawModule {
  createClient(connect: string, options: { sessionTimeout: number; retries: number }): RawClient;
  CreateMode: { EPHEMERAL_SEQUENTIAL: number; PERSISTENT: number };
}
export const raw = zookeeper as RawModule;

export async function connectRaw(connect: string, sessionTimeoutMs = 10_000): Promise<RawClient> {
  const client = raw.createClient(connect, { sessionTimeout: sessionTimeoutMs, retries: 0 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raw client: no session with ${connect}`)), 15_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

export function rawCall<T>(call: (cb: (error: RawError | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    call((error, value) => {
      if (error) reject(new Error(`ZooKeeper ${error.name} (${error.code})`));
      else resolve(value as T);
    });
  });
}

/** Median round trip of `count` sequential exists('/') requests, in ms. */
export async function measureRtt(connect: string, count: number): Promise<number> {
  const client = await connectRaw(connect);
  try {
    const samples: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const start = now();
      await rawCall<unknown>((cb) => client.exists('/', cb));
      samples.push(now() - start);
    }
    return median(samples.slice(Math.floor(count / 5)));
  } finally {
    client.close();
  }
}
