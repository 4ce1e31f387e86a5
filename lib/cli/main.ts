#!/usr/bin/env node
/**
 * The `zk-leader-selector` command: `inspect <path>` and `watch <path>` show who holds a lock (or
 * leads) and who waits. Run `zk-leader-selector --help`.
 */
import { runCli } from './run.js';

const controller = new AbortController();
const onSignal = (): void => {
  // A second Ctrl-C: give up at once.
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `zk-leader-selector watch /x | head`: a closed pipe ends the command quietly.
process.stdout.on('error', () => controller.abort());

runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
  scriptPath: process.argv[1],
}).then(
  (code) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.exitCode = code;
    // Everything is closed by now; this only guards against a stray handle keeping us alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    process.stderr.write(
      `zk-leader-selector: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
