// Who owns a hold (issue 10, part 1): one lock instance is one owner; concurrent acquire() calls on
// an instance take turns; reentrancy only inside runExclusive() and leader callbacks. Nothing an
// acquire() does may change what another lock's release()/considerAsOwned() refers to.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { ZkLeaderSelectorError, type Control, type Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

let pathCounter = 0;
const uniquePath = (name: string): string => `/ownership-spec/${name}-${process.pid}-${(pathCounter += 1)}`;

const notHeld = (error: unknown): boolean =>
  error instanceof ZkLeaderSelectorError && error.code === 'LOCK_NOT_HELD';

describe('lock ownership model', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let coordinator: Coordinator;
  let rival: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
    rival = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  const nodesUnder = async (path: string): Promise<string[]> =>
    (await coordinator.session?.getChildren(path, { timeoutMs: 5000 }).catch(() => [])) ?? [];

  it('concurrent acquires of another lock in the same context leave a held lock owned and releasable (the repro)', async () => {
    const a = coordinator.createLock(uniquePath('a'));
    const b = coordinator.createLock(uniquePath('b'));
    assert.equal(await a.acquire(1000), true);
    assert.deepEqual(await Promise.all([b.acquire(100), b.acquire(100)]), [true, false]);
    assert.equal(a.considerAsOwned(), true, 'a is still owned');
    assert.equal(b.considerAsOwned(), true, 'b is owned by its instance');
    await a.release();
    assert.equal(a.considerAsOwned(), false);
    await b.release();
    assert.equal(b.considerAsOwned(), false);
    assert.deepEqual(await nodesUnder(a.path), []);
    assert.deepEqual(await nodesUnder(b.path), []);
    // The rival sees both free.
    const ra = rival.createLock(a.path);
    assert.equal(await ra.acquire(0), true);
    await ra.release();
  });

  it('the same with hold(): the handle and the instance both still own, and the handle releases', async () => {
    const a = coordinator.createLock(uniquePath('hold-a'));
    const b = coordinator.createLock(uniquePath('hold-b'));
    const handle = await a.hold(1000);
    const results = await Promise.all([b.acquire(100), b.acquire(100), b.hold(100).catch(() => 'timeout')]);
    assert.deepEqual(results, [true, false, 'timeout']);
    assert.equal(handle.considerAsOwned(), true);
    assert.equal(a.considerAsOwned(), true);
    await handle.release();
    await handle.release(); // idempotent: gives back only its own level
    assert.equal(a.considerAsOwned(), false);
    await b.release();
    await assert.rejects(b.release(), notHeld);
    assert.deepEqual(await nodesUnder(a.path), []);
  });

  it('the same inside runExclusive(): the scope keeps its hold and nests, concurrent acquires of another lock do not matter', async () => {
    const a = coordinator.createLock(uniquePath('excl-a'));
    const b = coordinator.createLock(uniquePath('excl-b'));
    const inside = await a.runExclusive(async (handle) => {
      assert.deepEqual(await Promise.all([b.acquire(100), b.acquire(100)]), [true, false]);
      await b.release();
      assert.equal(a.considerAsOwned(), true);
      assert.equal(await a.acquire(0), true, 'reentrant inside runExclusive');
      assert.equal((await nodesUnder(a.path)).length, 1, 'reentry creates no node');
      await a.release();
      return handle.considerAsOwned() && a.considerAsOwned();
    });
    assert.equal(inside, true);
    assert.equal(a.considerAsOwned(), false);
    assert.deepEqual(await nodesUnder(a.path), []);
  });

  it('the same for a leader: concurrent acquires beside a leading selector do not take its term away', async () => {
    const path = uniquePath('leader');
    const b = coordinator.createLock(uniquePath('leader-b'));
    let inCallback: { owned: boolean; nested: boolean } | undefined;
    let release: () => void = () => undefined;
    const finish = new Promise<void>((resolve) => (release = resolve));
    const selector = coordinator.createLeaderSelector(path, {
      leader: async (control: Control) => {
        assert.deepEqual(await Promise.all([b.acquire(100), b.acquire(100)]), [true, false]);
        await b.release();
        const nested = await selector.lock.acquire(0);
        if (nested) await selector.lock.release();
        inCallback = { owned: selector.lock.considerAsOwned(), nested };
        await Promise.race([finish, control.waitUntilShouldStop(30_000)]);
      },
    });
    selector.start();
    await waitFor(() => inCallback, { timeoutMs: 10_000, message: 'the leader never ran' });
    assert.deepEqual(inCallback, { owned: true, nested: true });
    assert.equal(selector.isLeader(), true, 'still leading after the concurrent acquires');
    assert.equal(selector.lock.considerAsOwned(), true, 'the instance owns while its selector leads');
    release();
    await selector.stop();
    assert.equal(selector.lock.considerAsOwned(), false);
  });

  it('reentrancy is scoped: three levels inside runExclusive; outside, one instance is one owner and callers take turns', async () => {
    const lock = coordinator.createLock(uniquePath('turns'));
    await lock.runExclusive(async () => {
      assert.equal(await lock.acquire(1000), true);
      assert.equal(await lock.acquire(1000), true);
      assert.equal((await nodesUnder(lock.path)).length, 1, 'reentry creates no node');
      await lock.release();
      await lock.release();
      assert.equal(lock.considerAsOwned(), true, 'the outer level still holds');
    });
    assert.equal(await lock.acquire(1000), true);
    assert.equal(await lock.acquire(0), false, 'a second caller of a held instance waits its turn');
    const second = lock.acquire(5000);
    await lock.release();
    assert.equal(await second, true, 'the next caller gets its turn after release()');
    assert.equal(lock.considerAsOwned(), true);
    await lock.release();
    await assert.rejects(lock.release(), notHeld);
  });

  it('a scope whose hold has ended does not see or release the next hold of the instance', async () => {
    const lock = coordinator.createLock(uniquePath('stale-scope'));
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let late: Promise<{ owned: boolean; released: unknown }> | undefined;
    await lock.runExclusive(() => {
      // Background work started inside the scope outlives it.
      late = (async () => {
        await gate;
        return {
          owned: lock.considerAsOwned(),
          released: await lock.release().then(
            () => 'released',
            (error: unknown) => error,
          ),
        };
      })();
    });
    assert.equal(await lock.acquire(1000), true, 'a new hold of the instance');
    openGate();
    assert.ok(late);
    const outcome = await late;
    assert.equal(outcome.owned, false, 'the old scope does not own the new hold');
    assert.ok(notHeld(outcome.released), `expected LOCK_NOT_HELD, got ${String(outcome.released)}`);
    assert.equal(lock.considerAsOwned(), true, 'the new hold is untouched');
    await lock.release();
  });

  it('an acquire waiting for its turn honours its max wait and its signal, and leaves no node', async () => {
    const lock = coordinator.createLock(uniquePath('turn-wait'));
    assert.equal(await lock.acquire(1000), true);
    assert.equal(await lock.acquire(50), false);
    const controller = new AbortController();
    const aborted = lock.acquire({ signal: controller.signal });
    controller.abort();
    await assert.rejects(
      aborted,
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.code === 'ABORTED',
    );
    assert.equal((await nodesUnder(lock.path)).length, 1, 'only the holder’s node');
    await lock.release();
    assert.equal(await lock.acquire(0), true, 'the aborted and timed-out waiters left the queue');
    await lock.release();
  });
});
