// npm run demo: from a fresh clone to a leader failover in about 15 seconds.
//
// 1. Gets a ZooKeeper: the server in ZOOKEEPER_CONNECT_STRING if set; otherwise a single server
//    from docker-compose.yml when a Docker engine answers; otherwise a local one from Debian's
//    `zookeeper` package (installed first by scripts/install-zookeeper.sh when missing and we are
//    root). DEMO_ZOOKEEPER=docker|local forces one of the last two; DEMO_NO_INSTALL=1 never installs.
// 2. Starts three contenders of a periodic job (examples/demo-contender.ts, child processes; each a
//    Coordinator and a LeaderSelector with a session timeout S of 4 s).
// 3. Kills the leader with SIGKILL and shows the failover: another contender leads once ZooKeeper
//    has expired the dead leader's session, about S later.
// 4. Stops the others gracefully (SIGTERM -> selector.stop() -> coordinator.close()): a graceful
//    stop hands leadership over at once.
// 5. Cleans up everything (contenders, the ZooKeeper it started), also on Ctrl-C and on errors.
// Exit code 0 when the failover was seen and everything stopped cleanly.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Coordinator, type SharedReentrantLock } from '../lib/index.js';
import { ZooKeeperCluster, zooKeeperAvailable } from '../spec/support/zookeeper.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONTENDER_SCRIPT = fileURLToPath(new URL('./demo-contender.ts', import.meta.url));
const COMPOSE_FILE = fileURLToPath(new URL('../docker-compose.yml', import.meta.url));
const COMPOSE_PROJECT = 'zk-leader-selector-demo';
const NAMES = ['alpha', 'bravo', 'charlie'] as const;
const SESSION_TIMEOUT_MS = 4000;
const JOB_INTERVAL_MS = 500;
const LOCK_PATH = `/zk-leader-selector-demo/nightly-report-${randomBytes(4).toString('hex')}`;

// ---- output ------------------------------------------------------------------------------------

const tty = process.stdout.isTTY === true;
const useColor = tty && !process.env.NO_COLOR;
const paint =
  (code: number) =>
  (text: string): string =>
    useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
const bold = paint(1);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const cyan = paint(36);

const t0 = performance.now();
const stamp = (): string => `+${((performance.now() - t0) / 1000).toFixed(2)}s`.padStart(8);
let progressShown = false;

function clearProgress(): void {
  if (progressShown) process.stdout.write('\r\x1b[2K');
  progressShown = false;
}

const WHO_WIDTH = 9;

/** One timeline line: relative time, who, what. */
function line(who: string, text: string, whoColor: (text: string) => string = (t) => t): void {
  clearProgress();
  process.stdout.write(`${dim(stamp())}  ${whoColor(who.padEnd(WHO_WIDTH))} ${text}\n`);
}

/** A progress line rewritten in place on a terminal; on a pipe, one line per second. */
let lastPlainProgress = 0;
function progress(text: string): void {
  if (tty) {
    // Kept to one screen line, or \r could not rewrite it.
    const room = Math.max(10, (process.stdout.columns || 80) - WHO_WIDTH - 12);
    process.stdout.write(`\r\x1b[2K${dim(stamp())}  ${''.padEnd(WHO_WIDTH)} ${text.slice(0, room)}`);
    progressShown = true;
  } else if (performance.now() - lastPlainProgress >= 1000) {
    lastPlainProgress = performance.now();
    line('', text);
  }
}

const ms = (value: number): string => `${Math.round(value)} ms`;
const seconds = (value: number): string => `${(value / 1000).toFixed(1)} s`;

// ---- running commands ----------------------------------------------------------------------------

interface CommandResult {
  ok: boolean;
  output: string;
}

