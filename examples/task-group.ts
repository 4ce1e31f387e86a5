// Periodic jobs spread over a fleet: each job runs on exactly one process, and the processes share
// the jobs evenly (a task group, after Lytics' Metafora).
//
//   node --import tsx examples/task-group.ts [--id NAME] [--path P] [--tasks 12] [--interval-ms 1000]
//                                            [--seconds N]
//
// Start it in two or three terminals: the first runs all the jobs, and every process that joins
// takes its share (ceil(jobs / processes)) from the others, which hand jobs over gracefully
// ("stopped job-03 (rebalance)"). Stop one (Ctrl-C) and the others take its jobs at once; kill one
// with kill -9 and they take them once ZooKeeper has expired its session (S).
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181).
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, type Control } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string', default: `worker@${hostname()}:${process.pid}` },
    path: { type: 'string', default: '/examples/task-group/jobs' },
    tasks: { type: 'string', default: '12' },
    'interval-ms': { type: 'string', default: '1000' },
    seconds: { type: 'string' },
  },
});
const id = values.id;
const jobs = Array.from({ length: Number(values.tasks) }, (_, i) => `job-${String(i).padStart(2, '0')}`);
const intervalMs = Number(values['interval-ms']);
const seconds = values.seconds === undefined ? undefined : Number(values.seconds);

const started = Date.now();
const log = (message: string): void =>
  console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s [${id}] ${message}`);

let runs = 0;

/** One term of one job: run it every interval until told to stop, then return. */
async function runJob(_job: string, control: Control): Promise<void> {
  while (!control.shouldStop()) {
    runs += 1;
    // The job's work goes here; pass control.fencingToken to storage that supports fencing, and
    // finish (or checkpoint) before control.ownershipDeadline().
    await sleep(intervalMs, undefined, { signal: control.signal }).catch(() => undefined);
  }
}

const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
try {
  await coordinator.start();
} catch (error) {
  console.error(`task-group example: ${error instanceof Error ? error.message : String(error)}`);
  console.error(
    'Start ZooKeeper with `docker compose --profile single up -d zk-single`, or set ZOOKEEPER_CONNECT_STRING.',
  );
  process.exit(1);
}
const group = coordinator.createTaskGroup(values.path, {
  id,
  tasks: jobs,
  run: runJob,
  minimumWorkTimeMs: 500,
});
group.on('taskStarted', ({ task, term, fencingToken }) =>
  log(`started ${task} (term ${term}, fencing token ${fencingToken})`),
);
group.on('taskStopped', ({ task, reason }) => log(`stopped ${task} (${reason})`));
group.on('rebalanced', ({ owned, members, tasks, share }) =>
  log(
    `rebalanced: runs ${owned.length} of ${tasks} jobs (${members} members, share ${share}): ${owned.join(' ')}`,
  ),
);
group.on('error', (error) => log(`error: ${String(error)}`));
log(
  `joining ${values.path} with ${jobs.length} jobs (session ${coordinator.sessionId ?? '?'}, S = ${coordinator.sessionTimeoutMs} ms)`,
);
group.start();

let stopping: Promise<void> | undefined;
let stopTimer: NodeJS.Timeout | undefined;
/** SIGTERM -> group.stop() -> coordinator.close(); idempotent. */
function shutdown(why: string): Promise<void> {
  stopping ??= (async () => {
    clearTimeout(stopTimer);
    log(`${why}: stopping`);
    try {
      await group.stop({ timeoutMs: 10_000 });
    } catch (error) {
      log(`stop failed: ${String(error)}`);
      process.exitCode = 1;
    }
    await coordinator.close();
    log(`stopped after ${runs} job runs`);
  })();
  return stopping;
}

if (seconds !== undefined) stopTimer = setTimeout(() => void shutdown(`${seconds} s passed`), seconds * 1000);
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
