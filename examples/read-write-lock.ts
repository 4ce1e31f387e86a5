// A read-mostly resource behind a read-write lock (Curator's InterProcessReadWriteLock protocol).
//
//   node --import tsx examples/read-write-lock.ts [--path /examples/rw/catalog] [--readers 3] [--rounds 3]
//
// Several readers (each with its own Coordinator, as separate processes would have) read a
// "catalog" at the same time; one writer updates it now and then. Readers share the lock; the
// writer waits for them, and holds it alone. At the end the writer downgrades: it takes the read
// lock while holding the write lock, then lets the write lock go, so it reads its own update
// before any other writer can change it.
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Finishes by itself in about 3 s.
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    path: { type: 'string', default: '/examples/rw/catalog' },
    readers: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
  },
});
const lockPath = values.path;
const readerCount = Number(values.readers);
const rounds = Number(values.rounds);

let catalogVersion = 0;
let readersInside = 0;
let writersInside = 0;
let peakReaders = 0;
let violations = 0;

async function reader(name: string): Promise<void> {
  const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
  await coordinator.start();
  try {
    const { readLock } = coordinator.createReadWriteLock(lockPath, { id: name });
    for (let round = 1; round <= rounds; round += 1) {
      await readLock.runExclusive(async () => {
        readersInside += 1;
        peakReaders = Math.max(peakReaders, readersInside);
        if (writersInside > 0) violations += 1;
        console.log(`[${name}] reading catalog v${catalogVersion} (${readersInside} reader(s) inside)`);
        await sleep(150);
        readersInside -= 1;
      }, 10_000);
      await sleep(50);
    }
  } finally {
    await coordinator.close();
  }
}

async function writer(name: string): Promise<void> {
  const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
  await coordinator.start();
  try {
    const rw = coordinator.createReadWriteLock(lockPath, { id: name });
    for (let round = 1; round <= rounds; round += 1) {
      await sleep(100);
      await rw.writeLock.runExclusive(async (hold) => {
        writersInside += 1;
        if (readersInside > 0 || writersInside > 1) violations += 1;
        if (!hold.considerAsOwned()) throw new Error('write lock lost before the update');
        catalogVersion += 1;
        console.log(`[${name}] wrote catalog v${catalogVersion} (fencing token ${hold.fencingToken})`);
        await sleep(100);
        writersInside -= 1;
      }, 10_000);
    }
    // Downgrade: read what we wrote before anyone else can write again.
    if (!(await rw.writeLock.acquire(10_000))) throw new Error('write lock not acquired');
    catalogVersion += 1;
    await rw.readLock.acquire(10_000);
    await rw.writeLock.release();
    console.log(
      `[${name}] downgraded: reading my own v${catalogVersion}, other readers may join, no writer can`,
    );
    await rw.readLock.release();
  } finally {
    await coordinator.close();
  }
}

try {
  const readers = Array.from({ length: readerCount }, (_, i) => reader(`reader-${i + 1}`));
  await Promise.all([...readers, writer('writer')]);
  console.log(
    `done: catalog v${catalogVersion}, peak readers at once: ${peakReaders}, violations: ${violations}`,
  );
  if (violations > 0) process.exitCode = 1;
} catch (error) {
  console.error(`failed: ${(error as Error).message}`);
  console.error('Is ZooKeeper running? docker compose --profile single up -d zk-single');
  process.exitCode = 1;
}
