// The shutdown every service needs: SIGTERM -> selector.stop() -> coordinator.close().
//
//   node --import tsx examples/graceful-shutdown.ts [--path /examples/graceful/worker] [--step-ms 250]
//
// It contends for leadership and, while leading, works in small steps until it receives SIGTERM
// (what Kubernetes, systemd and docker stop send) or SIGINT (Ctrl-C). Then:
//   1. selector.stop(): the leader's control.signal aborts; the callback finishes its current step
//      and returns; the lock node is deleted, so the next contender takes over at once (no waiting
//      for the session to expire);
//   2. coordinator.close(): the session is closed and every timer and socket is cleared, so the
//      process exits by itself, without process.exit().
// A second signal exits at once (exit code 1).
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Runs until signalled.
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/examples/graceful/worker' },
    'step-ms': { type: 'string', default: '250' },
  },
});
const stepMs = Number(values['step-ms']);
const log = (message: string): void => console.log(`[graceful-shutdown ${process.pid}] ${message}`);

const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
try {
  await coordinator.start();
} catch (error) {
  console.error(`graceful-shutdown example: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const selector = coordinator.createLeaderSelector(values.path, {
  leader: async (control) => {
    log(`leading (term ${control.term}, fencing token ${control.fencingToken})`);
    let steps = 0;
    while (!control.shouldStop()) {
      // One step of work. A step that takes long should pass control.signal to what it awaits.
      await sleep(stepMs);
      steps += 1;
      if (steps % 4 === 0) log(`working: ${steps} steps done`);
    }
    log(`leader callback returning after ${steps} steps (${String(control.signal.reason)})`);
  },
});
selector.start();
log(`ready: contending for ${values.path} (session ${coordinator.sessionId ?? '?'})`);

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  const started = Date.now();
  log(`${signal}: stopping the selector`);
  // A second signal means "now": exit without waiting.
  process.once(signal, () => {
    log(`second ${signal}: exiting at once`);
    process.exit(1);
  });
  try {
    await selector.stop({ timeoutMs: 10_000 });
    log(`selector stopped in ${Date.now() - started} ms (callback returned, lock released)`);
  } catch (error) {
    // StopTimeoutError: the callback did not return in time. Closing still ends the session.
    log(`selector did not stop in time: ${String(error)}`);
    process.exitCode = 1;
  }
  await coordinator.close();
  log(`coordinator closed after ${Date.now() - started} ms; exiting`);
}

process.once('SIGTERM', (signal) => void shutdown(signal));
process.once('SIGINT', (signal) => void shutdown(signal));
