// At most N at once across a fleet: a semaphore (Curator's InterProcessSemaphoreV2 protocol).
//
//   node --import tsx examples/semaphore.ts [--path /examples/semaphore/export] [--max 2] [--jobs 6]
//
// Two "processes" (two Coordinators) run export jobs; the semaphore lets at most --max of them run
// at the same time, whichever process they are on. Each job passes its lease's fencing token to
// the export target and checks lease.considerAsOwned() before committing. A job that cannot get a
// lease within its wait gives up instead of queueing forever.
// Every client of a semaphore path must use the same maxLeases: it is not stored in ZooKeeper.
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Finishes by itself in about 2 s.
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, type Semaphore } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/examples/semaphore/export' },
    max: { type: 'string', default: '2' },
    jobs: { type: 'string', default: '6' },
  },
});
const semaphorePath = values.path;
const maxLeases = Number(values.max);
const jobs = Number(values.jobs);

let running = 0;
let peak = 0;

async function exportJob(process: string, job: number, semaphore: Semaphore): Promise<void> {
  const lease = await semaphore.acquire(10_000);
  if (!lease) {
    console.log(`[${process}] job ${job}: no lease within 10 s, giving up`);
    return;
  }
  try {
    running += 1;
    peak = Math.max(peak, running);
    console.log(`[${process}] job ${job}: exporting (${running} running, token ${lease.fencingToken})`);
    await sleep(150);
    if (!lease.considerAsOwned()) {
      console.log(`[${process}] job ${job}: lease lost while exporting: not committing`);
      return;
    }
    console.log(`[${process}] job ${job}: committed`);
  } finally {
    running -= 1;
    await lease.release();
  }
}

async function fleetMember(name: string, first: number): Promise<void> {
  const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
  await coordinator.start();
  try {
    const semaphore = coordinator.createSemaphore(semaphorePath, { maxLeases, id: name });
    const mine = Array.from({ length: jobs / 2 }, (_, i) => exportJob(name, first + i, semaphore));
    await Promise.all(mine);
  } finally {
    await coordinator.close();
  }
}

try {
  await Promise.all([fleetMember('process-a', 1), fleetMember('process-b', jobs / 2 + 1)]);
  console.log(`done: ${jobs} jobs, at most ${peak} at once (maxLeases ${maxLeases})`);
  if (peak > maxLeases) process.exitCode = 1;
} catch (error) {
  console.error(`failed: ${(error as Error).message}`);
  console.error('Is ZooKeeper running? docker compose --profile single up -d zk-single');
  process.exitCode = 1;
}
