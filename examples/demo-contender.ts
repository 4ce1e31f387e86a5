// One contender of the demo (examples/demo.ts starts three of them as child processes): a
// Coordinator and a LeaderSelector running a periodic "job" every DEMO_JOB_INTERVAL_MS while it
// leads. It prints one JSON line per event on stdout, which the demo turns into a timeline.
//
// Environment: ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181), DEMO_NAME, DEMO_LOCK_PATH,
// DEMO_SESSION_TIMEOUT_MS (default 4000: a short S, so that failover after a crash is quick),
// DEMO_JOB_INTERVAL_MS (default 500).
// Stops gracefully on SIGTERM or SIGINT, and (with DEMO_PARENT_PIPE=1, as the demo starts it) when
// its standard input closes because the demo died: selector.stop() -> coordinator.close().
import { Coordinator } from '../lib/index.js';

const name = process.env.DEMO_NAME ?? `contender-${process.pid}`;
const lockPath = process.env.DEMO_LOCK_PATH ?? '/examples/demo/nightly-report';
const sessionTimeoutMs = Number(process.env.DEMO_SESSION_TIMEOUT_MS ?? 4000);
const jobIntervalMs = Number(process.env.DEMO_JOB_INTERVAL_MS ?? 500);

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, name, pid: process.pid, at: Date.now(), ...fields })}\n`);
}

const coordinator = Coordinator.fromEnv(process.env, { sessionTimeoutMs, connectTimeoutMs: 10_000 });
coordinator.on('suspended', () => emit('suspended'));
coordinator.on('lost', ({ reason }) => emit('session-lost', { reason }));
try {
  await coordinator.start();
} catch (error) {
  emit('error', { message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
emit('connected', { sessionId: coordinator.sessionId, sessionTimeoutMs: coordinator.sessionTimeoutMs });

let jobs = 0;
const selector = coordinator.createLeaderSelector(lockPath, {
  id: name,
  leader: async (control) => {
    emit('leading', { term: control.term, fencingToken: String(control.fencingToken) });
    while (!control.shouldStop()) {
      // The periodic job; a real one would pass control.signal and control.fencingToken along.
      jobs += 1;
      emit('job', { job: jobs, term: control.term });
      await control.waitUntilShouldStop(jobIntervalMs);
    }
    emit('term-over', { term: control.term, reason: String(control.signal.reason) });
  },
});
selector.on('error', (error) =>
  emit('error', { message: error instanceof Error ? error.message : String(error) }),
);
selector.start();
emit('contending', { path: lockPath });

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const started = Date.now();
  emit('stopping', { why });
  try {
    await selector.stop({ timeoutMs: 10_000 });
  } catch (error) {
    emit('error', { message: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
  }
  await coordinator.close();
  emit('stopped', { ms: Date.now() - started, jobs });
  if (process.env.DEMO_PARENT_PIPE === '1') process.stdin.destroy(); // let the process exit
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
if (process.env.DEMO_PARENT_PIPE === '1') {
  // Started by the demo with a pipe on stdin: if the demo dies (even by SIGKILL), the pipe closes.
  process.stdin.on('end', () => void shutdown('parent gone'));
  process.stdin.on('error', () => void shutdown('parent gone'));
  process.stdin.resume();
}
