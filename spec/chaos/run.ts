// The chaos orchestrator: a 3-member ensemble, P worker processes (each behind its own FaultProxy per
// member), a seeded fault schedule for N seconds, then a quiet period, a graceful shutdown, the orphan
// and watch census, the members' transaction logs (the token oracle), and the checker.
//   node --import tsx spec/chaos/run.ts --seconds 60 --processes 3 --seed 42 [--json out.json]
//     [--session-ms 3000] [--paths 3] [--selectors 2] [--locks 2] [--dir <logs>] [--debug] [--plan]
//     [--load] [--no-pauses] [--mutant] [--skew-time-origin <worker>:<ms>] [--tasks 6]
// --plan prints the fault plan for the seed and exits. --debug gives workers DEBUG=zk-leader-selector:*
// (in w<k>-<inc>.stderr). --load runs one busy loop per core for the whole run (load.ts). --mutant
// makes worker 0 the ignore-ownership mutant (its lock loops and its task group's runs) and replaces the
// plan with one pause of it while it holds a lock and runs a task (schedule.ts planMutantPause): the run
// must then FAIL. --tasks: every worker also runs a task group of that many tasks below /chaos/tasks
// (tasks.ts; 0: none). --skew-time-origin 0:6 skews worker 0's
// performance.timeOrigin by 6 ms (what broke the seed-3 CI run; the shared clock ignores it). Exit code 0 when the checker finds the
// run clean, 1 otherwise.
//
// Every process of the run stamps its records with one clock (records.ts): host monotonic time plus the
// epoch offset this process measured at start, passed to every worker.
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { proxiesFor, type FaultProxy } from '../support/fault-proxy.js';
import { ZooKeeperCluster } from '../support/zookeeper.js';
import { checkRun, formatReport, writeReportJson, type ChaosReport } from './check.js';
import { runFaults } from './faults.js';
import { collectTxnLogs, collectWatches, listLockNodes } from './inspect.js';
import { BusyLoad } from './load.js';
import { clockOffset, now, type RunEvent, type RunMeta } from './records.js';
import { countByKind, planFaults, planMutantPause } from './schedule.js';
import { chaosTaskNames } from './tasks.js';
import { WorkerHandle, type RunContext } from './workers.js';

/** Paths of the run's locks are below this. */
const ROOT = '/chaos';
/** The workers' task group (tasks.ts). */
const TASK_GROUP = `${ROOT}/tasks`;

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
  /** One busy-looping process per core for the whole run (default false). */
  load?: boolean;
  /** Process pauses (SIGSTOP/SIGCONT) in the plan (default true). */
  pauses?: boolean;
  /** Worker 0 is the ignore-ownership mutant, paused while it holds a lock; the only fault (default false). */
  mutant?: boolean;
  /** Tasks of the task group every worker runs (default 6; 0: no task group). */
  tasks?: number;
  /** Skews one worker's performance.timeOrigin (records.ts TIME_ORIGIN_SKEW_ENV): the shared clock must not care. */
  timeOriginSkew?: { worker: number; ms: number };
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
  const paths = Array.from({ length: options.paths ?? 3 }, (_, i) => `${ROOT}/lock-${i}`);
  const taskCount = options.tasks ?? 6;
  const taskGroup = taskCount > 0 ? { path: TASK_GROUP, tasks: chaosTaskNames(taskCount) } : undefined;
  // The orphan census also lists the tasks' lock nodes and the group's member nodes.
  const censusPaths = [
    ...paths,
    ...(taskGroup ? [...taskGroup.tasks.map((t) => `${TASK_GROUP}/${t}`), `${TASK_GROUP}/_members`] : []),
  ];
  const plan = options.mutant
    ? planMutantPause(sessionTimeoutMs, taskGroup !== undefined)
    : planFaults({
        seed: options.seed,
        seconds: options.seconds,
        processes: options.processes,
        sessionTimeoutMs,
        members: 3,
        pauses: options.pauses ?? true,
      });
  const signal = options.signal;
  let cluster: ZooKeeperCluster | undefined;
  const proxySets: { proxies: FaultProxy[]; close(): Promise<void> }[] = [];
  const workers: WorkerHandle[] = [];
  let load: BusyLoad | undefined;
  try {
    if (options.load) {
      // Bounded by stop() below; also by a deadline far past any normal end of the run.
      load = new BusyLoad((options.seconds + 600) * 1000);
      log(`load: ${load.count} busy-looping processes`);
    }
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
      clockOffsetMs: clockOffset(),
      load: load?.count ?? 0,
      mutant: options.mutant ?? false,
      ...(taskGroup ? { taskGroup } : {}),
    };
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    const ctx: RunContext = {
      dir,
      meta,
      debug: options.debug ?? false,
      mutants: new Set(options.mutant ? [0] : []),
      timeOriginSkews: new Map(
        options.timeOriginSkew ? [[options.timeOriginSkew.worker, options.timeOriginSkew.ms]] : [],
      ),
      event,
      log,
    };
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
    let live = await listLockNodes(zk.connectString, censusPaths, liveSessions);
    // Nodes of other sessions (killed workers, given-up sessions) go when the server expires them.
    const staleUntil = now() + 2 * sessionTimeoutMs + 2000;
    while (live.some((n) => n.liveWorker === undefined) && now() < staleUntil) {
      await sleep(250);
      live = await listLockNodes(zk.connectString, censusPaths, liveSessions);
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
    const afterClose = await listLockNodes(zk.connectString, censusPaths, new Map());
    event({ t: 'orphans', stage: 'after-close', nodes: afterClose, at: now() });
    event({ t: 'watches', members: await collectWatches(zk), at: now() });
    const txns = collectTxnLogs(zk, ROOT, dir);
    log(`transaction logs: ${txns} changes under ${ROOT}`);
    event({ t: 'phase', name: 'end', at: now() });
  } finally {
    load?.stop();
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
      load: { type: 'boolean', default: false },
      'no-pauses': { type: 'boolean', default: false },
      mutant: { type: 'boolean', default: false },
      'skew-time-origin': { type: 'string' },
      tasks: { type: 'string', default: '6' },
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
    load: values.load,
    pauses: !values['no-pauses'],
    mutant: values.mutant,
    tasks: Number(values.tasks),
    ...(values['skew-time-origin']
      ? {
          timeOriginSkew: {
            worker: Number(values['skew-time-origin'].split(':')[0]),
            ms: Number(values['skew-time-origin'].split(':')[1]),
          },
        }
      : {}),
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
    const plan = options.mutant
      ? planMutantPause(options.sessionTimeoutMs ?? 3000, (options.tasks ?? 6) > 0)
      : planFaults({
          seed: options.seed,
          seconds: options.seconds,
          processes: options.processes,
          sessionTimeoutMs: options.sessionTimeoutMs ?? 3000,
          members: 3,
          pauses: options.pauses ?? true,
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
