// Worker process for figure 6 (memory), run as `node --expose-gc --import tsx bench/memory.ts
// <connect> <members> <basePath> <quick 0|1>`. Heap figures are process.memoryUsage().heapUsed
// after forced garbage collections, as deltas over a baseline taken with a started Coordinator.
import { Coordinator, type LeaderSelector, type LockHandle } from '../lib/index.js';
import { mntr, sleep, workerIo } from './lib/common.js';

const { emit } = workerIo();
const [connect = '', membersText = '', basePath = '/bench/memory', quickText = '0'] = process.argv.slice(2);
const members = membersText.split(',').filter(Boolean);
const quick = quickText === '1';
const gc = (globalThis as { gc?: () => void }).gc;

async function heap(): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    gc?.();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed;
}

const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: 30_000 });
await coordinator.start();

// Warm-up: the code paths run once, so the baseline includes compiled code and lazy state.
const warm = coordinator.createLock(`${basePath}/warm`, { id: 'warm' });
for (let i = 0; i < (quick ? 1_000 : 3_000); i += 1) {
  await warm.acquire();
  await warm.release();
}

// 1) 1000 held locks on distinct paths, one coordinator.
const LOCKS = 1000;
for (let i = 0; i < LOCKS; i += 50) {
  // Parents first, so the measured part holds locks only (the lock creates missing parents itself).
  await Promise.all(
    Array.from({ length: 50 }, (_, j) =>
      coordinator.createLock(`${basePath}/l/${i + j}`, { id: 'p' }).hold(),
    ),
  ).then((handles) => Promise.all(handles.map((h) => h.release())));
}
const h0 = await heap();
const handles: LockHandle[] = [];
for (let i = 0; i < LOCKS; i += 50) {
  handles.push(
    ...(await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        coordinator.createLock(`${basePath}/l/${i + j}`, { id: `held-${i + j}` }).hold(),
      ),
    )),
  );
}
const h1 = await heap();
// Server load of holding them: the coordinator verifies them in batched multis of checks.
const windowMs = quick ? 2_000 : 4_000;
const before = await mntr(members);
await sleep(windowMs);
const after = await mntr(members);
const requestsPerSecond =
  (((after.get('zk_packets_received') ?? 0) - (before.get('zk_packets_received') ?? 0)) * 1000) / windowMs;
await Promise.all(handles.map((h) => h.release()));
handles.length = 0;
const h2 = await heap();

// 2) 100 leader selectors on distinct paths, all leading.
const SELECTORS = 100;
const selectors: LeaderSelector[] = [];
let leading = 0;
let allLeading: () => void = () => undefined;
const everyoneLeads = new Promise<void>((resolve) => (allLeading = resolve));
const h3 = await heap();
for (let i = 0; i < SELECTORS; i += 1) {
  const selector = coordinator.createLeaderSelector(`${basePath}/s/${i}`, {
    id: `selector-${i}`,
    leader: async (control) => {
      leading += 1;
      if (leading === SELECTORS) allLeading();
      await control.waitUntilShouldStop(3_600_000);
    },
  });
  selectors.push(selector);
  selector.start();
}
await everyoneLeads;
const h4 = await heap();
await Promise.all(selectors.map((s) => s.stop()));
selectors.length = 0;
const h5 = await heap();

// 3) Leak checks: lock objects created and dropped; acquire/release cycles on one lock.
const CHURN = quick ? 2_000 : 10_000;
const h6 = await heap();
for (let i = 0; i < CHURN; i += 1) coordinator.createLock(`${basePath}/churn/${i % 10}`);
const h7 = await heap();
const CYCLES = quick ? 1_000 : 5_000;
const cycling = coordinator.createLock(`${basePath}/cycles`, { id: 'cycles' });
for (let i = 0; i < 500; i += 1) {
  await cycling.acquire();
  await cycling.release();
}
const h8 = await heap();
for (let i = 0; i < CYCLES; i += 1) {
  await cycling.acquire();
  await cycling.release();
}
const h9 = await heap();
const endedListeners = coordinator.session?.listenerCount('ended') ?? -1;
const lostListeners = coordinator.listenerCount('lost');

emit({
  result: {
    gcExposed: gc !== undefined,
    heldLocks: LOCKS,
    heapPerHeldLocksBytes: h1 - h0,
    heapRetainedAfterReleaseBytes: h2 - h0,
    verificationRequestsPerSecond: requestsPerSecond,
    selectors: SELECTORS,
    heapPerSelectorsBytes: h4 - h3,
    heapRetainedAfterStopBytes: h5 - h3,
    churnLocks: CHURN,
    heapAfterChurnBytes: h7 - h6,
    cycles: CYCLES,
    heapAfterCyclesBytes: h9 - h8,
    endedListeners,
    lostListeners,
  },
});
await coordinator.close();
process.exit(0);
