// The chaos run's load mode: one busy-looping child process per core for the whole run, because the
// machines that run CI are shared (issue 10: the seed-3 failure came from a loaded machine). Bounded
// three ways: stop() kills them, each exits by itself once its parent is gone (it checks its parent
// every 50 ms) and after `maxMs` in any case.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

const BUSY_LOOP = `
const parent = Number(process.argv[1]);
const until = Date.now() + Number(process.argv[2]);
let x = 0;
while (Date.now() < until && process.ppid === parent) {
  const slice = Date.now() + 50;
  while (Date.now() < slice) x = (x * 31 + 7) % 1000003;
}
`;

export class BusyLoad {
  private readonly children: ChildProcess[] = [];

  /** Starts `processes` busy loops (default: one per core), each ending after `maxMs` at the latest. */
  constructor(maxMs: number, processes = availableParallelism()) {
    for (let i = 0; i < processes; i += 1) {
      const child = spawn(process.execPath, ['-e', BUSY_LOOP, String(process.pid), String(maxMs)], {
        stdio: 'ignore',
      });
      this.children.push(child);
    }
    process.once('exit', this.stop);
  }

  get count(): number {
    return this.children.length;
  }

  readonly stop = (): void => {
    process.removeListener('exit', this.stop);
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
}
