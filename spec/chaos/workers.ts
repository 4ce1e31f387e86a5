// Worker processes of a chaos run, seen from the orchestrator: spawn (with the run's shared clock offset
// in the environment), kill -9, pause (SIGSTOP/SIGCONT), restart after a crash, the stdin/stdout command
// protocol (quiesce, close), and the 'spawn'/'ready'/'kill'/'exit' events.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FaultProxy } from '../support/fault-proxy.js';
import {
  CLOCK_OFFSET_ENV,
  clockOffset,
  now,
  TIME_ORIGIN_SKEW_ENV,
  type RunEvent,
  type RunMeta,
} from './records.js';
import { TASK_MUTANT } from './tasks.js';

const WORKER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts');
const READY_TIMEOUT_MS = 60_000;
const QUIESCE_TIMEOUT_MS = 40_000;
const CLOSE_TIMEOUT_MS = 15_000;

// Children die with this process, whatever the way out.
export const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}

/** Resolves with the promise's value, or `fallback` after `ms`; the timer never outlives the race. */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => {
        timer = setTimeout(() => resolve(fallback), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function tailOf(file: string, chars = 3000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-chars);
  } catch {
    return '';
  }
}

interface LineWaiter {
  prefix: string;
  resolve: (rest: string) => void;
  reject: (error: Error) => void;
}

export class WorkerHandle {
  inc = -1;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectedExit = false;
  private waiters = new Set<LineWaiter>();
  /** Set while a crashed worker is being restarted. */
  recovering: Promise<void> = Promise.resolve();
  /** No respawn after a crash once the run is winding down. */
  respawnOnCrash = true;

