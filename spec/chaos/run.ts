// The chaos orchestrator: a 3-member ensemble, P worker processes (each behind its own FaultProxy per
// member), a seeded fault schedule for N seconds, then a quiet period, a graceful shutdown, the orphan
// and watch census, and the checker.
//   node --import tsx spec/chaos/run.ts --seconds 60 --processes 3 --seed 42 [--json out.json]
//     [--session-ms 3000] [--paths 3] [--selectors 2] [--locks 2] [--dir <logs>] [--debug] [--plan]
// --plan prints the fault plan for the seed and exits. --debug gives workers DEBUG=zk-leader-selector:*
// (in w<k>-<inc>.stderr). Exit code 0 when the checker finds the run clean, 1 otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ZK_CODES } from '../../lib/zk/native.js';
import { ZkSession } from '../../lib/zk/zk-session.js';
import { ZooKeeperError } from '../../lib/errors.js';
import { proxiesFor, type FaultProxy, type ProxyMode } from '../support/fault-proxy.js';
import { ZooKeeperCluster } from '../support/zookeeper.js';
import { checkRun, formatReport, writeReportJson, type ChaosReport } from './check.js';
import { now, type MemberWatches, type OrphanNode, type RunEvent, type RunMeta } from './records.js';
import { countByKind, planFaults, type PlannedFault } from './schedule.js';

const WORKER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'worker.ts');
const READY_TIMEOUT_MS = 60_000;
const QUIESCE_TIMEOUT_MS = 40_000;
const CLOSE_TIMEOUT_MS = 15_000;

export interface ChaosOptions {
  seconds: number;
  processes: number;
  seed: string;
  /** Requested session timeout S of every worker (default 3000). */
  sessionTimeoutMs?: number;
  /** Number of lock paths (default 3). */
  paths?: number;
  selectorsPerPath?: number;
  lockLoopsPerPath?: number;
  /** Log directory (default: a new temp dir). */
  dir?: string;
  /** Also write the report here. */
  json?: string;
  /** DEBUG=zk-leader-selector:* in the workers' stderr files. */
  debug?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Aborting ends the fault phase early (still shuts everything down). */
  signal?: AbortSignal;
}

// Children die with this process, whatever the way out.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}

