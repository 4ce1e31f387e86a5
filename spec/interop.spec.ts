import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import {
  curatorAvailable,
  holdLock,
  kazooAvailable,
  runLoopWorker,
  type PeerImpl,
} from './support/peers/index.js';
import { runFixture } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const available: Record<PeerImpl, ReturnType<typeof curatorAvailable>> = {
  curator: curatorAvailable(),
  kazoo: kazooAvailable(),
};
const skipReason = (impl: PeerImpl): string | false => {
  const status = available[impl];
  return status.ok ? false : status.reason;
};

describe('Interop with Apache Curator and kazoo on one lock path', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let ours: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    ours = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  for (const impl of ['curator', 'kazoo'] as const) {
    it(
      `ours and ${impl} exclude each other: 0 violations (O_EXCL marker)`,
      { skip: skipReason(impl) },
      async () => {
        const path = `/interop/${impl}-mutex-${process.pid}`;
        const marker = join(tmpdir(), `zk-interop-${impl}-${process.pid}-${Date.now()}`);
        await rm(marker, { force: true });
        const [mine, theirs] = await Promise.all([
          runFixture<{ iterations: number; violations: number; notOwned: number }>(
            'spec/fixtures/lock-worker.ts',
            // A kazoo Lock instance ensures the path once: keep it (see the README, removeEmptyPath).
            [zk.connectString, path, '60', marker, ...(impl === 'kazoo' ? ['keep-path'] : [])],
          ).result,
          // Stock kazoo (`__lock__` nodes, `-lock-` as an extra pattern): it orders our nodes and we order its.
          runLoopWorker(impl, {
            connectString: zk.connectString,
            lockPath: path,
            iterations: 60,
            markerFile: marker,
            holdMs: 2,
          }),
        ]);
        assert.equal(mine.iterations, 60);
        assert.equal(theirs.iterations, 60);
        assert.equal(mine.violations, 0, 'our worker found the marker of another holder');
        assert.equal(theirs.violations, 0, `${impl} found the marker of another holder`);
        assert.equal(mine.notOwned, 0);
        assert.deepEqual(await ours.createLock(path).contenders(), []);
      },
    );

    it(
      `a ${impl} holder blocks us and shows in contenders(); we get the lock when it releases`,
      { skip: skipReason(impl) },
      async () => {
        const path = `/interop/${impl}-hold-${process.pid}`;
        const peer = await holdLock(impl, { connectString: zk.connectString, lockPath: path });
        try {
          const lock = ours.createLock(path, { id: 'ours' });
          assert.equal(await lock.acquire(300), false, `acquired while ${impl} holds`);
          const waiting = lock.acquire(20_000);
          await waitFor(async () => (await lock.contenderDetails()).length === 2, { timeoutMs: 5000 });
          const details = await lock.contenderDetails();
          assert.equal(details[0]?.node, peer.node.slice(peer.node.lastIndexOf('/') + 1));
          assert.equal(details[0]?.holder, true);
          assert.equal(details[0]?.implementation, impl === 'kazoo' ? 'kazoo' : 'curator-protocol');
          assert.equal(details[1]?.id, 'ours');
          await peer.release();
          assert.equal(await waiting, true);
          assert.equal(lock.considerAsOwned(), true);
          await lock.release();
        } finally {
          peer.kill();
        }
      },
    );

    it(
      `${impl} waits while we hold, and gets the lock after our release`,
      { skip: skipReason(impl) },
      async () => {
        const path = `/interop/${impl}-waits-${process.pid}`;
        const lock = ours.createLock(path, { id: 'ours' });
        assert.equal(await lock.acquire(1000), true);
        let acquired = false;
        const peerPromise = holdLock(impl, { connectString: zk.connectString, lockPath: path }).then(
          (peer) => {
            acquired = true;
            return peer;
          },
        );
        await waitFor(async () => (await lock.contenders()).length === 2, { timeoutMs: 10_000 });
        assert.equal(acquired, false, `${impl} acquired while we hold`);
        assert.equal(await lock.isOwned(1000), true);
        await lock.release();
        const peer = await peerPromise;
        await peer.release();
      },
    );
  }
});
