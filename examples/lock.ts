// A distributed lock around a critical section, with the two checks that make it safe.
//
//   node --import tsx examples/lock.ts [--path /examples/lock/report] [--rounds 2]
//
// Two workers (each with its own Coordinator, as two processes would have) take turns writing a
// "report" to a shared store. Inside the critical section each worker
//   - passes lock.fencingToken to the store, which rejects writes with an older token than it has
//     seen (so a paused, former holder cannot overwrite a newer one), and
//   - checks lock.considerAsOwned() right before the write: false once ownership may be lost.
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Finishes by itself in about 2 s.
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, type SharedReentrantLock } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/examples/lock/report' },
    rounds: { type: 'string', default: '2' },
  },
});
const lockPath = values.path;
const rounds = Number(values.rounds);

/** Stands in for a database row updated with `... WHERE fencing_token <= $token`. */
class FencedStore {
  private highestToken = -1n;
  readonly writes: { by: string; token: bigint }[] = [];

  write(by: string, token: bigint): void {
    if (token < this.highestToken) {
      throw new Error(`stale write from ${by}: token ${token} < ${this.highestToken}`);
    }
    this.highestToken = token;
    this.writes.push({ by, token });
  }
}

const store = new FencedStore();
let inside = 0;
let overlaps = 0;

async function criticalSection(name: string, lock: SharedReentrantLock): Promise<void> {
  inside += 1;
  if (inside > 1) overlaps += 1;
  try {
    const token = lock.fencingToken;
    if (token === undefined) throw new Error('acquired, but no fencing token');
    const validFor = Math.round(lock.ownershipDeadline() - Date.now());
    console.log(`[${name}] acquired ${lockPath}: fencing token ${token}, owned for at least ${validFor} ms`);
    await sleep(200); // the work: build the report
    if (!lock.considerAsOwned()) {
      // Connection or session lost while working: another worker may hold the lock by now.
      console.log(`[${name}] lost the lock while working: not writing`);
      return;
    }
    store.write(name, token);
    console.log(`[${name}] wrote the report with fencing token ${token}`);
  } finally {
    inside -= 1;
  }
}

async function worker(name: string): Promise<void> {
  // connectTimeoutMs: fail fast (with a hint below) when no ZooKeeper answers.
  const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
  await coordinator.start();
  try {
    const lock = coordinator.createLock(lockPath, { id: name });
    for (let round = 1; round <= rounds; round += 1) {
      console.log(`[${name}] waiting for ${lockPath} (round ${round})`);
      if (!(await lock.acquire(10_000))) {
        console.log(`[${name}] not acquired within 10 s: someone holds it for long; giving up this round`);
        continue;
      }
      try {
        await criticalSection(name, lock);
      } finally {
        console.log(`[${name}] releasing`);
        await lock.release(); // deletes our node: the next waiter is told at once
      }
    }
  } finally {
    await coordinator.close();
  }
}

try {
  await Promise.all([worker('worker-a'), worker('worker-b')]);
} catch (error) {
  console.error(`lock example failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error(
    'Is ZooKeeper running? Start one with `docker compose --profile single up -d zk-single`, ' +
      'or set ZOOKEEPER_CONNECT_STRING.',
  );
  process.exit(1);
}

const tokens = store.writes.map((w) => w.token);
const increasing = tokens.every((token, i) => i === 0 || token > (tokens[i - 1] ?? -1n));
console.log(
  `done: ${store.writes.length} reports written, ${overlaps} overlapping critical sections, ` +
    `fencing tokens ${increasing ? 'strictly increasing' : 'NOT increasing'}`,
);
if (overlaps > 0 || !increasing || store.writes.length !== 2 * rounds) process.exitCode = 1;
