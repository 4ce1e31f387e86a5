// A long leader job that checkpoints inside control.ownershipDeadline() and skips its final write
// once control.signal has fired.
//
//   node --import tsx examples/checkpointing.ts [--path /examples/checkpointing/export] [--batches 12]
//
// Two workers (each with its own Coordinator, as two processes would have) run one export job of
// --batches batches. worker-a leads first. While it computes batch 5 it is told to stop (as a
// SIGTERM would): its signal fires mid-batch, so it does NOT write batch 5 and returns. worker-b
// takes over, resumes from the last checkpoint and finishes the job. A late write from worker-a
// with its old fencing token is rejected by the store.
//
// The rules it follows (README, "How long a leader has to stop"):
//   - don't start a batch once control.shouldStop() is true;
//   - write a batch only if control.shouldStop() is still false and the write can finish before
//     control.ownershipDeadline() (with a safety budget);
//   - pass control.fencingToken to the store, which rejects tokens older than the newest it saw.
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Finishes by itself in about 3 s.
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, type Control, type LeaderSelector } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/examples/checkpointing/export' },
    batches: { type: 'string', default: '12' },
  },
});
const totalBatches = Number(values.batches);
const INTERRUPT_AT_BATCH = Math.min(5, totalBatches);
const BATCH_MS = 150; // computing one batch (should stay well below S/4)
const WRITE_BUDGET_MS = 500; // the longest a checkpoint write may take

const started = Date.now();
const log = (who: string, message: string): void =>
  console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(5)}s [${who}] ${message}`);

/** Stands in for a table holding the job's checkpoint, updated with `... WHERE fencing_token <= $token`. */
class CheckpointStore {
  checkpoint = 0; // the last batch written
  private highestToken = -1n;
  readonly writes: number[] = [];

  async write(batch: number, token: bigint): Promise<void> {
    await sleep(10);
    if (token < this.highestToken) {
      throw new Error(`rejected: fencing token ${token} is older than ${this.highestToken}`);
    }
    if (batch !== this.checkpoint + 1)
      throw new Error(`out of order: batch ${batch} after ${this.checkpoint}`);
    this.highestToken = token;
    this.checkpoint = batch;
    this.writes.push(batch);
  }
}

const store = new CheckpointStore();
const computed: Record<string, number[]> = {};
let finish: () => void = () => undefined;
const jobDone = new Promise<void>((resolve) => (finish = resolve));
const hooks: { onBatchStart?: (who: string, batch: number) => void } = {};

function exportJob(who: string) {
  return async (control: Control): Promise<void> => {
    log(
      who,
      `leading (fencing token ${control.fencingToken}): resuming after checkpoint ${store.checkpoint}`,
    );
    while (store.checkpoint < totalBatches) {
      if (control.shouldStop()) {
        log(who, `told to stop (${String(control.signal.reason)}): not starting another batch`);
        return;
      }
      const batch = store.checkpoint + 1;
      hooks.onBatchStart?.(who, batch);
      await sleep(BATCH_MS); // compute the batch (pass control.signal to work that can be cancelled)
      (computed[who] ??= []).push(batch);
      // The final check before writing: ownership must be intact and outlast the write.
      const remainingMs = control.ownershipDeadline() - Date.now();
      if (control.shouldStop() || remainingMs < WRITE_BUDGET_MS) {
        log(
          who,
          `signal fired (${String(control.signal.reason)}) while computing batch ${batch}: ` +
            `skipping its write; the next leader redoes it from checkpoint ${store.checkpoint}`,
        );
        return;
      }
      await store.write(batch, control.fencingToken);
      log(
        who,
        `batch ${batch} written (checkpoint ${batch}, ownership guaranteed for ${Math.round(remainingMs)} ms more)`,
      );
    }
    log(who, `job complete: ${totalBatches} batches`);
    finish();
    await control.waitUntilShouldStop(60_000); // keep leading (idle) until stopped
  };
}

async function main(): Promise<void> {
  const coordinators = [0, 1].map(() => Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 }));
  const selectors: LeaderSelector[] = [];
  try {
    await Promise.all(coordinators.map((c) => c.start()));
    const [a, b] = coordinators as [Coordinator, Coordinator];
    const selectorA = a.createLeaderSelector(values.path, { id: 'worker-a', leader: exportJob('worker-a') });
    const selectorB = b.createLeaderSelector(values.path, { id: 'worker-b', leader: exportJob('worker-b') });
    selectors.push(selectorA, selectorB);
    let tokenA: bigint | undefined;
    selectorA.on('leadershipAcquired', ({ fencingToken }) => (tokenA = fencingToken));

    // Stop worker-a shortly after it started computing batch INTERRUPT_AT_BATCH (a SIGTERM would do the same).
    let stoppingA: Promise<void> | undefined;
    hooks.onBatchStart = (who, batch) => {
      if (who === 'worker-a' && batch === INTERRUPT_AT_BATCH && !stoppingA) {
        setTimeout(() => {
          log('main', 'stopping worker-a (as on SIGTERM) while it computes a batch');
          stoppingA = selectorA.stop();
        }, BATCH_MS / 3);
      }
    };

    // worker-a first; worker-b then waits in line behind it.
    selectorA.start();
    await new Promise<void>((resolve) => selectorA.once('leadershipAcquired', () => resolve()));
    selectorB.start();

    await jobDone;
    await stoppingA;

    // A zombie write: worker-a, paused for long, wakes up and writes with its old token.
    if (tokenA !== undefined) {
      try {
        await store.write(store.checkpoint + 1, tokenA);
        log('main', 'the stale write from worker-a was accepted: BUG');
        process.exitCode = 1;
      } catch (error) {
        log(
          'main',
          `a late write from worker-a is ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  } finally {
    await Promise.all(selectors.map((s) => s.stop()));
    await Promise.all(coordinators.map((c) => c.close()));
  }

  const exactlyOnce =
    store.writes.every((batch, i) => batch === i + 1) && store.writes.length === totalBatches;
  const redone = (computed['worker-a'] ?? []).filter((batch) => (computed['worker-b'] ?? []).includes(batch));
  log(
    'main',
    `done: checkpoint ${store.checkpoint}/${totalBatches}, every batch written ${exactlyOnce ? 'exactly once' : 'NOT exactly once'}; ` +
      `computed by worker-a: ${(computed['worker-a'] ?? []).join(',')}; by worker-b: ${(computed['worker-b'] ?? []).join(',')}; ` +
      `redone after the handover: ${redone.join(',') || 'none'}`,
  );
  if (!exactlyOnce) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  console.error(`checkpointing example failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
