// Executing a chaos run's fault plan (schedule.ts): lanes run their faults one after the other, never
// before the planned time; a worker is never hit by two faults at once. Every fault is recorded as
// 'start'/'end' (or 'skip'/'error') events with the shared clock's time.
import type { ProxyMode } from '../support/fault-proxy.js';
import type { ZooKeeperCluster } from '../support/zookeeper.js';
import { now, type RunEvent } from './records.js';
import type { PlannedFault } from './schedule.js';
import { abortableSleep, type WorkerHandle } from './workers.js';

/** How long a triggered pause waits for its worker to hold a lock. */
const TRIGGER_TIMEOUT_MS = 30_000;

export async function runFaults(
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
      case 'pause':
        if (!worker) return;
        if (!worker.running) await worker.spawn();
        if (f.trigger === 'holding') await worker.waitHolding(TRIGGER_TIMEOUT_MS);
        if (f.trigger === 'holding-lock-and-task')
          await worker.waitHolding(TRIGGER_TIMEOUT_MS, { task: true });
        await worker.pause(
          f.durationMs,
          signal,
          () => record(f, 'start'),
          () => record(f, 'end'),
        );
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