/** Resolves with the promise's value, or `fallback` after `ms`; the timer never outlives the race. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => {
        timer = setTimeout(() => resolve(fallback), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function tailOf(file: string, chars = 3000): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-chars);
  } catch {
    return '';
  }
}

interface LineWaiter {
  prefix: string;
  resolve: (rest: string) => void;
  reject: (error: Error) => void;
}

class WorkerHandle {
  inc = -1;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectedExit = false;
  private waiters = new Set<LineWaiter>();
  /** Set while a crashed worker is being restarted. */
  recovering: Promise<void> = Promise.resolve();
  /** No respawn after a crash once the run is winding down. */
  respawnOnCrash = true;

  constructor(
    readonly w: number,
    readonly proxies: FaultProxy[],
    private readonly ctx: RunContext,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get logFile(): string {
    return join(this.ctx.dir, `w${this.w}-${this.inc}.jsonl`);
  }

  async spawn(): Promise<void> {
    this.inc += 1;
    const inc = this.inc;
    const stderrFile = join(this.ctx.dir, `w${this.w}-${inc}.stderr`);
    const stderrFd = openSync(stderrFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          WORKER_SCRIPT,
          ...['--worker', String(this.w), '--inc', String(inc)],
          ...['--connect', this.proxies.map((p) => p.connectString).join(',')],
          ...['--paths', this.ctx.meta.paths.join(','), '--session', String(this.ctx.meta.sessionTimeoutMs)],
          ...['--log', this.logFile, '--seed', this.ctx.meta.seed],
          ...[
            '--selectors',
            String(this.ctx.meta.selectorsPerPath),
            '--locks',
            String(this.ctx.meta.lockLoopsPerPath),
          ],
        ],
        {
          stdio: ['pipe', 'pipe', stderrFd],
          env: { ...process.env, DEBUG: this.ctx.debug ? 'zk-leader-selector:*' : '' },
        },
      );
    } finally {
      closeSync(stderrFd);
    }
    this.child = child;
    this.expectedExit = false;
    liveChildren.add(child);
    child.stdin?.on('error', () => undefined);
    this.ctx.event({ t: 'spawn', w: this.w, inc, pid: child.pid ?? -1, at: now() });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        const at = now();
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        const expected = this.expectedExit;
        this.ctx.event({
          t: 'exit',
          w: this.w,
          inc,
          at,
          code,
          signal,
          expected,
          ...(expected ? {} : { stderrTail: tailOf(stderrFile) }),
        });
        for (const waiter of this.waiters)
          waiter.reject(new Error(`worker w${this.w}.${inc} exited (${code ?? signal})`));
        this.waiters.clear();
        if (!expected) {
          this.ctx.log(
            `worker w${this.w}.${inc} CRASHED (code ${code}, signal ${signal}); see ${stderrFile}`,
          );
          if (this.respawnOnCrash) {
            this.recovering = abortableSleep(500, undefined)
              .then(() => this.spawn())
              .catch((error: unknown) => this.ctx.log(`worker w${this.w} restart failed: ${String(error)}`));
          }
        }
        resolve();
      });
    });
    const sessionId = await this.waitLine('ready ', READY_TIMEOUT_MS);
    this.ctx.event({ t: 'ready', w: this.w, inc, at: now(), sessionId: sessionId.trim() });
  }

  private onLine(line: string): void {
    for (const waiter of this.waiters) {
      if (line.startsWith(waiter.prefix)) {
        this.waiters.delete(waiter);
        waiter.resolve(line.slice(waiter.prefix.length));
        return;
      }
    }
  }

  waitLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`worker w${this.w}.${this.inc}: no "${prefix.trim()}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: LineWaiter = {
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** kill -9; resolves once the process is gone. The kill time is recorded after the signal was sent. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectedExit = true;
    child.kill('SIGKILL');
    this.ctx.event({ t: 'kill', w: this.w, inc: this.inc, at: now() });
    await within(this.exited, 10_000, undefined);
  }

  send(command: string): void {
    this.child?.stdin?.write(`${command}\n`);
  }

  /** Stops all load in the worker; resolves with its live session id. */
  async quiesce(): Promise<{ sessionId?: string; state?: string }> {
    const answer = this.waitLine('quiesced ', QUIESCE_TIMEOUT_MS);
    this.send('quiesce');
    return JSON.parse(await answer) as { sessionId?: string; state?: string };
  }

  /** Graceful close; kill -9 (recorded) if it does not finish in time. */
  async close(): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    this.expectedExit = true;
    this.respawnOnCrash = false;
    this.send('close');
    const graceful = await within(
      this.exited.then(() => true),
      CLOSE_TIMEOUT_MS,
      false,
    );
    if (!graceful) {
      this.ctx.log(`worker w${this.w}.${this.inc} did not close within ${CLOSE_TIMEOUT_MS} ms: kill -9`);
      this.ctx.event({ t: 'note', at: now(), text: `w${this.w}.${this.inc} did not close gracefully` });
      await this.kill();
    }
    return graceful && child.exitCode === 0;
  }
}

interface RunContext {
  dir: string;
  meta: RunMeta;
  debug: boolean;
  event(e: RunEvent): void;
  log(line: string): void;
}

// ---- ZooKeeper inspection -------------------------------------------------------------------------

async function withSession<T>(connectString: string, fn: (session: ZkSession) => Promise<T>): Promise<T> {
  const session = new ZkSession({ connectString, sessionTimeoutMs: 10_000, auth: [] });
  try {
    const connected = new Promise<void>((resolve) => session.once('connected', () => resolve()));
    session.connect();
    const ok = await within(
      connected.then(() => true),
      20_000,
      false,
    );
    if (!ok) throw new Error(`inspection: no session with ${connectString} within 20 s`);
    return await fn(session);
  } finally {
    await session.end('closed', true);
  }
}

async function listLockNodes(
  connectString: string,
  paths: string[],
  liveSessions: Map<string, number>,
): Promise<OrphanNode[]> {
  return withSession(connectString, async (session) => {
    const nodes: OrphanNode[] = [];
    for (const path of paths) {
      let children: string[];
      try {
        children = await session.getChildren(path, { timeoutMs: 10_000 });
      } catch (error) {
        if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) continue;
        throw error;
      }
      for (const node of children.sort()) {
        try {
          const { data, stat } = await session.getData(`${path}/${node}`, { timeoutMs: 10_000 });
          const owner = stat.ephemeralOwner.toString('hex');
          nodes.push({ path, node, owner, data: data.toString('utf8'), liveWorker: liveSessions.get(owner) });
        } catch (error) {
          if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) continue;
          throw error;
        }
      }
    }
    return nodes;
  });
}

async function collectWatches(cluster: ZooKeeperCluster): Promise<MemberWatches[]> {
  return Promise.all(
    cluster.members.map(async (m): Promise<MemberWatches> => {
      try {
        const mntr = await cluster.fourLetterWord(m.id, 'mntr');
        const wchc = await cluster.fourLetterWord(m.id, 'wchc');
        const watchCount = /zk_watch_count\s+(\d+)/.exec(mntr)?.[1];
        const lines = wchc.split('\n');
        return {
          member: m.id,
          watchCount: watchCount === undefined ? undefined : Number(watchCount),
          wchcSessions: lines.filter((l) => /^0x[0-9a-f]+/i.test(l.trim())).length,
          wchcPaths: lines.filter((l) => /^\s+\//.test(l)).length,
        };
      } catch (error) {
        return {
          member: m.id,
          watchCount: undefined,
          wchcSessions: undefined,
          wchcPaths: undefined,
          error: (error as Error).message,
        };
      }
    }),
  );
}

// ---- the run --------------------------------------------------------------------------------------

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 3000;
  const log = options.log ?? (() => undefined);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `zk-chaos-${options.seed}-`)));
  mkdirSync(dir, { recursive: true });
  const eventsFd = openSync(join(dir, 'events.jsonl'), 'a');
  const event = (e: RunEvent): void => {
    writeSync(eventsFd, `${JSON.stringify(e)}\n`);
  };
  const paths = Array.from({ length: options.paths ?? 3 }, (_, i) => `/chaos/lock-${i}`);
  const plan = planFaults({
    seed: options.seed,
    seconds: options.seconds,
    processes: options.processes,
    sessionTimeoutMs,
    members: 3,
  });
  const signal = options.signal;
  let cluster: ZooKeeperCluster | undefined;
  const proxySets: { proxies: FaultProxy[]; close(): Promise<void> }[] = [];
  const workers: WorkerHandle[] = [];
  try {
    log(`starting a 3-member ensemble; logs in ${dir}`);
    cluster = await ZooKeeperCluster.startEnsemble(3);
    const zk = cluster;
    const meta: RunMeta = {
      seed: options.seed,
      seconds: options.seconds,
      processes: options.processes,
      sessionTimeoutMs,
      paths,
      selectorsPerPath: options.selectorsPerPath ?? 2,
      lockLoopsPerPath: options.lockLoopsPerPath ?? 2,
      members: zk.members.map((m) => ({ id: m.id, clientPort: m.clientPort })),
      plan,
      startedAt: now(),
    };
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    const ctx: RunContext = { dir, meta, debug: options.debug ?? false, event, log };
    for (let w = 0; w < options.processes; w += 1) {
      const set = await proxiesFor(zk.members.map((m) => m.connectString));
      proxySets.push(set);
      workers.push(new WorkerHandle(w, set.proxies, ctx));
    }
    log(`starting ${options.processes} workers`);
    await Promise.all(workers.map((w) => w.spawn()));

    // ---- faults
    const planned = Object.entries(countByKind(plan))
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    log(`fault phase: ${options.seconds} s, ${plan.length} faults planned (${planned})`);
    event({ t: 'phase', name: 'faults-start', at: now() });
    await runFaults(plan, zk, workers, options.seconds * 1000, event, log, signal);
    event({ t: 'phase', name: 'faults-end', at: now() });

    // ---- heal everything, let stale sessions expire
    for (const set of proxySets) for (const p of set.proxies) p.restore();
    for (const m of zk.members) if (!m.running) await zk.start(m.id);
    for (const w of workers) {
      await w.recovering.catch(() => undefined);
      if (!w.running) await w.spawn();
    }
    event({ t: 'phase', name: 'quiet', at: now() });
    const quietMs = sessionTimeoutMs + 2000;
    log(`quiet period ${quietMs} ms`);
    await sleep(quietMs);

    // ---- quiesce: all load stopped, sessions still open: any node left is a leak
    for (const w of workers) w.respawnOnCrash = false;
    const answers = await Promise.all(workers.map((w) => w.quiesce()));
    event({ t: 'phase', name: 'quiesced', at: now() });
    const liveSessions = new Map<string, number>();
    answers.forEach((a, w) => {
      if (a.sessionId) liveSessions.set(a.sessionId, w);
    });
    let live = await listLockNodes(zk.connectString, paths, liveSessions);
    // Nodes of other sessions (killed workers, given-up sessions) go when the server expires them.
    const staleUntil = now() + 2 * sessionTimeoutMs + 2000;
    while (live.some((n) => n.liveWorker === undefined) && now() < staleUntil) {
      await sleep(250);
      live = await listLockNodes(zk.connectString, paths, liveSessions);
    }
    event({
      t: 'orphans',
      stage: 'live',
      nodes: live,
      at: now(),
      sessions: Object.fromEntries([...liveSessions].map(([s, w]) => [`w${w}`, s])),
    });

    // ---- graceful close, then the census
    await Promise.all(workers.map((w) => w.close()));
    event({ t: 'phase', name: 'closed', at: now() });
    const afterClose = await listLockNodes(zk.connectString, paths, new Map());
    event({ t: 'orphans', stage: 'after-close', nodes: afterClose, at: now() });
    event({ t: 'watches', members: await collectWatches(zk), at: now() });
    event({ t: 'phase', name: 'end', at: now() });
  } finally {
    for (const w of workers) {
      w.respawnOnCrash = false;
      await w.kill().catch(() => undefined);
    }
    await Promise.all(proxySets.map((s) => s.close()));
    await cluster?.close();
    closeSync(eventsFd);
  }
  const report = checkRun(dir);
  writeReportJson(report, join(dir, 'report.json'));
  if (options.json) writeReportJson(report, options.json);
  return report;
}

async function runFaults(
  plan: PlannedFault[],
  cluster: ZooKeeperCluster,
  workers: WorkerHandle[],
  phaseMs: number,
  event: (e: RunEvent) => void,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const t0 = now();
  const endAt = t0 + phaseMs;
  const lanes = new Map<string, Promise<void>>();
  const record = (
    f: PlannedFault,
    phase: 'start' | 'end' | 'skip' | 'error',
    extra: Partial<RunEvent> = {},
  ) => {
    event({
      t: 'fault',
      phase,
      seq: f.seq,
      kind: f.kind,
      at: now(),
      plannedAt: t0 + f.at,
      worker: f.worker,
      member: f.member,
      proxy: f.proxy,
      durationMs: f.durationMs,
      ...extra,
    } as RunEvent);
  };

  const proxyFault = async (f: PlannedFault, worker: WorkerHandle, mode: ProxyMode): Promise<void> => {
    const targets =
      f.kind === 'freeze-one'
        ? [worker.proxies[f.proxy ?? 0]].filter((p) => p !== undefined)
        : worker.proxies;
    for (const p of targets) p.setMode(mode);
    record(f, 'start');
    try {
      await abortableSleep(f.durationMs, signal);
    } finally {
      for (const p of targets) p.restore();
      record(f, 'end');
    }
  };

  const workerOf = (f: PlannedFault): WorkerHandle | undefined =>
    f.worker === undefined ? undefined : workers[f.worker];

  const execute = async (f: PlannedFault): Promise<void> => {
    const worker = workerOf(f);
    if (worker) await worker.recovering.catch(() => undefined);
    switch (f.kind) {
      case 'freeze-short':
      case 'freeze-long':
      case 'freeze-one':
        if (worker) await proxyFault(f, worker, 'freeze');
        return;
      case 'drop':
        if (worker) await proxyFault(f, worker, 'drop');
        return;
      case 'blackhole':
        if (worker) await proxyFault(f, worker, 'blackhole');
        return;
      case 'kill':
        if (!worker) return;
        if (!worker.running) await worker.spawn();
        record(f, 'start');
        await worker.kill();
        await abortableSleep(f.durationMs, signal);
        await worker.spawn();
        record(f, 'end');
        return;
      case 'member-stop':
      case 'leader-stop': {
        const member = f.member ?? (await cluster.leaderId()) ?? 1;
        record(f, 'start', { member });
        await cluster.stop(member);
        await abortableSleep(f.durationMs, signal);
        await cluster.start(member);
        record(f, 'end', { member });
        return;
      }
      case 'ensemble-restart':
        record(f, 'start');
        await cluster.restart();
        record(f, 'end');
        return;
    }
  };

  // A worker is never hit by two faults at once, even when lanes drift from the plan.
  const workerBusy = new Map<number, Promise<void>>();
  const exclusively = async (f: PlannedFault, run: () => Promise<void>): Promise<void> => {
    if (f.worker === undefined) return run();
    const previous = workerBusy.get(f.worker) ?? Promise.resolve();
    const done = previous.then(run);
    workerBusy.set(f.worker, done);
    return done;
  };
  for (const f of plan) {
    const previous = lanes.get(f.lane) ?? Promise.resolve();
    lanes.set(
      f.lane,
      previous.then(async () => {
        await abortableSleep(t0 + f.at - now(), signal);
        await exclusively(f, () => runOne(f));
      }),
    );
  }
  await Promise.all(lanes.values());

  async function runOne(f: PlannedFault): Promise<void> {
    if (now() >= endAt || signal?.aborted) {
      record(f, 'skip');
      return;
    }
    log(`fault #${f.seq} ${f.kind} ${f.worker !== undefined ? `w${f.worker}` : f.lane} ${f.durationMs} ms`);
    try {
      await execute(f);
    } catch (error) {
      log(`fault #${f.seq} ${f.kind} failed: ${(error as Error).message}`);
      record(f, 'error', { error: (error as Error).message });
      // Leave nothing broken behind for the next fault of the lane.
      const w = workerOf(f);
      if (!w) {
        for (const m of cluster.members) if (!m.running) await cluster.start(m.id).catch(() => undefined);
      } else {
        for (const p of w.proxies) p.restore();
        if (!w.running) await w.spawn().catch(() => undefined);
      }
    }
  }
}

