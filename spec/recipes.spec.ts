// The recipe family on a real server (ours only; the Curator interop is spec/recipes-interop):
// read-write lock, semaphore and leader latch, their node names, exclusion, timeouts and aborts
// that leave nothing behind, downgrade and upgrade, and session loss.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { Coordinator, type LeaderLatch, type Lease } from '../lib/index.js';
import { isCode } from './support/errors.js';
import { CoordinatorPool, nextEvent } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { killSession } from './support/kill-session.js';
import { settleWithin, waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

let pathCounter = 0;
const uniquePath = (name: string): string => `/recipes-spec/${name}-${process.pid}-${(pathCounter += 1)}`;

async function children(coordinator: Coordinator, path: string): Promise<string[]> {
  const session = coordinator.session;
  assert.ok(session);
  return session.getChildren(path, { timeoutMs: 5000 }).catch(() => []);
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

describe('Recipes', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let a: Coordinator;
  let b: Coordinator;
  let c: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    a = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
    b = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
    c = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  describe('ReadWriteLock', () => {
    it('readers share, a writer excludes readers and writers, with Curator node names', async () => {
      const path = uniquePath('rw');
      const r1 = a.createReadWriteLock(path, { id: 'r1' });
      const r2 = b.createReadWriteLock(path, { id: 'r2' });
      const w = c.createReadWriteLock(path, { id: 'w' });
      assert.equal(await r1.readLock.acquire(2000), true);
      assert.equal(await r2.readLock.acquire(2000), true);
      assert.ok(r1.readLock.considerAsOwned() && r2.readLock.considerAsOwned(), 'two readers at once');
      const names = await children(a, path);
      assert.equal(names.length, 2);
      for (const name of names) assert.match(name, new RegExp(`^_c_${UUID}-__READ__\\d{10}$`));
      assert.equal(await w.writeLock.acquire(300), false, 'a writer waits for the readers');
      assert.equal((await children(a, path)).length, 2, 'the timed-out writer left no node');
      const writing = w.writeLock.acquire(10_000);
      await r1.readLock.release();
      assert.deepEqual(await settleWithin(writing, 300), { settled: false }, 'one reader is still there');
      await r2.readLock.release();
      assert.equal(await writing, true);
      assert.match((await children(a, path))[0] ?? '', new RegExp(`^_c_${UUID}-__WRIT__\\d{10}$`));
      assert.equal(await r1.readLock.acquire(300), false, 'a reader waits for the writer');
      assert.equal(await r2.writeLock.acquire(300), false, 'a writer waits for the writer');
      const reading = r1.readLock.acquire(10_000);
      await w.writeLock.release();
      assert.equal(await reading, true);
      assert.deepEqual(await r1.readLock.contenders(), ['r1']);
      await r1.readLock.release();
    });

    it('a downgrade keeps a queued writer out until the read lock is released too (CURATOR-621)', async () => {
      const path = uniquePath('downgrade');
      const owner = a.createReadWriteLock(path, { id: 'owner' });
      const rival = b.createReadWriteLock(path, { id: 'rival' });
      assert.equal(await owner.writeLock.acquire(2000), true);
      const rivalWriting = rival.writeLock.acquire(15_000);
      await waitFor(async () => (await children(a, path)).length === 2);
      // Downgrade: the read lock while holding the write lock, then let the write lock go.
      assert.equal(await owner.readLock.acquire(2000), true, 'a writer may take the read lock');
      await owner.writeLock.release();
      assert.ok(owner.readLock.considerAsOwned(), 'the downgraded reader holds');
      const details = await rival.writeLock.contenderDetails();
      assert.deepEqual(
        details.map((d) => [d.id, d.holder]),
        [
          ['owner', true],
          ['rival', false],
        ],
      );
      assert.deepEqual(await settleWithin(rivalWriting, 500), { settled: false }, 'the rival must not write');
      assert.equal(rival.writeLock.considerAsOwned(), false);
      await owner.readLock.release();
      assert.equal(await rivalWriting, true);
      await rival.writeLock.release();
    });

    it('an upgrade is refused with LOCK_UPGRADE and leaves no node; each side nests inside runExclusive', async () => {
      const path = uniquePath('upgrade');
      const rw = a.createReadWriteLock(path);
      await rw.readLock.runExclusive(async () => {
        assert.equal(await rw.readLock.acquire(0), true, 'nested read');
        await rw.readLock.release();
        await assert.rejects(rw.writeLock.acquire(1000), isCode('LOCK_UPGRADE'));
        assert.equal((await children(a, path)).length, 1);
      });
      await rw.writeLock.runExclusive(async () => {
        assert.equal(await rw.writeLock.acquire(0), true, 'nested write');
        await rw.writeLock.release();
        assert.equal(await rw.readLock.acquire(1000), true, 'downgrade inside the write scope');
        await rw.readLock.release();
      });
      assert.deepEqual(await children(a, path), []);
    });
  });

  describe('Semaphore', () => {
    it('gives out at most maxLeases leases; a timed-out or aborted acquire leaves no lease and no mutex node', async () => {
      const path = uniquePath('semaphore');
      const s1 = a.createSemaphore(path, { maxLeases: 2, id: 's1' });
      const s2 = b.createSemaphore(path, { maxLeases: 2, id: 's2' });
      const s3 = c.createSemaphore(path, { maxLeases: 2, id: 's3' });
      const l1 = await s1.acquire(2000);
      const l2 = await s2.acquire(2000);
      assert.ok(l1 && l2);
      assert.ok(l1.considerAsOwned() && l2.considerAsOwned());
      const leaseNames = await children(a, `${path}/leases`);
      assert.equal(leaseNames.length, 2);
      for (const name of leaseNames) assert.match(name, new RegExp(`^_c_${UUID}-lease-\\d{10}$`));
      const stat = await a.session!.exists(l1.node, { timeoutMs: 5000 });
      assert.equal(l1.fencingToken, stat!.czxid.readBigInt64BE(0), 'the fencing token is the czxid');
      assert.deepEqual((await s3.participants()).sort(), ['s1', 's2']);

      assert.equal(await s3.acquire(300), undefined, 'a third lease times out');
      assert.equal((await children(a, `${path}/leases`)).length, 2, 'no lease node left');
      assert.deepEqual(await children(a, `${path}/locks`), [], 'no mutex node left');
      const controller = new AbortController();
      const aborted = s3.acquire({ timeoutMs: 10_000, signal: controller.signal });
      await waitFor(async () => (await children(a, `${path}/leases`)).length === 3);
      controller.abort();
      await assert.rejects(aborted, isCode('ABORTED'));
      assert.equal((await children(a, `${path}/leases`)).length, 2, 'no lease node left after abort');
      assert.deepEqual(await children(a, `${path}/locks`), [], 'no mutex node left after abort');

      const waiting = s3.acquire(10_000);
      await l1.release();
      await l1.release(); // idempotent
      const l3 = await waiting;
      assert.ok(l3?.considerAsOwned(), 'a released lease goes to the waiter');
      assert.ok(l3);
      assert.equal(l1.considerAsOwned(), false);
      await Promise.all([l2.release(), l3.release()]);
      assert.deepEqual(await children(a, `${path}/leases`), []);
    });

    it('one semaphore instance hands out several leases to concurrent callers', async () => {
      const path = uniquePath('pool');
      const semaphore = a.createSemaphore(path, { maxLeases: 3 });
      const leases = await Promise.all([1, 2, 3, 4].map(() => semaphore.acquire(400)));
      const taken = leases.filter((lease): lease is Lease => lease !== undefined);
      assert.equal(taken.length, 3, 'three of four concurrent acquires get a lease');
      await Promise.all(taken.map((lease) => lease.release()));
    });

    it('rejects a bad maxLeases with INVALID_OPTION', () => {
      for (const maxLeases of [0, -1, 1.5, Number.NaN]) {
        assert.throws(() => a.createSemaphore(uniquePath('bad'), { maxLeases }), isCode('INVALID_OPTION'));
      }
      assert.throws(
        () => a.createSemaphore(uniquePath('bad'), undefined as unknown as { maxLeases: number }),
        isCode('INVALID_OPTION'),
      );
    });

    it('a lease of a killed session is not owned before a rival gets it', async () => {
      // A session ended early by someone holding its password is what 'strict' is for (README,
      // "Suspension is not loss"); the silent-partition case is the leader specs' and the chaos test's.
      const victim = await pool.start({
        connectString: zk.connectString,
        sessionTimeoutMs: 4000,
        connectionLossPolicy: 'strict',
      });
      const path = uniquePath('semaphore-loss');
      const lease = await victim.createSemaphore(path, { maxLeases: 1 }).acquire(2000);
      assert.ok(lease);
      const rival = b.createSemaphore(path, { maxLeases: 1 }).acquire(15_000);
      await waitFor(async () => (await children(b, `${path}/locks`)).length === 1);
      await killSession(zk.connectString, victim.session!);
      const rivalLease = await rival;
      assert.ok(rivalLease);
      assert.equal(lease.considerAsOwned(), false, 'the victim no longer owns its lease');
      await rivalLease.release();
    });
  });

  it("'lease': in a silent freeze the latch leader is told to stop and the lease ends before a rival takes either", async () => {
    const S = 3000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const frozen = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: S });
      const rival = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: S });
      const latchPath = uniquePath('freeze-latch');
      const semaphorePath = uniquePath('freeze-semaphore');
      const leader = frozen.createLeaderLatch(latchPath, { id: 'frozen' });
      await leader.start();
      assert.equal(await leader.await(5000), true);
      const lease = await frozen.createSemaphore(semaphorePath, { maxLeases: 1 }).acquire(2000);
      assert.ok(lease?.considerAsOwned());
      assert.ok(lease);
      let stoppedAt = 0;
      leader.signal.addEventListener('abort', () => (stoppedAt = performance.now()));
      const rivalLatch = rival.createLeaderLatch(latchPath, { id: 'rival' });
      let rivalLeadAt = 0;
      rivalLatch.on('isLeader', () => (rivalLeadAt ||= performance.now()));
      await rivalLatch.start();
      await waitFor(async () => (await rivalLatch.participants()).length === 2);
      const rivalLease = rival.createSemaphore(semaphorePath, { maxLeases: 1 }).acquire(6 * S);
      proxy.freeze();
      assert.equal(await rivalLatch.await(6 * S), true, 'the rival leads once the session expired');
      assert.ok(stoppedAt > 0 && stoppedAt < rivalLeadAt, `stopped ${stoppedAt}, rival led ${rivalLeadAt}`);
      assert.equal(leader.hasLeadership(), false);
      const taken = await rivalLease;
      assert.ok(taken, 'the rival gets the lease once the session expired');
      assert.equal(lease.considerAsOwned(), false, 'the frozen lease is not owned when the rival has it');
      assert.equal(lease.ownershipDeadline(), 0);
      proxy.restore();
      await taken.release();
      await Promise.all([leader.close(), rivalLatch.close()]);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  describe('LeaderLatch', () => {
    async function startLatch(coordinator: Coordinator, path: string, id: string): Promise<LeaderLatch> {
      const latch = coordinator.createLeaderLatch(path, { id });
      await latch.start();
      return latch;
    }

    it('one participant leads; close() hands leadership to the next; a closed latch cannot start again', async () => {
      const path = uniquePath('latch');
      const first = await startLatch(a, path, 'first');
      assert.equal(await first.await(5000), true);
      const second = await startLatch(b, path, 'second');
      await waitFor(async () => (await first.participants()).length === 2);
      assert.deepEqual(await second.participants(), ['first', 'second']);
      assert.equal(first.hasLeadership(), true);
      assert.equal(second.hasLeadership(), false);
      assert.equal(second.signal.aborted, true, 'not leading: the signal is aborted');
      assert.equal(await second.await(200), false);
      const names = await children(a, path);
      for (const name of names) assert.match(name, new RegExp(`^_c_${UUID}-latch-\\d{10}$`));
      const firstSignal = first.signal;
      const notLeader = nextEvent(first, 'notLeader');
      await first.close();
      assert.equal(firstSignal.aborted, true);
      assert.deepEqual(await notLeader, { reason: 'stop' });
      assert.equal(await second.await(5000), true);
      assert.ok(second.fencingToken !== undefined);
      await assert.rejects(first.start(), isCode('RECIPE_CLOSED'));
      await assert.rejects(first.await(10), isCode('RECIPE_CLOSED'));
      await second.close();
      assert.deepEqual(await children(a, path), []);
    });

    it('a leader whose session is killed stops leading before the rival leads', async () => {
      const victim = await pool.start({
        connectString: zk.connectString,
        sessionTimeoutMs: 4000,
        connectionLossPolicy: 'strict',
      });
      const path = uniquePath('latch-loss');
      const leader = await startLatch(victim, path, 'victim');
      assert.equal(await leader.await(5000), true);
      let notLeaderAt = 0;
      leader.on('notLeader', () => (notLeaderAt ||= performance.now()));
      const rival = await startLatch(b, path, 'rival');
      let rivalLeadAt = 0;
      rival.on('isLeader', () => (rivalLeadAt ||= performance.now()));
      await waitFor(async () => (await rival.participants()).length === 2);
      await killSession(zk.connectString, victim.session!);
      assert.equal(await rival.await(15_000), true);
      assert.ok(
        notLeaderAt > 0 && notLeaderAt < rivalLeadAt,
        `notLeader ${notLeaderAt}, rival ${rivalLeadAt}`,
      );
      await Promise.all([leader.close(), rival.close()]);
    });
  });
});
