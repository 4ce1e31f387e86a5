// Worker process for figure 7 (many claims), run as `node --expose-gc --import tsx
// bench/claims-worker.ts <connect> <members> <basePath> <Ns> <idleMs>`. For each N: the raw
// client sending an acquire's requests for N distinct lock paths, pipelined (the floor), and one
// Coordinator acquiring N locks on distinct paths, alternated over rounds (medians); in the last
// round also the heap per held lock, idle requests/s at the server, release-all time and the
// znodes left afterwards. Prints one JSON line.
// It runs the built package (dist/esm, made by the figure), as a service would: lib/ through tsx
// costs about 1 KiB more per held lock (tsx keeps function names with an own `name` property on
// every closure, which gives each one a property store).
import { randomUUID } from 'node:crypto';
import type { LockHandle, SharedReentrantLock } from '../lib/index.js';
import { connectRaw, mntr, now, raw, rawCall, sleep, workerIo, type RawClient } from './lib/common.js';

// Paths in variables: type-checking must not need dist/ to exist.
const distIndex = '../dist/esm/index.js';
const distBatch = '../dist/esm/lock/verification-batch.js';
const { Coordinator } = (await import(distIndex)) as typeof import('../lib/index.js');
const { VerificationBatch } = (await import(distBatch)) as typeof import('../lib/lock/verification-batch.js');

const { emit } = workerIo();
const [connect = '', membersText = '', basePath = '/bench/claims', nsText = '100', idleText = '10000'] =
  process.argv.slice(2);
const members = membersText.split(',').filter(Boolean);
const sizes = nsText.split(',').map(Number);
const idleMs = Number(idleText);
const gc = (globalThis as { gc?: () => void }).gc;

async function heap(): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    gc?.();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

const packets = async (): Promise<number> => (await mntr(members)).get('zk_packets_received') ?? 0;

/** Everything under `parent` (paths and their children), counted through `client`. */
async function znodesBelow(client: RawClient, parent: string): Promise<number> {
  const paths = await rawCall<string[]>((cb) => client.getChildren(parent, cb)).catch(() => []);
  const children = await Promise.all(
    paths.map((p) => rawCall<string[]>((cb) => client.getChildren(`${parent}/${p}`, cb)).catch(() => [])),
  );
  return paths.length + children.reduce((sum, c) => sum + c.length, 0);
}

/** The raw floor: create the path ‖ create the lock node ‖ list, for N paths at once. */
async function rawFloor(client: RawClient, parent: string, n: number): Promise<number> {
  const data = Buffer.from('raw-floor');
  const start = now();
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const path = `${parent}/${i}`;
      return Promise.all([
        rawCall<string>((cb) => client.create(path, Buffer.alloc(0), raw.CreateMode.PERSISTENT, cb)),
        rawCall<string>((cb) =>
          client.create(`${path}/_c_${randomUUID()}-lock-`, data, raw.CreateMode.EPHEMERAL_SEQUENTIAL, cb),
        ),
        rawCall<string[]>((cb) => client.getChildren(path, cb)),
      ]);
    }),
  );
  return now() - start;
}

async function cleanupRaw(connectString: string, parent: string, n: number): Promise<void> {
  const client = await connectRaw(connectString);
  try {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        rawCall<void>((cb) => client.remove(`${parent}/${i}`, -1, cb)).catch(() => undefined),
      ),
    );
  } finally {
    client.close();
  }
}

const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: 30_000 });
await coordinator.start();
const counter = await connectRaw(connect, 30_000);
await rawCall<void>((cb) => counter.mkdirp(basePath, cb));

async function holdAll(
  parent: string,
  n: number,
): Promise<{ locks: SharedReentrantLock[]; handles: LockHandle[] }> {
  const locks = Array.from({ length: n }, (_, i) =>
    coordinator.createLock(`${parent}/${i}`, { id: `claim-${i}` }),
  );
  const handles = await Promise.all(locks.map((lock) => lock.hold(120_000)));
  return { locks, handles };
}

