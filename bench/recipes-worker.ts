// Worker process for figure "recipes" (ours in a process of its own, like the Curator peer):
//   recipes-worker.ts cycle <recipe> <connect> <path> <seconds> <sessionTimeoutMs> [<maxLeases>]
//       <recipe>: rwlock-read | rwlock-write | semaphore | latch. One Coordinator, uncontended:
//       read / write lock acquire + release, lease acquire + release (maxLeases default 3), or
//       createLeaderLatch + start + await(leadership) + close. 1 s warm-up, {"event":"timed"}, then
//       cycles for <seconds>; result {cycles, seconds, cyclesPerSecond, totalCycles}.
//   recipes-worker.ts throughput <connect> <path> <contenders> <maxLeases> <holdMs> <seconds> <sessionTimeoutMs>
//       <contenders> Coordinators (a session each) in this process, one semaphore each on <path>, loop:
//       acquire a lease, hold <holdMs>, release. 1 s warm-up, {"event":"timed"}, then leases acquired
//       in <seconds>; result {acquires, seconds, acquiresPerSecond, peakHolders (most leases held at
//       once in this process, warm-up included), perContender}. Mirrors CuratorRecipeBench's
//       throughput mode (a thread with a CuratorFramework of its own per contender).
import { Coordinator } from '../lib/index.js';
import { now, sleep, workerIo } from './lib/common.js';

const { emit } = workerIo();
const [mode = '', ...args] = process.argv.slice(2);
const ACQUIRE_TIMEOUT_MS = 30_000;

type Recipe = 'rwlock-read' | 'rwlock-write' | 'semaphore' | 'latch';

async function timedLoop(cycle: () => Promise<void>, seconds: number): Promise<void> {
  let total = 0;
  const warmupEnd = now() + 1000;
  while (now() < warmupEnd) {
    await cycle();
    total += 1;
  }
  emit({ event: 'timed' });
  const start = now();
  const end = start + seconds * 1000;
  let cycles = 0;
  let t = start;
  while (t < end) {
    await cycle();
    cycles += 1;
    t = now();
  }
  total += cycles;
  const elapsed = (t - start) / 1000;
  emit({ result: { cycles, seconds: elapsed, cyclesPerSecond: cycles / elapsed, totalCycles: total } });
}

function must<T>(value: T | undefined | false, what: string): T {
  if (value === undefined || value === false) throw new Error(`${what} timed out`);
  return value;
}

/** One uncontended cycle of `recipe` on `path`. */
function cycleOf(
  coordinator: Coordinator,
  recipe: Recipe,
  path: string,
  maxLeases: number,
): () => Promise<void> {
  const id = `bench-${process.pid}`;
  if (recipe === 'rwlock-read' || recipe === 'rwlock-write') {
    const rw = coordinator.createReadWriteLock(path, { id });
    const lock = recipe === 'rwlock-read' ? rw.readLock : rw.writeLock;
    return async () => {
      must(await lock.acquire(ACQUIRE_TIMEOUT_MS), 'acquire');
      await lock.release();
    };
  }
  if (recipe === 'semaphore') {
    const semaphore = coordinator.createSemaphore(path, { maxLeases, id });
    return async () => {
      const lease = must(await semaphore.acquire(ACQUIRE_TIMEOUT_MS), 'acquire');
      await lease.release();
    };
  }
  return async () => {
    const latch = coordinator.createLeaderLatch(path, { id });
    await latch.start();
    must(await latch.await(ACQUIRE_TIMEOUT_MS), 'leadership');
    await latch.close();
  };
}

async function cycle(): Promise<void> {
  const [recipe = '', connect = '', path = '', seconds = '1', sessionTimeoutMs = '10000', maxLeases = '3'] =
    args;
  if (!['rwlock-read', 'rwlock-write', 'semaphore', 'latch'].includes(recipe))
    throw new Error(`unknown recipe ${recipe}`);
  const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: Number(sessionTimeoutMs) });
  await coordinator.start();
  await timedLoop(cycleOf(coordinator, recipe as Recipe, path, Number(maxLeases)), Number(seconds));
  await coordinator.close();
}

async function throughput(): Promise<void> {
  const [connect = '', path = '', contendersText, maxLeasesText, holdMsText, secondsText, sessionText] = args;
  const [contenders, maxLeases, holdMs, seconds, sessionTimeoutMs] = [
    contendersText,
    maxLeasesText,
    holdMsText,
    secondsText,
    sessionText,
  ].map(Number) as [number, number, number, number, number];
  const coordinators = await Promise.all(
    Array.from({ length: contenders }, async () => {
      const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs });
      await coordinator.start();
      return coordinator;
    }),
  );
  const counts = new Array<number>(contenders).fill(0);
  let holders = 0;
  let peakHolders = 0;
  let stop = false;
  const loops = coordinators.map(async (coordinator, i) => {
    const semaphore = coordinator.createSemaphore(path, {
      maxLeases,
      id: `bench-${process.pid}-${i}`,
    });
    while (!stop) {
      const lease = await semaphore.acquire(200);
      if (!lease) continue;
      holders += 1;
      peakHolders = Math.max(peakHolders, holders);
      if (holdMs > 0) await sleep(holdMs);
      holders -= 1;
      await lease.release();
      counts[i] = (counts[i] ?? 0) + 1;
    }
  });
  await sleep(1000);
  emit({ event: 'timed' });
  const before = [...counts];
  const start = now();
  await sleep(seconds * 1000);
  const after = [...counts];
  const elapsed = (now() - start) / 1000;
  stop = true;
  await Promise.all(loops);
  const perContender = after.map((n, i) => n - (before[i] ?? 0));
  const acquires = perContender.reduce((a, b) => a + b, 0);
  emit({
    result: {
      contenders,
      maxLeases,
      holdMs,
      acquires,
      seconds: elapsed,
      acquiresPerSecond: acquires / elapsed,
      peakHolders,
      perContender,
    },
  });
  await Promise.all(coordinators.map((c) => c.close()));
}

if (mode === 'cycle') await cycle();
else if (mode === 'throughput') await throughput();
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