/** Runs a command without a shell; never throws (a missing binary is just "not ok"). */
function run(command: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, cwd: REPO_ROOT }, (error, stdout, stderr) =>
      resolve({ ok: error === null, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

/** Runs a command with its output shown to the user; resolves with its success. */
function runVisible(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

// ---- ZooKeeper -----------------------------------------------------------------------------------

interface ZooKeeperSource {
  connectString: string;
  description: string;
  /** Started by the demo, so stopped by it. */
  owned: boolean;
  stop(): Promise<void>;
}

/** Setup problems the user must fix: printed without a stack trace. */
class SetupError extends Error {}

async function dockerEngineAnswers(): Promise<boolean> {
  const info = await run('docker', ['info'], 10_000);
  if (!info.ok) return false;
  return (await run('docker', ['compose', 'version'], 10_000)).ok;
}

async function startWithDocker(): Promise<ZooKeeperSource> {
  const compose = ['compose', '-f', COMPOSE_FILE, '-p', COMPOSE_PROJECT, '--profile', 'single'];
  const down = async (): Promise<void> => {
    await run('docker', [...compose, 'down', '--volumes'], 120_000);
  };
  line(
    'zookeeper',
    `docker compose up: a single ZooKeeper 3.9 on 127.0.0.1:2181 (project ${COMPOSE_PROJECT})`,
  );
  if (!(await runVisible('docker', [...compose, 'up', '-d', '--wait', 'zk-single']))) {
    await down();
    throw new SetupError(
      'docker compose could not start ZooKeeper (is port 2181 taken, e.g. by `docker compose up`?)',
    );
  }
  return {
    connectString: '127.0.0.1:2181',
    description: 'ZooKeeper container (docker compose down)',
    owned: true,
    stop: down,
  };
}

async function startLocally(): Promise<ZooKeeperSource> {
  let available = zooKeeperAvailable();
  if (!available.ok && process.getuid?.() === 0 && process.env.DEMO_NO_INSTALL !== '1') {
    line('zookeeper', `not installed (${available.reason}): running scripts/install-zookeeper.sh`);
    await runVisible('bash', ['scripts/install-zookeeper.sh']);
    available = zooKeeperAvailable();
  }
  if (!available.ok) {
    throw new SetupError(
      [
        `The demo needs ZooKeeper, and none is available: ${available.reason}.`,
        'Any of these will do:',
        "  - install Debian's package:   sudo bash scripts/install-zookeeper.sh   (or: sudo apt-get install zookeeper)",
        '  - start one with Docker:      docker compose --profile single up -d zk-single',
        '                                ZOOKEEPER_CONNECT_STRING=127.0.0.1:2181 npm run demo',
        '  - use a ZooKeeper you have:   ZOOKEEPER_CONNECT_STRING=host:2181 npm run demo',
      ].join('\n'),
    );
  }
  const started = performance.now();
  line('zookeeper', "starting a local ZooKeeper (Debian's zookeeper package, a JVM on a free loopback port)");
  const cluster = await ZooKeeperCluster.startStandalone();
  line('zookeeper', `serving on ${cluster.connectString} after ${ms(performance.now() - started)}`);
  return {
    connectString: cluster.connectString,
    description: `local ZooKeeper on ${cluster.connectString}`,
    owned: true,
    stop: () => cluster.close(),
  };
}

async function provideZooKeeper(): Promise<ZooKeeperSource> {
  const external = process.env.ZOOKEEPER_CONNECT_STRING?.trim();
  if (external) {
    line('zookeeper', `using ZOOKEEPER_CONNECT_STRING=${external}`);
    return { connectString: external, description: external, owned: false, stop: async () => undefined };
  }
  const mode = process.env.DEMO_ZOOKEEPER ?? 'auto';
  if (!['auto', 'docker', 'local'].includes(mode)) {
    throw new SetupError(`DEMO_ZOOKEEPER must be auto, docker or local, got ${JSON.stringify(mode)}`);
  }
  if (mode !== 'local') {
    if (await dockerEngineAnswers()) {
      try {
        return await startWithDocker();
      } catch (error) {
        if (mode === 'docker') throw error;
        line('zookeeper', `${error instanceof Error ? error.message : String(error)}; trying a local one`);
      }
    } else if (mode === 'docker') {
      throw new SetupError('DEMO_ZOOKEEPER=docker, but no Docker engine answers (`docker info` failed)');
    } else {
      line('zookeeper', dim('no Docker engine answers (`docker info`): using a local ZooKeeper'));
    }
  }
  return startLocally();
}

// ---- contenders ----------------------------------------------------------------------------------

interface DemoEvent {
  event: string;
  name: string;
  pid: number;
  at: number;
  [field: string]: unknown;
}

class Contender {
  readonly child: ChildProcess;
  readonly events: DemoEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stderr = '';
  sessionId = '';
  sessionTimeoutMs = SESSION_TIMEOUT_MS;

  constructor(
    readonly name: string,
    connectString: string,
    onEvent: (contender: Contender, event: DemoEvent) => void,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CONTENDER_SCRIPT], {
      cwd: REPO_ROOT,
      // Its own process group: Ctrl-C reaches only the demo, which then stops the contenders itself.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ZOOKEEPER_CONNECT_STRING: connectString,
        DEMO_NAME: name,
        DEMO_LOCK_PATH: LOCK_PATH,
        DEMO_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        DEMO_JOB_INTERVAL_MS: String(JOB_INTERVAL_MS),
        DEMO_PARENT_PIPE: '1',
      },
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let event: DemoEvent;
      try {
        event = JSON.parse(text) as DemoEvent;
      } catch {
        return; // not one of ours
      }
      if (event.event === 'connected') {
        this.sessionId = String(event.sessionId);
        this.sessionTimeoutMs = Number(event.sessionTimeoutMs);
      }
      this.events.push(event);
      onEvent(this, event);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', (error) => {
        this.stderr += `\n${error.message}`;
        this.exit = { code: 1, signal: null };
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  count(event: string, since = 0): number {
    return this.events.filter((e) => e.event === event && e.at >= since).length;
  }

  last(event: string): DemoEvent | undefined {
    return this.events.findLast((e) => e.event === event);
  }

  /** SIGTERM (graceful), SIGKILL if it has not exited after `graceMs`. */
  async terminate(graceMs: number): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---- the demo ------------------------------------------------------------------------------------

const contenders: Contender[] = [];
let zookeeper: ZooKeeperSource | undefined;
let observer: Coordinator | undefined;
let interrupted = false;
let wake: () => void = () => undefined;

function describe(contender: Contender, event: DemoEvent): void {
  const who = (text: string): void => line(contender.name, text, cyan);
  switch (event.event) {
    case 'contending':
      who(`connected (session 0x${contender.sessionId}, S = ${ms(contender.sessionTimeoutMs)}): contending`);
      break;
    case 'leading':
      who(
        green(bold(`★ leads`)) + ` (term ${String(event.term)}, fencing token ${String(event.fencingToken)})`,
      );
      break;
    case 'job':
      who(dim(`runs the periodic job (#${String(event.job)})`));
      break;
    case 'term-over':
      who(`term ${String(event.term)} over (${String(event.reason)})`);
      break;
    case 'stopping':
      who(`${String(event.why)} → selector.stop() → coordinator.close()`);
      break;
    case 'stopped':
      who(`stopped cleanly after ${ms(Number(event.ms))}: callback returned, lock released, session closed`);
      break;
    case 'suspended':
    case 'session-lost':
      who(yellow(`${event.event} ${String(event.reason ?? '')}`));
      break;
    case 'error':
      who(red(`error: ${String(event.message)}`));
      break;
    default:
      break;
  }
}

/** Resolves with check()'s value once it is defined; re-checked on every event and every 100 ms. */
async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined,
  onTick?: (elapsedMs: number) => void,
): Promise<T> {
  const started = performance.now();
  for (;;) {
    if (interrupted) throw new Error('interrupted');
    const value = check();
    if (value !== undefined) return value;
    const dead = contenders.find((c) => !c.alive && c.exit?.signal !== 'SIGKILL' && c.exit?.code !== 0);
    if (dead) throw new Error(`${dead.name} exited unexpectedly (${dead.exit?.code ?? dead.exit?.signal})`);
    const elapsed = performance.now() - started;
    if (elapsed > timeoutMs) throw new Error(`timed out after ${ms(timeoutMs)} waiting for ${what}`);
    onTick?.(elapsed);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 100);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function currentLeader(candidates: readonly Contender[], since: number): Contender | undefined {
  return candidates.find((c) => c.alive && (c.last('leading')?.at ?? -1) >= since);
}

async function queue(lock: SharedReentrantLock): Promise<string> {
  const details = await lock.contenderDetails();
  return details.map((c) => (c.holder ? `${c.id} (holder)` : c.id)).join(' ← ');
}

async function main(): Promise<void> {
  console.log(bold('zk-leader-selector demo: one periodic job, three contenders, the leader crashes.'));
  console.log(dim(`Times are relative to the start. Lock path ${LOCK_PATH}.\n`));

  zookeeper = await provideZooKeeper();
  observer = new Coordinator({ connectString: zookeeper.connectString, sessionTimeoutMs: 10_000 });
  await observer.start();
  const queueLock = observer.createLock(LOCK_PATH);

  line('demo', `starting contenders ${NAMES.join(', ')} (node --import tsx examples/demo-contender.ts)`);
  for (const name of NAMES) {
    contenders.push(
      new Contender(name, zookeeper.connectString, (contender, event) => {
        describe(contender, event);
        wake();
      }),
    );
  }
  const first = await until('all three to contend and one to lead', 45_000, () =>
    contenders.every((c) => c.count('contending') > 0) ? currentLeader(contenders, 0) : undefined,
  );
  await until('the leader to run its job three times', 10_000, () =>
    first.count('job') >= 3 ? true : undefined,
  );
  // 'contending' is printed when start() returns; the lock nodes follow within milliseconds.
  for (let i = 0; (await queueLock.contenders()).length < NAMES.length; i += 1) {
    if (i > 100) throw new Error('the contenders did not all show up in the lock queue');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  line('demo', `lock queue: ${await queue(queueLock)}`);

  // ---- the crash
  const s = first.sessionTimeoutMs;
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  await first.exited;
  line(first.name, red(bold('✗ killed with SIGKILL')) + ' (a crash: no goodbye, no release)', red);
  line('', dim(`its session stays alive at the server until nothing was heard from it for S = ${ms(s)}`));
  const others = contenders.filter((c) => c !== first);
  let nodeGoneAt: number | undefined;
  let polling = false;
  const next = await until(
    'a new leader',
    3 * s + 15_000,
    () => currentLeader(others, killedAt),
    (elapsed) => {
      if (nodeGoneAt === undefined && !polling) {
        polling = true;
        void queueLock
          .contenderDetails()
          .then((details) => {
            if (nodeGoneAt === undefined && !details.some((d) => d.sessionId === first.sessionId)) {
              nodeGoneAt = Date.now();
              line('zookeeper', `expired ${first.name}'s session: its lock node is gone`);
            }
          })
          .catch(() => undefined)
          .finally(() => (polling = false));
      }
      const filled = Math.min(20, Math.round((elapsed / s) * 20));
      progress(
        `no leader for ${seconds(elapsed)} [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] S = ${seconds(s)}`,
      );
    },
  );
  const failoverMs = Number(next.last('leading')?.at) - killedAt;
  line('demo', bold(`new leader after ${ms(failoverMs)} (S = ${ms(s)}): ${next.name}`));
  line(
    '',
    dim(`${next.name} was next in line; it watched ${first.name}'s node and took over when it vanished.`),
  );
  const nextLeadAt = Number(next.last('leading')?.at);
  await until('the new leader to run its job twice', 10_000, () =>
    next.count('job', nextLeadAt) >= 2 ? true : undefined,
  );

  // ---- graceful stops
  const last = others.find((c) => c !== next);
  if (!last) throw new Error('no third contender');
  line('demo', `stopping ${next.name} gracefully (SIGTERM): its lock node is deleted, no waiting for S`);
  const stopAt = Date.now();
  next.child.kill('SIGTERM');
  const handedTo = await until(`${last.name} to take over`, 15_000, () => currentLeader([last], stopAt));
  const handoverMs = Number(handedTo.last('leading')?.at) - stopAt;
  line(
    'demo',
    bold(`graceful handover after ${ms(handoverMs)}`) + ` (versus ${ms(failoverMs)} after the crash)`,
  );
  await next.exited;
  const lastLeadAt = Number(last.last('leading')?.at);
  await until(`${last.name} to run its job`, 10_000, () =>
    last.count('job', lastLeadAt) >= 1 ? true : undefined,
  );
  line('demo', `stopping ${last.name} (SIGTERM)`);
  last.child.kill('SIGTERM');
  await until('every contender to exit', 15_000, () =>
    contenders.every((c) => !c.alive) ? true : undefined,
  );
  const unclean = others.filter((c) => c.exit?.code !== 0);
  if (unclean.length > 0) {
    throw new Error(`${unclean.map((c) => c.name).join(', ')} did not stop cleanly`);
  }

  console.log('');
  console.log(bold('What happened'));
  console.log(`  ${first.name} led and was killed; ${next.name} led ${ms(failoverMs)} later (S = ${ms(s)}).`);
  console.log(
    '  After a crash ZooKeeper must first expire the session, about S after it last heard from it;',
  );
  console.log(
    `  a graceful stop deletes the lock node at once: ${last.name} took over after ${ms(handoverMs)}.`,
  );
  console.log(
    dim(
      '  Next: examples/lock.ts, examples/leader.ts, examples/graceful-shutdown.ts, examples/checkpointing.ts',
    ),
  );
}

let cleanupPromise: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleanupPromise ??= (async () => {
    clearProgress();
    // After Ctrl-C the terminal has sent SIGINT to a local ZooKeeper too: don't wait long for goodbyes.
    await Promise.all(contenders.map((c) => c.terminate(interrupted ? 1_000 : 3_000)));
    await observer?.close().catch(() => undefined);
    if (zookeeper?.owned) {
      line('zookeeper', `stopping the ${zookeeper.description}`);
      await zookeeper
        .stop()
        .catch((error: unknown) => line('zookeeper', red(`stop failed: ${String(error)}`)));
    }
  })();
  return cleanupPromise;
}

process.on('exit', () => {
  for (const contender of contenders) if (contender.alive) contender.child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    wake();
    line('demo', yellow(`${signal}: cleaning up`));
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

let exitCode = 0;
try {
  const started = performance.now();
  await main();
  await cleanup();
  line('demo', green(bold(`done in ${seconds(performance.now() - started)}`)));
} catch (error) {
  if (interrupted) await new Promise(() => undefined); // the signal handler exits
  exitCode = 1;
  clearProgress();
  console.error(`\n${red('demo failed:')} ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof SetupError)) {
    for (const contender of contenders.filter((c) => c.stderr.trim() !== '')) {
      console.error(dim(`--- ${contender.name} stderr ---\n${contender.stderr.trim()}`));
    }
  }
  await cleanup();
}
process.exit(exitCode);
