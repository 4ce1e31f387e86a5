/**
 * TypeScript scripts (fixtures, examples, the CLI) in child processes, run through tsx from the
 * repository root, with their output collected as it comes. Every child still running when the
 * test process exits is killed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => killAllScripts());

/** SIGKILLs every script child still running (for after() hooks). */
export function killAllScripts(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

export class ScriptProcess {
  readonly child: ChildProcess;
  readonly started = Date.now();
  stdout = '';
  stderr = '';
  readonly exited: Promise<Finished>;

  constructor(script: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this.child);
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - this.started });
      }),
    );
  }

  get output(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }

  waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<true> {
    return waitFor(() => pattern.test(this.stdout) || undefined, {
      timeoutMs,
      message: () => `${pattern} in the output of ${this.child.spawnargs.slice(2).join(' ')}\n${this.output}`,
    });
  }

  /** Waits for the exit; SIGKILL and an assertion failure after timeoutMs. */
  async finished(timeoutMs = 30_000): Promise<Finished> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    assert.equal(result.signal, null, `killed after ${timeoutMs} ms\n${this.output}`);
    return result;
  }
}

export interface FixtureRun<T> {
  child: ChildProcess;
  result: Promise<T>;
}

/** Runs a fixture that prints one JSON result line last; rejects on a non-zero exit or a kill. */
export function runFixture<T>(script: string, args: string[], timeoutMs = 120_000): FixtureRun<T> {
  const run = new ScriptProcess(script, args);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const result = run.exited.then(({ code, signal, stdout, stderr }) => {
    clearTimeout(timer);
    const line = stdout.trim().split('\n').pop() ?? '';
    if (code === 0 && line.startsWith('{')) return JSON.parse(line) as T;
    throw new Error(`${script} exited with ${code ?? signal}: ${stderr.slice(-2000)} ${stdout.slice(-500)}`);
  });
  return { child: run.child, result };
}
