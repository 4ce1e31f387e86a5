// Worker process for figure "recipes": ours in a process of its own, serving bursts like the Curator
// peer (CuratorRecipeBench.java with --bursts=1), so the figure can interleave the two.
//   recipes-worker.ts cycle-bursts <recipe> <connect> <path> <warmupMs> <sessionTimeoutMs> <maxLeases>
//       <recipe>: rwlock-read | rwlock-write | semaphore | latch. One Coordinator, uncontended:
//       read / write lock acquire + release, lease acquire + release, or createLeaderLatch + start +
//       await(leadership) + close.
//   recipes-worker.ts throughput-bursts <connect> <path> <contenders> <maxLeases> <holdMs> <warmupMs> <sessionTimeoutMs>
//       <contenders> Coordinators (a session each), one semaphore each on <path>; while a burst runs,
//       each loops: acquire a lease, hold <holdMs>, release (a thread with a CuratorFramework of its
//       own per contender on the Curator side).
// Both warm up for <warmupMs>, emit {"event":"ready"}, then serve commands on stdin:
//   {"burst": id, "ms": n}  run for n ms; emit {burst, ms, cycles} or, for throughput, {burst, ms,
//                           acquires, perContender} once every contender is idle again;
//   {"done": true}          emit {"event": "done", peakHolders (most leases held at once)} and exit.
import { Coordinator } from '../lib/index.js';
import { now, sleep, workerIo, type Json } from './lib/common.js';

const commands: Json[] = [];
let onCommand: (() => void) | undefined;
const { emit } = workerIo((command) => {
  commands.push(command);
  onCommand?.();
});
const [mode = '', ...args] = process.argv.slice(2);
const ACQUIRE_TIMEOUT_MS = 30_000;

type Recipe = 'rwlock-read' | 'rwlock-write' | 'semaphore' | 'latch';

async function nextCommand(): Promise<Json> {
  while (commands.length === 0) await new Promise<void>((resolve) => (onCommand = resolve));
  onCommand = undefined;
  return commands.shift() as Json;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function must<T>(value: T | undefined | false, what: string): T {
  if (value === undefined || value === false) throw new Error(`${what} timed out`);
  return value;
}

/** Warm-up, "ready", then bursts until "done". */
async function serve(
  runFor: (ms: number) => Promise<Json>,
  warmupMs: number,
  peakHolders: () => number,
): Promise<void> {
  await runFor(warmupMs);
  emit({ event: 'ready' });
  for (;;) {
    const command = await nextCommand();
    if (command.done) break;
    emit({ burst: command.burst, ...(await runFor(Number(command.ms))) });
  }
  emit({ event: 'done', peakHolders: peakHolders() });
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

async function cycleBursts(): Promise<void> {
  const [
    recipe = '',
    connect = '',
    path = '',
    warmupMs = '2000',
    sessionTimeoutMs = '10000',
    maxLeases = '3',
  ] = args;
  if (!['rwlock-read', 'rwlock-write', 'semaphore', 'latch'].includes(recipe))
    throw new Error(`unknown recipe ${recipe}`);
  const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: Number(sessionTimeoutMs) });
  await coordinator.start();
  const cycle = cycleOf(coordinator, recipe as Recipe, path, Number(maxLeases));
  await serve(
    async (ms) => {
      const start = now();
      const end = start + ms;
      let cycles = 0;
      do {
        await cycle();
        cycles += 1;
      } while (now() < end);
      return { ms: now() - start, cycles };
    },
    Number(warmupMs),
    () => 0,
  );
  await coordinator.close();
}

async function throughputBursts(): Promise<void> {
  const [connect = '', path = '', ...numbers] = args;
  const [contenders, maxLeases, holdMs, warmupMs, sessionTimeoutMs] = numbers.map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
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
  let inFlight = 0;
  let active = false;
  let stop = false;
  /** Resolved when a burst starts; a new one when it ends. Idle contenders wait on it. */
  let gate = deferred();
  let idle = (): void => undefined;
  const loops = coordinators.map(async (coordinator, i) => {
    const semaphore = coordinator.createSemaphore(path, { maxLeases, id: `bench-${process.pid}-${i}` });
    while (!stop) {
      if (!active) {
        await gate.promise;
        continue;
      }
      inFlight += 1;
      try {
        const lease = await semaphore.acquire(200);
        if (!lease) continue;
        holders += 1;
        peakHolders = Math.max(peakHolders, holders);
        if (holdMs > 0) await sleep(holdMs);
        holders -= 1;
        await lease.release();
        counts[i] = (counts[i] ?? 0) + 1;
      } finally {
        inFlight -= 1;
        if (inFlight === 0 && !active) idle();
      }
    }
  });
  const runFor = async (ms: number): Promise<Json> => {
    const before = [...counts];
    const start = now();
    active = true;
    gate.resolve();
    await sleep(ms);
    active = false;
    gate = deferred();
    const after = [...counts];
    const activeMs = now() - start;
    if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
    const perContender = after.map((n, i) => n - (before[i] ?? 0));
    return { ms: activeMs, acquires: perContender.reduce((a, b) => a + b, 0), perContender };
  };
  await serve(runFor, warmupMs, () => peakHolders);
  stop = true;
  gate.resolve();
  await Promise.all(loops);
  await Promise.all(coordinators.map((c) => c.close()));
}

if (mode === 'cycle-bursts') await cycleBursts();
else if (mode === 'throughput-bursts') await throughputBursts();
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