// ---- CLI ------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      processes: { type: 'string', default: '3' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      json: { type: 'string' },
      'session-ms': { type: 'string', default: '3000' },
      paths: { type: 'string', default: '3' },
      selectors: { type: 'string', default: '2' },
      locks: { type: 'string', default: '2' },
      dir: { type: 'string' },
      debug: { type: 'boolean', default: false },
      plan: { type: 'boolean', default: false },
    },
  });
  const options: ChaosOptions = {
    seconds: Number(values.seconds),
    processes: Number(values.processes),
    seed: values.seed,
    sessionTimeoutMs: Number(values['session-ms']),
    paths: Number(values.paths),
    selectorsPerPath: Number(values.selectors),
    lockLoopsPerPath: Number(values.locks),
    debug: values.debug,
    log: (line) => process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${line}\n`),
    ...(values.dir ? { dir: values.dir } : {}),
    ...(values.json ? { json: values.json } : {}),
  };
  for (const [name, value] of Object.entries({ seconds: options.seconds, processes: options.processes })) {
    if (!Number.isInteger(value) || value < 1) {
      process.stderr.write(`--${name} must be a positive integer\n`);
      process.exit(2);
    }
  }
  if (values.plan) {
    const plan = planFaults({
      seed: options.seed,
      seconds: options.seconds,
      processes: options.processes,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 3000,
      members: 3,
    });
    for (const f of plan) process.stdout.write(`${JSON.stringify(f)}\n`);
    process.exit(0);
  }
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    process.stdout.write('interrupted: ending the fault phase and shutting down (again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runChaos({ ...options, signal: controller.signal });
    process.stdout.write(`${formatReport(report)}\n`);
    process.exit(report.ok ? 0 : 1);
  } catch (error) {
    process.stderr.write(
      `chaos run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  }
}