  constructor(
    readonly w: number,
    readonly proxies: FaultProxy[],
    private readonly ctx: RunContext,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get logFile(): string {
    return join(this.ctx.dir, `w${this.w}-${this.inc}.jsonl`);
  }

  async spawn(): Promise<void> {
    this.inc += 1;
    const inc = this.inc;
    const stderrFile = join(this.ctx.dir, `w${this.w}-${inc}.stderr`);
    const stderrFd = openSync(stderrFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          WORKER_SCRIPT,
          ...['--worker', String(this.w), '--inc', String(inc)],
          ...['--connect', this.proxies.map((p) => p.connectString).join(',')],
          ...['--paths', this.ctx.meta.paths.join(','), '--session', String(this.ctx.meta.sessionTimeoutMs)],
          ...['--log', this.logFile, '--seed', this.ctx.meta.seed],
          ...[
            '--selectors',
            String(this.ctx.meta.selectorsPerPath),
            '--locks',
            String(this.ctx.meta.lockLoopsPerPath),
          ],
          ...(this.ctx.meta.taskGroup
            ? [
                '--task-group',
                this.ctx.meta.taskGroup.path,
                '--tasks',
                String(this.ctx.meta.taskGroup.tasks.length),
              ]
            : []),
        ],
        {
          stdio: ['pipe', 'pipe', stderrFd],
          env: {
            ...process.env,
            DEBUG: this.ctx.debug ? 'zk-leader-selector:*' : '',
            // One clock for every process of the run (records.ts).
            [CLOCK_OFFSET_ENV]: String(clockOffset()),
            CHAOS_MUTANT: this.ctx.mutants.has(this.w) ? `ignore-ownership,${TASK_MUTANT}` : '',
            [TIME_ORIGIN_SKEW_ENV]: String(this.ctx.timeOriginSkews.get(this.w) ?? 0),
          },
        },
      );
    } finally {
      closeSync(stderrFd);
    }
    this.child = child;
    this.expectedExit = false;
    this.holding = 0;
    this.holdingTasks = 0;
    liveChildren.add(child);
    child.stdin?.on('error', () => undefined);
    this.ctx.event({ t: 'spawn', w: this.w, inc, pid: child.pid ?? -1, at: now() });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        const at = now();
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        const expected = this.expectedExit;
        this.ctx.event({
          t: 'exit',
          w: this.w,
          inc,
          at,
          code,
          signal,
          expected,
          ...(expected ? {} : { stderrTail: tailOf(stderrFile) }),
        });
        for (const waiter of this.waiters)
          waiter.reject(new Error(`worker w${this.w}.${inc} exited (${code ?? signal})`));
        this.waiters.clear();
        if (!expected) {
          this.ctx.log(
            `worker w${this.w}.${inc} CRASHED (code ${code}, signal ${signal}); see ${stderrFile}`,
          );
          if (this.respawnOnCrash) {
            this.recovering = abortableSleep(500, undefined)
              .then(() => this.spawn())
              .catch((error: unknown) => this.ctx.log(`worker w${this.w} restart failed: ${String(error)}`));
          }
        }
        resolve();
      });
    });
    const sessionId = await this.waitLine('ready ', READY_TIMEOUT_MS);
    this.ctx.event({ t: 'ready', w: this.w, inc, at: now(), sessionId: sessionId.trim() });
  }

  /** Locks the worker says it holds right now (mutant workers announce `holding`/`released <path>`). */
  private holding = 0;
  /** Task terms the worker says it runs now (`holding-task`/`released-task <path>`, tasks.ts). */
  private holdingTasks = 0;
  private holdingWaiters = new Set<() => void>();

  /**
   * Resolves once the worker holds a lock (and with `task`, runs a task's term too; at once if it
   * does); rejects after `timeoutMs`.
   */
  waitHolding(timeoutMs: number, options: { task?: boolean } = {}): Promise<void> {
    const holds = (): boolean => this.holding > 0 && (!options.task || this.holdingTasks > 0);
    if (holds()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        if (!holds()) return;
        clearTimeout(timer);
        this.holdingWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.holdingWaiters.delete(done);
        reject(
          new Error(
            `worker w${this.w}.${this.inc}: held no lock${options.task ? ' and task' : ''} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.holdingWaiters.add(done);
    });
  }

  private onLine(line: string): void {
    if (line.startsWith('holding ')) {
      this.holding += 1;
      for (const waiter of [...this.holdingWaiters]) waiter();
      return;
    }
    if (line.startsWith('released ')) {
      this.holding = Math.max(0, this.holding - 1);
      return;
    }
    if (line.startsWith('holding-task ')) {
      this.holdingTasks += 1;
      for (const waiter of [...this.holdingWaiters]) waiter();
      return;
    }
    if (line.startsWith('released-task ')) {
      this.holdingTasks = Math.max(0, this.holdingTasks - 1);
      return;
    }
    for (const waiter of this.waiters) {
      if (line.startsWith(waiter.prefix)) {
        this.waiters.delete(waiter);
        waiter.resolve(line.slice(waiter.prefix.length));
        return;
      }
    }
  }

  waitLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`worker w${this.w}.${this.inc}: no "${prefix.trim()}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: LineWaiter = {
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** kill -9; resolves once the process is gone. The kill time is recorded after the signal was sent. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectedExit = true;
    child.kill('SIGKILL');
    this.ctx.event({ t: 'kill', w: this.w, inc: this.inc, at: now() });
    await within(this.exited, 10_000, undefined);
  }

  /**
   * SIGSTOP for `ms`, then SIGCONT (always, also when aborted). `onStopped`/`onResumed` run right after
   * the stop signal was sent and right before the continue signal is sent, so the recorded pause
   * contains the time the process could not run.
   */
  async pause(ms: number, signal: AbortSignal | undefined, onStopped: () => void, onResumed: () => void) {
    const child = this.child;
    if (!child) return;
    child.kill('SIGSTOP');
    onStopped();
    try {
      await abortableSleep(ms, signal);
    } finally {
      onResumed();
      child.kill('SIGCONT');
    }
  }

  send(command: string): void {
    this.child?.stdin?.write(`${command}\n`);
  }

  /** Stops all load in the worker; resolves with its live session id. */
  async quiesce(): Promise<{ sessionId?: string; state?: string }> {
    const answer = this.waitLine('quiesced ', QUIESCE_TIMEOUT_MS);
    this.send('quiesce');
    return JSON.parse(await answer) as { sessionId?: string; state?: string };
  }

  /** Graceful close; kill -9 (recorded) if it does not finish in time. */
  async close(): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    this.expectedExit = true;
    this.respawnOnCrash = false;
    this.send('close');
    const graceful = await within(
      this.exited.then(() => true),
      CLOSE_TIMEOUT_MS,
      false,
    );
    if (!graceful) {
      this.ctx.log(`worker w${this.w}.${this.inc} did not close within ${CLOSE_TIMEOUT_MS} ms: kill -9`);
      this.ctx.event({ t: 'note', at: now(), text: `w${this.w}.${this.inc} did not close gracefully` });
      await this.kill();
    }
    return graceful && child.exitCode === 0;
  }
}

export interface RunContext {
  dir: string;
  meta: RunMeta;
  debug: boolean;
  /** Workers that run with CHAOS_MUTANT=ignore-ownership (the mutant test). */
  mutants: ReadonlySet<number>;
  /** Per worker: skew of its performance.timeOrigin in ms (the clock test knob; the shared clock ignores it). */
  timeOriginSkews: ReadonlyMap<number, number>;
  event(e: RunEvent): void;
  log(line: string): void;
}
