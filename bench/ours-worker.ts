// Worker process for figures 1 and 2 (so ours and the floor run in a process of their own, like the
// Curator and kazoo peers):
//   ours-worker.ts throughput-ours  <connect> <lockPath> <seconds> <sessionTimeoutMs>
//   ours-worker.ts throughput-floor <connect> <lockPath> <seconds> <sessionTimeoutMs>
//   ours-worker.ts throughput-floor-list <connect> <lockPath> <seconds> <sessionTimeoutMs>
//       1 s warm-up, {"event":"timed"}, then uncontended cycles for <seconds>; result {cycles,
//       seconds, cyclesPerSecond, totalCycles (warm-up included)}.
//   ours-worker.ts throughput-transport <connect> <lockPath> <warmupMs> <sessionTimeoutMs> <variant>
//       [<caFile> <certFile> <keyFile>]
//       Figure "transport": throughput-ours with <variant> = metrics-off (`metrics: { enabled:
//       false }`), default (@opentelemetry/api installed, no SDK registered), sdk (a MeterProvider
//       of @opentelemetry/sdk-metrics with a reader collecting every second, passed as
//       `metrics: { meterProvider }`) or tls (`tls: { ca, cert, key }` from the PEM files; connect
//       is then the server's secureClientPort). Warms up for <warmupMs>, emits {"event":"ready"},
//       then on each command {"burst": id, "ms": n} runs cycles for n ms and emits {"burst": id,
//       cycles, ms, cpuMs (this process's user + system CPU)}; on {"done": true} the result
//       {variant, totalCycles, exports, acquires (sdk: acquire() calls the SDK's last collection
//       counted)}.
//   ours-worker.ts handoff <connect> <lockPath> <clients> <warmup> <handoffs> <holdMs> <sessionTimeoutMs>
//       <clients> coordinators (one session each) loop acquire / hold / release on one lock; result
//       {records: [acquiredAt, releaseCalledAt, releasedAt][]} in ms (performance.now()) in
//       acquisition order, warm-up acquisitions dropped.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Coordinator, type CoordinatorOptions, type SharedReentrantLock } from '../lib/index.js';
import { connectRaw, now, raw, rawCall, sleep, workerIo, type Json } from './lib/common.js';

const commands: Json[] = [];
let onCommand: (() => void) | undefined;
const { emit } = workerIo((command) => {
  commands.push(command);
  onCommand?.();
});

/** The next command from the driver (stdin). */
async function nextCommand(): Promise<Json> {
  while (commands.length === 0) await new Promise<void>((resolve) => (onCommand = resolve));
  onCommand = undefined;
  return commands.shift() as Json;
}
const [mode = '', connect = '', lockPath = '', ...rest] = process.argv.slice(2);

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
  emit({
    result: { cycles, seconds: elapsed, cyclesPerSecond: cycles / elapsed, totalCycles: total },
  });
}

async function throughputOurs(seconds: number, sessionTimeoutMs: number): Promise<void> {
  const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs });
  await coordinator.start();
  const lock = coordinator.createLock(lockPath, { id: `bench-${process.pid}` });
  await timedLoop(async () => {
    await lock.acquire();
    await lock.release();
  }, seconds);
  await coordinator.close();
}

export type TransportVariant = 'metrics-off' | 'default' | 'sdk' | 'tls';

/**
 * An exporter like a real one minus the wire: it sees every collection and reads the acquire
 * histogram's count (so the run shows the SDK really recorded every acquire), then drops it.
 */
class CountingExporter implements PushMetricExporter {
  exports = 0;
  acquires = 0;
  export(metrics: ResourceMetrics, done: (result: { code: number }) => void): void {
    this.exports += 1;
    let acquires = 0;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'zk_leader_selector.lock.acquire.duration') continue;
        if (metric.dataPointType !== DataPointType.HISTOGRAM) continue;
        for (const point of metric.dataPoints) acquires += point.value.count;
      }
    }
    this.acquires = acquires;
    done({ code: 0 });
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Figure "transport": throughput-ours over plain TCP with metrics off / default / an SDK, or TLS,
 * in short bursts the driver asks for, so the variants' processes take turns at a fine grain and
 * the machine's changing load hits all of them alike.
 */