/** Until every hold had its first verification (the data watch on its node is set). */
async function firstVerification(locks: SharedReentrantLock[]): Promise<void> {
  const deadline = now() + 60_000;
  while (!locks.every((lock) => lock.activeHold()?.watching) && now() < deadline) await sleep(50);
}

// Warm-up: JIT of this process and of the server, both paths once.
{
  const client = await connectRaw(connect, 30_000);
  await rawCall<void>((cb) => client.mkdirp(`${basePath}/warm-raw`, cb));
  await rawFloor(client, `${basePath}/warm-raw`, 1000);
  client.close();
  await cleanupRaw(connect, `${basePath}/warm-raw`, 1000);
  await rawCall<void>((cb) => counter.mkdirp(`${basePath}/warm`, cb));
  const { handles } = await holdAll(`${basePath}/warm`, 1000);
  await Promise.all(handles.map((h) => h.release()));
  await sleep(2000);
}

/** The floor once for N paths, on a fresh raw session (its lock nodes go with it). */
async function floorRound(parent: string, n: number): Promise<number> {
  await rawCall<void>((cb) => counter.mkdirp(parent, cb));
  const client = await connectRaw(connect, 30_000);
  const ms = await rawFloor(client, parent, n);
  client.close();
  await cleanupRaw(connect, parent, n);
  return ms;
}

/** Until no node is left below `parent` (at most 10 s after `since`); ms after `since`, NaN if not. */
async function allGone(parent: string, since: number): Promise<number> {
  while (now() - since < 10_000) {
    const left = await rawCall<string[]>((cb) => counter.getChildren(parent, cb));
    if (left.length === 0) return now() - since;
    await sleep(100);
  }
  return Number.NaN;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const rows: Array<Record<string, number>> = [];
for (const n of sizes) {
  // Small N is noisy: rounds alternate the floor and ours, medians are reported.
  const rounds = n <= 100 ? 7 : n <= 1000 ? 3 : 1;
  const floors: number[] = [];
  const acquires: number[] = [];
  for (let round = 1; round < rounds; round += 1) {
    floors.push(await floorRound(`${basePath}/raw-${n}-${round}`, n));
    const parent = `${basePath}/ours-${n}-${round}`;
    await rawCall<void>((cb) => counter.mkdirp(parent, cb));
    const start = now();
    const { handles } = await holdAll(parent, n);
    acquires.push(now() - start);
    const releaseStart = now();
    await Promise.all(handles.map((h) => h.release()));
    await allGone(parent, releaseStart);
  }
  floors.push(await floorRound(`${basePath}/raw-${n}`, n));

  // The measured round: acquire all at once on distinct paths (the parent exists, as for the floor).
  const parent = `${basePath}/ours-${n}`;
  await rawCall<void>((cb) => counter.mkdirp(parent, cb));
  await sleep(500);
  const h0 = await heap();
  const acquireStart = now();
  const { locks, handles } = await holdAll(parent, n);
  acquires.push(now() - acquireStart);
  await firstVerification(locks);
  const h1 = await heap();

  // Idle: what the server receives while they are held (the two mntr calls count as one each).
  const p0 = await packets();
  const idleStart = now();
  await sleep(idleMs);
  const idleRequestsPerSecond = ((await packets()) - p0 - 1) * (1000 / (now() - idleStart));

  // Release all; then the znodes left below the parent within 10 s.
  const releaseStart = now();
  await Promise.all(handles.map((h) => h.release()));
  const releaseCalledMs = now() - releaseStart;
  const allGoneMs = await allGone(parent, releaseStart);
  const znodesLeft = await znodesBelow(counter, parent);
  rows.push({
    n,
    rounds,
    floorMs: median(floors),
    acquireMs: median(acquires),
    ratio: median(floors) / median(acquires),
    heapPerLockBytes: (h1 - h0) / n,
    idleRequestsPerSecond,
    batchSize: VerificationBatch.of(coordinator).size,
    releaseCalledMs,
    allGoneMs,
    znodesLeft,
  });
  locks.length = 0;
  handles.length = 0;
  await sleep(1000);
}

emit({ result: { gcExposed: gc !== undefined, idleMs, rows } });
counter.close();
await coordinator.close();
process.exit(0);
