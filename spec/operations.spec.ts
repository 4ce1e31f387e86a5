// Operations (issue 16): OpenTelemetry metrics with the real SDK and an in-memory reader,
// diagnostics_channel events, coordinator.status(), and the package without @opentelemetry/api.
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { after, before, describe, it } from './support/test.js';
import { CHANNELS, Coordinator, type CoordinatorOptions } from '../lib/index.js';
import { VERSION } from '../lib/version.js';
import { CoordinatorPool } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { runFixture } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';
import { readFileSync } from 'node:fs';

let counter = 0;
const uniquePath = (name: string): string => `/operations-spec/${name}-${process.pid}-${(counter += 1)}`;

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

async function collect(reader: TestReader): Promise<Map<string, Point[]>> {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const byName = new Map<string, Point[]>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      byName.set(
        metric.descriptor.name,
        metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
      );
    }
  }
  return byName;
}

const histogramCount = (points: Point[] | undefined, match: Record<string, unknown>): number =>
  (points ?? [])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (p.value as { count: number }).count, 0);

const sum = (points: Point[] | undefined, match: Record<string, unknown>): number =>
  (points ?? [])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (p.value as number), 0);

describe('operations: metrics, channels, status', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  const withMetrics = (
    options: Partial<CoordinatorOptions> & { connectString: string },
    lockPathAttribute = true,
  ): { coordinator: Coordinator; reader: TestReader; provider: MeterProvider } => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const coordinator = pool.create({
      sessionTimeoutMs: 4000,
      ...options,
      metrics: { meterProvider: provider, lockPathAttribute },
    });
    return { coordinator, reader, provider };
  };

  it('the version constant matches package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });

  it('instruments follow acquire / timeout / abort / release / leadership / freeze', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const { coordinator, reader } = withMetrics({ connectString: proxy.connectString });
      await coordinator.start();
      const rival = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
      const path = uniquePath('metrics');
      const lock = coordinator.createLock(path);
      assert.equal(await lock.acquire(1000), true);
      let m = await collect(reader);
      assert.equal(sum(m.get('zk_leader_selector.lock.held'), {}), 1);
      assert.equal(
        histogramCount(m.get('zk_leader_selector.lock.acquire.duration'), {
          'acquire.outcome': 'acquired',
          'lock.path': path,
        }),
        1,
      );
      await lock.release();

      const held = rival.createLock(path);
      assert.equal(await held.acquire(1000), true);
      assert.equal(await lock.acquire(50), false);
      const controller = new AbortController();
      const aborted = lock.acquire({ signal: controller.signal });
      await waitFor(async () => (await held.contenders()).length === 2);
      controller.abort();
      await assert.rejects(aborted);
      await held.release();

      const selectorPath = uniquePath('leader');
      const selector = coordinator.createLeaderSelector(selectorPath, {
        tickMs: 200,
        leader: (control) => control.waitUntilShouldStop(60_000).then(() => undefined),
      });
      selector.start();
      await waitFor(() => selector.isLeader());
      m = await collect(reader);
      assert.equal(
        histogramCount(m.get('zk_leader_selector.lock.acquire.duration'), { 'acquire.outcome': 'timeout' }),
        1,
      );
      assert.equal(
        histogramCount(m.get('zk_leader_selector.lock.acquire.duration'), { 'acquire.outcome': 'aborted' }),
        1,
      );
      assert.equal(histogramCount(m.get('zk_leader_selector.lock.hold.duration'), { 'lock.path': path }), 1);
      assert.equal(sum(m.get('zk_leader_selector.leader.is_leader'), { 'leader.path': selectorPath }), 1);
      assert.equal(sum(m.get('zk_leader_selector.leader.terms'), { 'leader.path': selectorPath }), 1);
      assert.equal(sum(m.get('zk_leader_selector.session.state'), { 'session.state': 'connected' }), 1);
      assert.ok(sum(m.get('zk_leader_selector.session.lease.remaining'), {}) > 0);
      assert.ok(
        histogramCount(m.get('zk_leader_selector.request.duration'), { 'zookeeper.operation': 'create' }) >=
          1,
      );

      proxy.freeze();
      await waitFor(() => !selector.isLeader(), { timeoutMs: 8000 });
      await waitFor(() => coordinator.state !== 'connected', { timeoutMs: 8000 });
      m = await collect(reader);
      assert.equal(sum(m.get('zk_leader_selector.leader.is_leader'), { 'leader.path': selectorPath }), 0);
      assert.equal(
        sum(m.get('zk_leader_selector.leader.transitions'), {
          'leader.path': selectorPath,
          'leadership.transition': 'lost',
          'leadership.reason': 'connectionLost',
        }),
        1,
      );
      assert.ok(sum(m.get('zk_leader_selector.session.suspensions'), {}) >= 1);
      proxy.restore();
      await selector.stop();
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('the owned-tasks gauge follows a task group', async () => {
    const { coordinator, reader } = withMetrics({ connectString: zk.connectString });
    await coordinator.start();
    const groupPath = uniquePath('group');
    const group = coordinator.createTaskGroup(groupPath, {
      tasks: ['a', 'b', 'c'],
      id: 'member-1',
      run: (_task, control) => control.waitUntilShouldStop(60_000).then(() => undefined),
    });
    group.start();
    await waitFor(() => group.ownedTasks().length === 3, { timeoutMs: 10_000 });
    const m = await collect(reader);
    assert.equal(
      sum(m.get('zk_leader_selector.task_group.owned_tasks'), { 'task_group.path': groupPath }),
      3,
    );
    await group.stop();
    // A stopped group is no longer observed (the SDK may still show its last point until it ages out).
    assert.equal(coordinator.status().leaders.length, 0);
  });

  it('lockPathAttribute: false records no lock path', async () => {
    const { coordinator, reader } = withMetrics({ connectString: zk.connectString }, false);
    await coordinator.start();
    const lock = coordinator.createLock(uniquePath('no-path'));
    assert.equal(await lock.acquire(1000), true);
    await lock.release();
    const points = (await collect(reader)).get('zk_leader_selector.lock.acquire.duration') ?? [];
    assert.ok(points.length > 0);
    for (const p of points) assert.equal(p.attributes['lock.path'], undefined);
  });

  it('a diagnostics_channel subscriber sees the lifecycle in order', async () => {
    const seen: string[] = [];
    const path = uniquePath('channels');
    const subscribers = Object.values(CHANNELS).map((name) => {
      const fn = (message: unknown): void => {
        const m = message as { path?: string; event?: string };
        if (m.path === undefined || m.path === path) seen.push(m.event ? `${name}:${m.event}` : name);
      };
      diagnosticsChannel.subscribe(name, fn);
      return { name, fn };
    });
    try {
      const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
      const selector = coordinator.createLeaderSelector(path, {
        leader: async (control) => control.yield(),
        workIterationsUntilStop: 1,
      });
      selector.start();
      await selector.waitUntilStopped(10_000);
      await coordinator.close();
    } finally {
      for (const { name, fn } of subscribers) diagnosticsChannel.unsubscribe(name, fn);
    }
    assert.deepEqual(seen, [
      `${CHANNELS.session}:connected`,
      CHANNELS.acquireStart,
      CHANNELS.acquireEnd,
      CHANNELS.leadershipAcquired,
      CHANNELS.leadershipLost,
      CHANNELS.release,
      `${CHANNELS.session}:closed`,
    ]);
  });

  it('status() before start, connected with a lock and a leader, suspended, closed', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const coordinator = pool.create({ connectString: proxy.connectString, sessionTimeoutMs: 4000 });
      const idle = coordinator.status();
      assert.equal(idle.state, 'idle');
      assert.equal(idle.sessionId, undefined);
      assert.equal(idle.leaseRemainingMs, 0);
      await coordinator.start();
      const lock = coordinator.createLock(uniquePath('status-lock'));
      assert.equal(await lock.acquire(1000), true);
      const selectorPath = uniquePath('status-leader');
      const selector = coordinator.createLeaderSelector(selectorPath, {
        leader: (control) => control.waitUntilShouldStop(60_000).then(() => undefined),
      });
      selector.start();
      await waitFor(() => selector.isLeader());
      const connected = coordinator.status();
      assert.equal(connected.state, 'connected');
      assert.match(connected.sessionId ?? '', /^[0-9a-f]{16}$/);
      assert.equal(connected.sessionTimeoutMs, 4000);
      assert.ok(connected.leaseRemainingMs > 0 && connected.leaseRemainingMs <= 4000);
      const held = connected.heldLocks.find((h) => h.path === lock.path);
      assert.ok(held, JSON.stringify(connected));
      assert.equal(held.fencingToken, String(lock.fencingToken));
      assert.equal(held.owned, true);
      const leader = connected.leaders.find((l) => l.path === selectorPath);
      assert.ok(
        leader?.leading && leader.term === 1 && typeof leader.since === 'number',
        JSON.stringify(connected),
      );
      assert.doesNotThrow(() => JSON.stringify(connected), 'status() is plain JSON');
      proxy.drop();
      await waitFor(() => coordinator.status().state === 'suspended', { timeoutMs: 4000 });
      proxy.restore();
      await waitFor(() => coordinator.status().state === 'connected', { timeoutMs: 4000 });
      await selector.stop();
      await lock.release();
      assert.equal(coordinator.status().heldLocks.length, 0);
      assert.equal(coordinator.status().leaders.length, 0);
      await coordinator.close();
      assert.equal(coordinator.status().state, 'closed');
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('the library loads and a lock works without @opentelemetry/api installed', async () => {
    const { result } = runFixture<{ acquired: boolean; otel: string }>('spec/fixtures/without-otel.ts', [
      zk.connectString,
      uniquePath('without-otel'),
    ]);
    assert.deepEqual(await result, { acquired: true, otel: 'absent' });
  });
});