async function throughputTransport(
  warmupMs: number,
  sessionTimeoutMs: number,
  variant: TransportVariant,
  files: string[],
): Promise<void> {
  const options: CoordinatorOptions = { connectString: connect, sessionTimeoutMs };
  let exporter: CountingExporter | undefined;
  let provider: MeterProvider | undefined;
  if (variant === 'metrics-off') options.metrics = { enabled: false };
  else if (variant === 'sdk') {
    exporter = new CountingExporter();
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000 });
    provider = new MeterProvider({ readers: [reader] });
    options.metrics = { meterProvider: provider };
  } else if (variant === 'tls') {
    const [ca, cert, key] = files.map((file) => readFileSync(file));
    options.tls = { ca, cert, key };
  } else if (variant !== 'default') throw new Error(`unknown transport variant ${String(variant)}`);
  const coordinator = new Coordinator(options);
  await coordinator.start();
  const lock = coordinator.createLock(lockPath, { id: `bench-${process.pid}` });
  let total = 0;
  const runFor = async (ms: number): Promise<number> => {
    const end = now() + ms;
    let cycles = 0;
    do {
      await lock.acquire();
      await lock.release();
      cycles += 1;
    } while (now() < end);
    total += cycles;
    return cycles;
  };
  await runFor(warmupMs);
  emit({ event: 'ready' });
  for (;;) {
    const command = await nextCommand();
    if (command.done) break;
    const cpu = process.cpuUsage();
    const start = now();
    const cycles = await runFor(Number(command.ms));
    const ms = now() - start;
    const used = process.cpuUsage(cpu);
    emit({ burst: command.burst, cycles, ms, cpuMs: (used.user + used.system) / 1000 });
  }
  await provider?.forceFlush(); // a last collection: it counts every acquire so far
  emit({
    result: {
      variant,
      totalCycles: total,
      exports: exporter?.exports ?? 0,
      acquires: exporter?.acquires ?? 0,
    },
  });
  await coordinator.close();
  await provider?.shutdown();
}

/**
 * The raw client with no lock logic: create + delete (`withListing` false), or create and
 * getChildren sent back to back + delete (`withListing` true): the requests an uncontended
 * acquire + release of any lock that must see its contenders sends.
 */
async function throughputFloor(
  seconds: number,
  sessionTimeoutMs: number,
  withListing: boolean,
): Promise<void> {
  const client = await connectRaw(connect, sessionTimeoutMs);
  await rawCall((cb) => client.mkdirp(lockPath, cb));
  const data = Buffer.from(`bench-${process.pid}`, 'utf8');
  const mode = raw.CreateMode.EPHEMERAL_SEQUENTIAL;
  await timedLoop(async () => {
    // Same node name shape and data as ours: the difference is only the protocol.
    const creating = rawCall<string>((cb) =>
      client.create(`${lockPath}/_c_${randomUUID()}-lock-`, data, mode, cb),
    );
    const listing = withListing ? rawCall((cb) => client.getChildren(lockPath, cb)) : undefined;
    const created = await creating;
    await listing;
    await rawCall((cb) => client.remove(created, -1, cb));
  }, seconds);
  client.close();
}

async function handoff(
  clients: number,
  warmup: number,
  handoffs: number,
  holdMs: number,
  sessionTimeoutMs: number,
): Promise<void> {
  const coordinators = await Promise.all(
    Array.from({ length: clients }, async () => {
      const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs });
      await coordinator.start();
      return coordinator;
    }),
  );
  const total = warmup + handoffs;
  const records: Array<[number, number, number, number]> = [];
  let acquisitions = 0;
  const loop = async (lock: SharedReentrantLock): Promise<void> => {
    for (;;) {
      await lock.acquire();
      const acquiredAt = now();
      const k = acquisitions;
      acquisitions += 1;
      if (k >= total) {
        await lock.release();
        return;
      }
      if (holdMs > 0) await sleep(holdMs);
      const releaseCalledAt = now();
      await lock.release();
      records.push([k, acquiredAt, releaseCalledAt, now()]);
    }
  };
  await Promise.all(coordinators.map((c, i) => loop(c.createLock(lockPath, { id: `handoff-${i}` }))));
  records.sort((a, b) => a[0] - b[0]);
  emit({ result: { records: records.filter((r) => r[0] >= warmup).map((r) => r.slice(1)) } });
  await Promise.all(coordinators.map((c) => c.close()));
}

switch (mode) {
  case 'throughput-ours':
    await throughputOurs(Number(rest[0]), Number(rest[1]));
    break;
  case 'throughput-floor':
  case 'throughput-floor-list':
    await throughputFloor(Number(rest[0]), Number(rest[1]), mode === 'throughput-floor-list');
    break;
  case 'throughput-transport':
    await throughputTransport(
      Number(rest[0]),
      Number(rest[1]),
      (rest[2] ?? '') as TransportVariant,
      rest.slice(3),
    );
    break;
  case 'handoff':
    await handoff(Number(rest[0]), Number(rest[1]), Number(rest[2]), Number(rest[3]), Number(rest[4]));
    break;
  default:
    process.stderr.write(`unknown mode ${mode}\n`);
    process.exit(2);
}
process.exit(0);
