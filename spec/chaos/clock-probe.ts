// The clock regression test's probe (issue 10): a process that timestamps exactly as a chaos worker does
// (records.ts: applyTimeOriginSkew() first, then `now()`), and also with the old per-process clock
// (`performance.timeOrigin + performance.now()`), one line per `stamp` request on stdin:
//   {"shared": <now()>, "timeOrigin": <timeOriginNow()>}
// The first line it writes is its hello: {"hello": true, "skewMs": ..., "timeOriginError": {...}}.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { applyTimeOriginSkew, now, timeOriginError, timeOriginNow } from './records.js';

export interface Stamp {
  shared: number;
  timeOrigin: number;
}

export interface ProbeHello {
  skewMs: number;
  timeOriginError: { vsDateNowMs: number; vsSharedClockMs: number };
}

/** A running probe: `stamp()` asks it for one timestamp pair. */
export class ClockProbe {
  private readonly child: ChildProcess;
  private readonly pending: ((line: string) => void)[] = [];
  readonly hello: Promise<ProbeHello>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<never>((_, reject) =>
      this.child.once('exit', (code, signal) => reject(new Error(`clock probe exited (${code ?? signal})`))),
    );
    exited.catch(() => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.pending.shift()?.(line));
    this.hello = Promise.race([this.nextLine(), exited]).then((line) => JSON.parse(line) as ProbeHello);
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve) => this.pending.push(resolve));
  }

  async stamp(): Promise<Stamp> {
    const line = this.nextLine();
    this.child.stdin!.write('stamp\n');
    return JSON.parse(await line) as Stamp;
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const skewMs = applyTimeOriginSkew();
  const reply = (value: unknown): boolean => process.stdout.write(`${JSON.stringify(value)}\n`);
  reply({ hello: true, skewMs, timeOriginError: timeOriginError() });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', () => reply({ shared: now(), timeOrigin: timeOriginNow() }));
  lines.on('close', () => process.exit(0));
}
