// Our read-write lock beside real kazoo ReadLock / WriteLock clients on one path (README,
// "Read-write lock"): we honour kazoo's `__rlock__` / `__lock__` nodes, and kazoo, given
// extra_lock_patterns, honours ours. Skipped when python3-kazoo is not installed.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { kazooAvailable } from './support/peers/index.js';
import { settleWithin, waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const KAZOO_PYTHON = process.env.KAZOO_PYTHON ?? '/usr/bin/python3';
const availability = kazooAvailable();
const skip = availability.ok ? false : availability.reason;

let pathCounter = 0;
const uniquePath = (name: string): string => `/recipes-kazoo/${name}-${process.pid}-${(pathCounter += 1)}`;

/** A kazoo ReadLock or WriteLock holder; `acquired` resolves with its node once it holds. */
class KazooHolder {
  readonly child: ChildProcess;
  readonly acquired: Promise<string>;
  readonly released: Promise<void>;

  constructor(connectString: string, path: string, mode: 'read' | 'write') {
    this.child = spawn(KAZOO_PYTHON, ['spec/fixtures/kazoo_rw_hold.py', connectString, path, mode], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: this.child.stdout! });
    let onAcquired: (node: string) => void = () => undefined;
    let onReleased: () => void = () => undefined;
    this.acquired = new Promise((resolve) => (onAcquired = resolve));
    this.released = new Promise((resolve) => (onReleased = resolve));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event: string; node?: string };
      if (event.event === 'acquired') onAcquired(event.node ?? '');
      if (event.event === 'released') onReleased();
    });
  }

  /** Closes its stdin: it releases and exits. */
  async release(): Promise<void> {
    this.child.stdin?.end();
    await this.released;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe('Read-write lock beside kazoo ReadLock / WriteLock', { skip }, () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  const holders: KazooHolder[] = [];
  let ours: Coordinator;
  const kazoo = (path: string, mode: 'read' | 'write'): KazooHolder => {
    const holder = new KazooHolder(zk.connectString, path, mode);
    holders.push(holder);
    return holder;
  };
  const childCount = async (path: string): Promise<number> =>
    (await ours.session!.getChildren(path, { timeoutMs: 5000 }).catch(() => [])).length;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    ours = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
  });
  after(async () => {
    for (const holder of holders) holder.kill();
    await pool.closeAll();
    await zk?.close();
  });

  it('a kazoo writer keeps our reader and writer out; our reader then shares with a kazoo reader', async () => {
    const path = uniquePath('kazoo-writer');
    await ours.ensurePath(path);
    const writer = kazoo(path, 'write');
    assert.match(await writer.acquired, /__lock__\d{10}$/);
    const rw = ours.createReadWriteLock(path, { id: 'ours' });
    assert.equal(await rw.readLock.acquire(300), false, 'our reader waits for the kazoo writer');
    assert.equal(await rw.writeLock.acquire(300), false, 'our writer waits for the kazoo writer');
    const reading = rw.readLock.acquire(10_000);
    await writer.release();
    assert.equal(await reading, true);
    const reader = kazoo(path, 'read');
    assert.match(await reader.acquired, /__rlock__\d{10}$/, 'the kazoo reader shares with ours');
    assert.ok(rw.readLock.considerAsOwned());
    await rw.readLock.release();
    const other = ours.createReadWriteLock(path, { id: 'other' });
    assert.equal(await other.writeLock.acquire(300), false, 'our writer waits for the kazoo reader');
    await reader.release();
    assert.equal(await other.writeLock.acquire(10_000), true);
    await other.writeLock.release();
  });

  it('our writer keeps a kazoo reader, then a kazoo writer, out until it releases', async () => {
    // One kazoo waiter at a time: kazoo 2.8's ReadLock also waits for writers queued after it,
    // which deadlocks a reader and a later writer (kazoo issue #649, fixed after 2.8).
    const path = uniquePath('our-writer');
    const rw = ours.createReadWriteLock(path, { id: 'ours' });
    for (const mode of ['read', 'write'] as const) {
      assert.equal(await rw.writeLock.acquire(5000), true);
      const waiter = kazoo(path, mode);
      await waitFor(async () => (await childCount(path)) === 2, { message: 'the kazoo node never appeared' });
      assert.deepEqual(
        await settleWithin(waiter.acquired, 500),
        { settled: false },
        `kazoo ${mode}er must wait`,
      );
      await rw.writeLock.release();
      await waiter.acquired;
      assert.equal(await rw.readLock.acquire(300), mode === 'read', 'ours shares only with a reader');
      if (mode === 'read') await rw.readLock.release();
      await waiter.release();
    }
  });
});
