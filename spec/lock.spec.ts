import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from './support/test.js';
import { Coordinator, digestId, ZkLeaderSelectorError, type SharedReentrantLock } from '../lib/index.js';
import { isCode } from './support/errors.js';
import { CoordinatorPool, nextEvent } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { runFixture } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

let pathCounter = 0;
const uniquePath = (name: string): string => `/lock-spec/${name}-${process.pid}-${(pathCounter += 1)}`;

/** Children of a lock path as the server sees them (through a raw session of `coordinator`). */
async function children(coordinator: Coordinator, path: string): Promise<string[]> {
  const session = coordinator.session;
  assert.ok(session);
  return session.getChildren(path, { timeoutMs: 5000 }).catch(() => []);
}

describe('SharedReentrantLock', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let a: Coordinator;
  let b: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    a = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
    b = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('uses Curator protected-mode node names holding our id, and considerAsOwned follows acquire/release', async () => {
    const path = uniquePath('names');
    const lock = a.createLock(path, { id: 'worker-a' });
    assert.equal(lock.considerAsOwned(), false);
    assert.equal(await lock.acquire(1000), true);
    assert.equal(lock.considerAsOwned(), true);
    const [name] = await children(a, path);
    assert.match(
      name ?? '',
      /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$/,
    );
    assert.deepEqual(await lock.contenders(), ['worker-a']);
    assert.ok(lock.ownershipDeadline() > Date.now());
    await lock.release();
    assert.equal(lock.considerAsOwned(), false);
    assert.equal(lock.ownershipDeadline(), 0);
    assert.deepEqual(await children(a, path), []);
  });

  it('mutual exclusion across 3 processes x 100 iterations (O_EXCL marker): 0 violations', async () => {
    const path = uniquePath('processes');
    const marker = join(tmpdir(), `zk-lock-marker-${process.pid}-${Date.now()}`);
    await rm(marker, { force: true });
    const runs = [0, 1, 2].map(() =>
      runFixture<{ iterations: number; violations: number; notOwned: number }>(
        'spec/fixtures/lock-worker.ts',
        [zk.connectString, path, '100', marker],
      ),
    );
    const results = await Promise.all(runs.map((r) => r.result));
    for (const result of results) {
      assert.equal(result.iterations, 100);
      assert.equal(result.violations, 0);
      assert.equal(result.notOwned, 0);
    }
    assert.deepEqual(await children(a, path), []);
  });

  it('grants waiters in FIFO order', async () => {
    const path = uniquePath('fifo');
    const holder = a.createLock(path, { id: 'holder' });
    assert.equal(await holder.acquire(1000), true);
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 5; i += 1) {
      const lock = (i % 2 === 0 ? a : b).createLock(path, { id: `w${i}` });
      waiters.push(
        (async () => {
          assert.equal(await lock.acquire(20_000), true);
          order.push(i);
          await lock.release();
        })(),
      );
      // Queue them one by one so that their sequence numbers are in i order.
      await waitFor(async () => (await holder.contenders()).length === i + 2, { timeoutMs: 5000 });
    }
    await holder.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  it('timeout and abort leave no node and no watch behind', async () => {
    const path = uniquePath('timeout');
    const holder = a.createLock(path, { id: 'holder' });
    assert.equal(await holder.acquire(1000), true);
    const waiter = b.createLock(path, { id: 'waiter' });
    assert.equal(await waiter.acquire(0), false, 'zero wait means try once');
    assert.equal(await waiter.acquire(300), false);
    assert.equal((await children(a, path)).length, 1);
    const controller = new AbortController();
    const pending = waiter.acquire({ timeoutMs: 30_000, signal: controller.signal });
    await waitFor(async () => (await children(a, path)).length === 2, { timeoutMs: 5000 });
    controller.abort();
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.name === 'AbortError',
    );
    assert.equal((await children(a, path)).length, 1);
    await holder.release();
    assert.deepEqual(await children(a, path), []);
    // Every watch set on the path's nodes fired with the deletions: none remains on the server.
    await waitFor(async () => !(await zk.fourLetterWord(1, 'wchp')).includes(path), {
      timeoutMs: 5000,
      message: 'a watch on the lock path is left on the server',
    });
  });

  it("tw's lockingWorks: 20 async workers x 50 tasks on one shared instance end the counter at 1000", async () => {
    const lock = a.createLock(uniquePath('counter'));
    let counter = 0;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 50; i += 1) {
        assert.equal(await lock.acquire(60_000), true);
        const value = counter;
        await new Promise((resolve) => setImmediate(resolve));
        counter = value + 1;
        await lock.release();
      }
    };
    await Promise.all(Array.from({ length: 20 }, () => worker()));
    assert.equal(counter, 1000);
  });

  it('release of a lock instance that does not hold it fails with LOCK_NOT_HELD', async () => {
    const path = uniquePath('not-held');
    const holder = a.createLock(path);
    const other = a.createLock(path);
    assert.equal(await holder.acquire(1000), true);
    assert.equal(other.considerAsOwned(), false, 'another instance does not see the hold');
    await assert.rejects(other.release(), isCode('LOCK_NOT_HELD'));
    assert.equal(await other.acquire(0), false, 'two instances on one path exclude each other');
    assert.equal(holder.considerAsOwned(), true);
    await holder.release();
    await assert.rejects(holder.release(), isCode('LOCK_NOT_HELD'));
  });

  it('fencing tokens (czxid) strictly increase across acquisitions and lock paths', async () => {
    const tokens: bigint[] = [];
    for (const name of ['f1', 'f2', 'f1', 'f3']) {
      const lock = (tokens.length % 2 === 0 ? a : b).createLock(`/lock-spec/fencing-${process.pid}/${name}`);
      assert.equal(await lock.acquire(1000), true);
      const token = lock.fencingToken;
      assert.equal(typeof token, 'bigint');
      tokens.push(token as bigint);
      await lock.release();
      assert.equal(lock.fencingToken, undefined);
    }
    for (let i = 1; i < tokens.length; i += 1)
      assert.ok((tokens[i] as bigint) > (tokens[i - 1] as bigint), String(tokens));
  });

  it('someone deletes our node: considerAsOwned() false within verifyIntervalMs; release does not throw', async () => {
    const path = uniquePath('deleted');
    const lock = a.createLock(path, { verifyIntervalMs: 500 });
    assert.equal(await lock.acquire(1000), true);
    const lost = nextEvent<{ reason: string }>(lock, 'lost');
    await b.session?.remove(lock.nodePath ?? '', -1, { timeoutMs: 5000 });
    // The next verification starts within verifyIntervalMs; allow its round trip.
    await waitFor(() => !lock.considerAsOwned(), {
      timeoutMs: 500 + 300,
      message: 'still owned after verifyIntervalMs',
    });
    assert.equal((await lost).reason, 'nodeDeleted');
    await assert.rejects(lock.verifyOwnership(1000), (error: unknown) => {
      assert.ok(error instanceof ZkLeaderSelectorError);
      assert.equal((error as ZkLeaderSelectorError & { status: string }).status, 'SERVER_SIDE_ID_DIFFERENT');
      return true;
    });
    await lock.release();
  });

  it('someone rewrites our node: considerAsOwned() false within verifyIntervalMs', async () => {
    const path = uniquePath('rewritten');
    const lock = a.createLock(path, { id: 'mine', verifyIntervalMs: 500 });
    assert.equal(await lock.acquire(1000), true);
    assert.equal(await lock.isOwned(1000), true);
    await b.session?.setData(lock.nodePath ?? '', Buffer.from('intruder'), -1, { timeoutMs: 5000 });
    await waitFor(() => !lock.considerAsOwned(), {
      timeoutMs: 500 + 300,
      message: 'still owned after a rewrite',
    });
    assert.equal(await lock.isOwned(1000), false);
    await lock.release();
    assert.deepEqual(await children(a, path), []);
  });

  it('verifyOwnership without acquiring throws status NOT_ACQUIRED', async () => {
    const lock = a.createLock(uniquePath('not-acquired'));
    await assert.rejects(lock.verifyOwnership(100), (error: unknown) => {
      assert.equal((error as { status?: string }).status, 'NOT_ACQUIRED');
      return true;
    });
  });

  it('session expiry while holding: considerAsOwned() false before the rival acquires; release clears state', async () => {
    const S = 2000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const victim = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: S });
      const path = uniquePath('expiry');
      const lock = victim.createLock(path, { id: 'victim' });
      assert.equal(await lock.acquire(1000), true);
      const rival = b.createLock(path, { id: 'rival' });
      let ownedWhenRivalAcquired: boolean | undefined;
      const rivalDone = rival.acquire(20_000).then((ok) => {
        ownedWhenRivalAcquired = lock.considerAsOwned();
        return ok;
      });
      await waitFor(async () => (await children(b, path)).length === 2, { timeoutMs: 5000 });
      const lostSession = nextEvent(victim, 'lost');
      proxy.freeze();
      assert.equal(await rivalDone, true);
      assert.equal(ownedWhenRivalAcquired, false);
      await lostSession;
      proxy.restore();
      await waitFor(() => victim.state === 'connected', { timeoutMs: 10_000 });
      assert.equal(lock.considerAsOwned(), false, 'never silently re-acquired');
      await lock.release();
      assert.deepEqual(await rival.contenders(), ['rival']);
      await rival.release();
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('close() while holding: considerAsOwned() false at once, before the rival acquires; release does not throw', async () => {
    const closing = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
    const path = uniquePath('close-held');
    const lock = closing.createLock(path, { id: 'closing' });
    assert.equal(await lock.acquire(1000), true);
    const rival = b.createLock(path, { id: 'rival' });
    let ownedWhenRivalAcquired: boolean | undefined;
    const rivalDone = rival.acquire(10_000).then((ok) => {
      ownedWhenRivalAcquired = lock.considerAsOwned();
      return ok;
    });
    await waitFor(async () => (await children(b, path)).length === 2, { timeoutMs: 5000 });
    const closed = closing.close();
    assert.equal(lock.considerAsOwned(), false, 'still owned once close() began');
    await closed;
    assert.equal(await rivalDone, true);
    assert.equal(ownedWhenRivalAcquired, false);
    await lock.release();
    await rival.release();
  });

  it('server restart while held (within S): still owned afterwards, same node', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const c = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 20_000 });
    const lock = c.createLock(uniquePath('restart'));
    assert.equal(await lock.acquire(1000), true);
    const node = lock.nodePath;
    await zk.restart();
    await waitFor(() => c.state === 'connected', { timeoutMs: 20_000 });
    assert.equal(await lock.isOwned(5000), true);
    assert.equal(lock.considerAsOwned(), true);
    assert.equal(lock.nodePath, node);
    await lock.release();
    // the shared coordinators reconnect too
    await waitFor(() => a.state === 'connected' && b.state === 'connected', { timeoutMs: 20_000 });
  });

  for (const wait of [20_000, undefined]) {
    it(`a create whose answer is lost leaves exactly one node, and the lock is taken (max wait ${String(wait)})`, async () => {
      const proxy = await FaultProxy.start(zk.members[0]!.connectString);
      try {
        const c = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: 6000 });
        const path = uniquePath('lost-create');
        await b.ensurePath(path);
        const lock = c.createLock(path, { id: 'lost-create' });
        proxy.blackhole();
        const acquiring = wait === undefined ? lock.acquire() : lock.acquire(wait);
        // The server applied the create; the client never heard back.
        await waitFor(async () => (await children(b, path)).length === 1, { timeoutMs: 5000 });
        // The watchdog notices the silence and suspends before the network heals.
        await waitFor(() => c.state === 'suspended', { timeoutMs: 6000 });
        proxy.restore();
        assert.equal(await acquiring, true);
        const names = await children(b, path);
        assert.equal(names.length, 1, `nodes: ${names.join(', ')}`);
        assert.equal(lock.considerAsOwned(), true);
        await lock.release();
        assert.deepEqual(await children(b, path), []);
        // Nothing blocks the path afterwards.
        const other = b.createLock(path);
        assert.equal(await other.acquire(1000), true);
        await other.release();
      } finally {
        await proxy.close();
      }
    });
  }

  it('acquire() without a max wait waits through a connection loss instead of failing', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const c = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: 6000 });
      const lock = c.createLock(uniquePath('unbounded-wait'));
      proxy.drop();
      await waitFor(() => c.state === 'suspended', { timeoutMs: 5000 });
      let settled = false;
      const acquiring = lock.acquire().finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300)); // give a wrong rejection the chance to happen
      assert.equal(settled, false, 'acquire() settled while disconnected');
      proxy.restore();
      assert.equal(await acquiring, true);
      await lock.release();
    } finally {
      await proxy.close();
    }
  });

  it('digest ACL: a client without the credentials cannot delete or rewrite the holder node', async () => {
    const path = uniquePath('acl');
    const secure = await pool.start({
      connectString: zk.connectString,
      auth: [{ scheme: 'digest', credentials: 'app:secret' }],
    });
    const lock = secure.createLock(path, {
      acl: [{ scheme: 'digest', id: digestId('app', 'secret'), permissions: 'all' }],
    });
    assert.equal(await lock.acquire(1000), true);
    const node = lock.nodePath ?? '';
    await assert.rejects(b.session!.remove(node, -1, { timeoutMs: 5000 }), /NO_AUTH/);
    await assert.rejects(b.session!.setData(node, Buffer.from('x'), -1, { timeoutMs: 5000 }), /NO_AUTH/);
    assert.equal(await lock.isOwned(1000), true);
    await lock.release();
  });

  it('works under a chroot', async () => {
    const root = `/chroot-${process.pid}`;
    await a.ensurePath(root);
    const chrooted = await pool.start({ connectString: `${zk.connectString}${root}` });
    const lock = chrooted.createLock('/app/lock', { id: 'chrooted' });
    assert.equal(await lock.acquire(1000), true);
    assert.equal((await children(a, `${root}/app/lock`)).length, 1);
    assert.equal(await lock.isOwned(1000), true);
    await lock.release();
  });

  it('hold() returns a handle released by Symbol.asyncDispose; runExclusive is reentrant inside', async () => {
    const lock = a.createLock(uniquePath('dispose'));
    const handle = await lock.hold(1000);
    assert.equal(handle.considerAsOwned(), true);
    assert.equal(typeof handle.fencingToken, 'bigint');
    await handle[Symbol.asyncDispose]();
    assert.equal(handle.considerAsOwned(), false);
    assert.deepEqual(await lock.contenders(), []);
    const result = await lock.runExclusive(async () => {
      assert.equal(await lock.acquire(0), true, 'reentrant inside runExclusive');
      await lock.release();
      return lock.considerAsOwned();
    });
    assert.equal(result, true);
    assert.deepEqual(await lock.contenders(), []);
  });

  it('rejects bad paths and waits with typed errors', async () => {
    for (const bad of ['', 'relative/path', '/trailing/', '/double//slash', '/', '/a/./b']) {
      assert.throws(() => a.createLock(bad), isCode('INVALID_PATH'), bad);
    }
    const lock: SharedReentrantLock = a.createLock(uniquePath('bad-wait'));
    await assert.rejects(lock.acquire(-1), isCode('INVALID_ARGUMENT'));
    await assert.rejects(lock.acquire(Number.NaN), isCode('INVALID_ARGUMENT'));
    assert.throws(() => a.createLock('/x', { verifyIntervalMs: 0 }), isCode('INVALID_OPTION'));
    assert.throws(() => a.createLock('/x', { id: '' }), isCode('INVALID_OPTION'));
  });
});
