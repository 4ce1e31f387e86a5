/**
 * OpenTelemetry metrics through `@opentelemetry/api`, an optional peer dependency: loaded with a
 * dynamic import, so the package works without it. Without a registered SDK the API hands out
 * no-op instruments, which cost a function call each.
 */
import { logger } from '../util/log.js';

const log = logger('metrics');

/** Attribute values of a measurement. */
type Attributes = Record<string, string | number | boolean>;

/** The part of @opentelemetry/api's MeterProvider used here (structural: the package is optional). */
export interface MeterProviderLike {
  getMeter(name: string, version?: string): unknown;
}

/** Metrics options of a Coordinator. */
export interface MetricsOptions {
  /** false: record nothing (default true). */
  enabled?: boolean;
  /** Default: the global MeterProvider of @opentelemetry/api when it is installed (else none). */
  meterProvider?: MeterProviderLike;
  /** Record the lock path as the `lock.path` attribute (default true; off for per-entity lock paths). */
  lockPathAttribute?: boolean;
}

interface Histogram {
  record(value: number, attributes?: Attributes): void;
}
interface Counter {
  add(value: number, attributes?: Attributes): void;
}
interface ObservableResult {
  observe(value: number, attributes?: Attributes): void;
}
interface Observable {
  addCallback(callback: (result: ObservableResult) => void): void;
  removeCallback(callback: (result: ObservableResult) => void): void;
}
interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}
interface Meter {
  createHistogram(name: string, options?: InstrumentOptions): Histogram;
  createCounter(name: string, options?: InstrumentOptions): Counter;
  createObservableGauge(name: string, options?: InstrumentOptions): Observable;
}

/** What the observable instruments read when the SDK collects. */
export interface MetricSources {
  state(): string;
  /** Lease left in ms (0 without a live session). */
  leaseRemainingMs(): number;
  heldLocks(): number;
  /** Per selector: its path and whether it leads. */
  leaders(): { path: string; leading: boolean }[];
  /** Per task group: its path and how many tasks run here. */
  taskGroups(): { path: string; owned: number }[];
}

const PREFIX = 'zk_leader_selector';
const STATES = ['idle', 'connecting', 'connected', 'suspended', 'closed', 'disabled'];
/** Seconds: from a fast loopback acquire to a wait of minutes. */
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

let globalProvider: Promise<MeterProviderLike | undefined> | undefined;

/** The global MeterProvider of @opentelemetry/api, or undefined when the package is absent. */
function loadGlobalProvider(): Promise<MeterProviderLike | undefined> {
  globalProvider ??= import('@opentelemetry/api').then(
    (api) => api.metrics.getMeterProvider(),
    () => {
      log('@opentelemetry/api not installed: no metrics');
      return undefined;
    },
  );
  return globalProvider;
}

/** One coordinator's instruments. Every method is safe (and nearly free) before they exist. */
export class CoordinatorMetrics {
  private instruments: ReturnType<CoordinatorMetrics['create']> | undefined;
  private readonly observed: { gauge: Observable; callback: (result: ObservableResult) => void }[] = [];
  private closed = false;
  readonly lockPathAttribute: boolean;

  constructor(
    options: MetricsOptions,
    private readonly sources: MetricSources,
    version: string,
  ) {
    this.lockPathAttribute = options.lockPathAttribute ?? true;
    if (options.enabled === false) return;
    const attach = (provider: MeterProviderLike | undefined): void => {
      if (!provider || this.closed) return;
      this.instruments = this.create(provider.getMeter('zk-leader-selector', version) as Meter);
    };
    if (options.meterProvider) attach(options.meterProvider);
    else void loadGlobalProvider().then(attach);
  }

