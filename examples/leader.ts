// A periodic cleaner that runs on exactly one process of a fleet (like tw-tasks' cleaner).
//
//   node --import tsx examples/leader.ts [--id NAME] [--path P] [--interval-ms 500]
//                                        [--seconds N] [--terms N] [--term-seconds N]
//
// Start it in two or three terminals: one leads and cleans every --interval-ms, the others wait.
// Stop the leader (Ctrl-C, or kill it) and another one takes over.
//
// While leading, the cleaner runs under control.workAsyncUntilShouldStop(start, stop): start
// schedules the cleaning, stop cancels it and waits for a cleaning in progress, and it returns
// once the term ends (leadership may be lost, stop() was called, or the term yielded).
//
// It runs until SIGTERM / Ctrl-C, or:
//   --seconds N        stop after N seconds
//   --terms N          stop after N terms (a term ends when leadership is lost or yielded)
//   --term-seconds N   yield leadership after N seconds of each term (a rotating leader)
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181).
// In your project: import { Coordinator } from 'zk-leader-selector'.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, type Control } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string', default: `cleaner@${hostname()}:${process.pid}` },
    path: { type: 'string', default: '/examples/leader/cleaner' },
    'interval-ms': { type: 'string', default: '500' },
    seconds: { type: 'string' },
    terms: { type: 'string' },
    'term-seconds': { type: 'string' },
  },
});
const id = values.id;
const intervalMs = Number(values['interval-ms']);
const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
const terms = values.terms === undefined ? undefined : Number(values.terms);
const termSeconds = values['term-seconds'] === undefined ? undefined : Number(values['term-seconds']);

const started = Date.now();
const log = (message: string): void =>
  console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s [${id}] ${message}`);

let cleanings = 0;

/** One cleaning: here it only pretends to delete expired entries. Honours the term's signal. */
async function cleanOnce(control: Control): Promise<void> {
  cleanings += 1;
  const removed = Math.floor(Math.random() * 5);
  await sleep(20, undefined, { signal: control.signal }).catch(() => undefined); // the "DELETE ... WHERE expired"
  log(
    `cleaning #${cleanings} (term ${control.term}, fencing token ${control.fencingToken}): removed ${removed} expired entries`,
  );
}

async function leader(control: Control): Promise<void> {
  log(`leading: term ${control.term}, fencing token ${control.fencingToken}`);
  let timer: NodeJS.Timeout | undefined;
  let yieldTimer: NodeJS.Timeout | undefined;
  let cleaning: Promise<void> = Promise.resolve();
  await control.workAsyncUntilShouldStop(
    () => {
      // start: schedule the work; return at once.
      timer = setInterval(() => {
        cleaning = cleaning.then(() => (control.shouldStop() ? undefined : cleanOnce(control)));
      }, intervalMs);
      if (termSeconds !== undefined) yieldTimer = setTimeout(() => control.yield(), termSeconds * 1000);
    },
    async () => {
      // stop: runs once shouldStop() turned true; cancel the schedule and let a running cleaning finish.
      clearInterval(timer);
      clearTimeout(yieldTimer);
      await cleaning;
    },
  );
  log(`term ${control.term} over (${String(control.signal.reason)})`);
}

const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
try {
  await coordinator.start();
} catch (error) {
  console.error(`leader example: ${error instanceof Error ? error.message : String(error)}`);
  console.error(
    'Start ZooKeeper with `docker compose --profile single up -d zk-single`, or set ZOOKEEPER_CONNECT_STRING.',
  );
  process.exit(1);
}
const selector = coordinator.createLeaderSelector(values.path, {
  id,
  leader,
  minimumWorkTimeMs: 1000,
  ...(terms === undefined ? {} : { workIterationsUntilStop: terms }),
});
selector.on('error', (error) => log(`leader callback failed: ${String(error)}`));
log(
  `contending for ${values.path} (session ${coordinator.sessionId ?? '?'}, S = ${coordinator.sessionTimeoutMs} ms)`,
);
selector.start();

let stopping: Promise<void> | undefined;
let stopTimer: NodeJS.Timeout | undefined;
/** SIGTERM -> selector.stop() -> coordinator.close(); idempotent. */
function shutdown(why: string): Promise<void> {
  stopping ??= (async () => {
    clearTimeout(stopTimer);
    log(`${why}: stopping`);
    try {
      await selector.stop({ timeoutMs: 10_000 });
    } catch (error) {
      log(`stop failed: ${String(error)}`);
      process.exitCode = 1;
    }
    await coordinator.close();
    log(`stopped after ${cleanings} cleanings`);
  })();
  return stopping;
}

if (seconds !== undefined) stopTimer = setTimeout(() => void shutdown(`${seconds} s passed`), seconds * 1000);
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
// With --terms the selector stops by itself after the last term.
await new Promise<void>((resolve) => selector.once('stopped', () => resolve()));
await shutdown(`${terms ?? 0} terms done`);