  private create(meter: Meter) {
    const duration = (name: string, description: string): Histogram =>
      meter.createHistogram(`${PREFIX}.${name}`, {
        description,
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      });
    const instruments = {
      suspensions: meter.createCounter(`${PREFIX}.session.suspensions`, {
        description: 'Times the session was suspended (no answers, or the connection dropped)',
      }),
      losses: meter.createCounter(`${PREFIX}.session.losses`, {
        description: 'Sessions lost (expired, given up, auth failed), by reason',
      }),
      acquireDuration: duration('lock.acquire.duration', 'Time acquire() took, by outcome'),
      holdDuration: duration('lock.hold.duration', 'Time a lock was held, from acquired to released or lost'),
      transitions: meter.createCounter(`${PREFIX}.leader.transitions`, {
        description: 'Leadership gained and lost, by transition and reason',
      }),
      terms: meter.createCounter(`${PREFIX}.leader.terms`, { description: 'Leader terms started' }),
      requestDuration: duration('request.duration', 'ZooKeeper request latency, by operation'),
    };
    this.observe(
      meter,
      'session.state',
      'Session state: 1 for the current state, 0 for the others',
      '{state}',
      (r) => {
        const state = this.sources.state();
        for (const s of STATES) r.observe(s === state ? 1 : 0, { 'session.state': s });
      },
    );
    this.observe(
      meter,
      'session.lease.remaining',
      'Time until the ownership deadline of the session',
      's',
      (r) => r.observe(Math.max(0, this.sources.leaseRemainingMs()) / 1000),
    );
    this.observe(meter, 'lock.held', 'Locks held by this coordinator', '{lock}', (r) =>
      r.observe(this.sources.heldLocks()),
    );
    this.observe(meter, 'leader.is_leader', 'Per selector: 1 while it leads', '{leader}', (r) => {
      for (const { path, leading } of this.sources.leaders())
        r.observe(leading ? 1 : 0, { 'leader.path': path });
    });
    this.observe(
      meter,
      'task_group.owned_tasks',
      'Per task group: tasks whose term runs here',
      '{task}',
      (r) => {
        for (const { path, owned } of this.sources.taskGroups())
          r.observe(owned, { 'task_group.path': path });
      },
    );
    return instruments;
  }

  private observe(
    meter: Meter,
    name: string,
    description: string,
    unit: string,
    callback: (result: ObservableResult) => void,
  ): void {
    const gauge = meter.createObservableGauge(`${PREFIX}.${name}`, { description, unit });
    gauge.addCallback(callback);
    this.observed.push({ gauge, callback });
  }

  private pathAttributes(path: string): Attributes {
    return this.lockPathAttribute ? { 'lock.path': path } : {};
  }

  suspended(): void {
    this.instruments?.suspensions.add(1);
  }

  lost(reason: string): void {
    this.instruments?.losses.add(1, { 'loss.reason': reason });
  }

  acquireEnded(path: string, outcome: string, durationMs: number): void {
    this.instruments?.acquireDuration.record(durationMs / 1000, {
      ...this.pathAttributes(path),
      'acquire.outcome': outcome,
    });
  }

  holdEnded(path: string, heldMs: number): void {
    this.instruments?.holdDuration.record(heldMs / 1000, this.pathAttributes(path));
  }

  leadership(path: string, transition: 'acquired' | 'lost', reason: string): void {
    if (!this.instruments) return;
    this.instruments.transitions.add(1, {
      'leader.path': path,
      'leadership.transition': transition,
      'leadership.reason': reason,
    });
    if (transition === 'acquired') this.instruments.terms.add(1, { 'leader.path': path });
  }

  request(operation: string, durationMs: number, ok: boolean): void {
    this.instruments?.requestDuration.record(durationMs / 1000, {
      'zookeeper.operation': operation,
      'request.outcome': ok ? 'ok' : 'error',
    });
  }

  /** Stops reporting (observable callbacks removed, so a closed coordinator can be collected). */
  close(): void {
    this.closed = true;
    for (const { gauge, callback } of this.observed.splice(0)) gauge.removeCallback(callback);
    this.instruments = undefined;
  }
}
