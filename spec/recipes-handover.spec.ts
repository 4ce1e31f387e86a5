// Curator's recipe family and ours hand over one hold at a time (issue 14): real ZooKeeper, real
// Curator 5.4 hold workers (spec/support/peers/recipes.ts). Who blocks whom in both directions, our
// downgrade against a queued Curator writer, semaphore leases both ways, latch leadership both ways,
// and a session loss of ours with Curator as the rival.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { holdCuratorRecipe, startCuratorLatch } from './support/peers/recipes.js';
import { FaultProxy } from './support/fault-proxy.js';
import { RecipeInterop, recipeInteropSkipReason } from './support/recipe-interop.js';
import { RecipeMarkers } from './support/recipe-markers.js';
import { settleWithin, waitFor } from './support/wait.js';

void describe(
  'Curator recipes and ours hand over',
  { skip: recipeInteropSkipReason(), concurrency: true },
  () => {
    // Curator creates missing parents as CONTAINER nodes, which the server deletes once empty (every
    // 60 s by default): here every 100 ms, so ours meets vanished parents all the time.
    const env = new RecipeInterop('recipes-handover', {
      systemProperties: { 'znode.container.checkIntervalMs': '100' },
    });
    before(() => env.start());
    after(() => env.close());

    it('read-write lock: a Curator writer keeps our reader and writer out; a Curator reader shares with our reader only', async () => {
      await Promise.all([
        (async () => {
          const { path } = await env.fresh('rw-hold-writer');
          const [c] = await env.coordinators(1);
          const rw = c!.createReadWriteLock(path, { id: 'ours' });
          const writer = env.keep(
            await holdCuratorRecipe({ ...env.base(), recipe: 'rwlock', side: 'write', path }),
          );
          assert.equal(await rw.readLock.acquire(300), false, 'read lock taken while a Curator writer holds');
          assert.equal(
            await rw.writeLock.acquire(300),
            false,
            'write lock taken while a Curator writer holds',
          );
          const reading = rw.readLock.acquire(20_000);
          await writer.release();
          assert.equal(await reading, true);
          await rw.readLock.release();
        })(),
        (async () => {
          const { path } = await env.fresh('rw-hold-reader');
          const [c] = await env.coordinators(1);
          const rw = c!.createReadWriteLock(path, { id: 'ours' });
          const reader = env.keep(
            await holdCuratorRecipe({ ...env.base(), recipe: 'rwlock', side: 'read', path }),
          );
          assert.equal(await rw.readLock.acquire(5_000), true, 'a Curator reader kept our reader out');
          await rw.readLock.release();
          assert.equal(
            await rw.writeLock.acquire(300),
            false,
            'write lock taken while a Curator reader holds',
          );
          const writing = rw.writeLock.acquire(20_000);
          await reader.release();
          assert.equal(await writing, true);
          await rw.writeLock.release();
        })(),
      ]);
    });

    it('read-write lock: our write → read downgrade keeps a queued Curator writer out until our read ends (CURATOR-621)', async () => {
      const { path, dir } = await env.fresh('rw-downgrade');
      const [c] = await env.coordinators(1);
      const rw = c!.createReadWriteLock(path, { id: 'ours' });
      const probe = new RecipeMarkers(dir, `o${process.pid}`);
      assert.equal(await rw.writeLock.acquire(5_000), true);
      const write = await probe.enterWrite();
      let curatorHolds = false;
      const pending = holdCuratorRecipe({
        ...env.base(),
        recipe: 'rwlock',
        side: 'write',
        path,
        markerDir: dir,
      }).then((peer) => {
        curatorHolds = true;
        return env.keep(peer);
      });
      pending.catch(() => undefined);
      await waitFor(async () => (await rw.writeLock.contenders()).length === 2, {
        timeoutMs: 20_000,
        message: 'the Curator writer queued behind ours',
      });
      assert.equal(await rw.readLock.acquire(5_000), true, 'downgrade refused');
      await write.release();
      const read = await probe.enterRead();
      await rw.writeLock.release();
      // Only our read hold is left: the Curator writer queued behind our writer must keep waiting.
      assert.equal(
        (await settleWithin(pending, 500)).settled,
        false,
        'Curator writer got in beside our reader',
      );
      assert.equal(curatorHolds, false);
      assert.equal(rw.readLock.considerAsOwned(), true);
      await read.release();
      await rw.readLock.release();
      const writer = await pending;
      assert.equal(writer.violation, false, 'the Curator writer found our reader marker');
      await writer.release();
      assert.deepEqual(probe.details, []);
    });

    it('semaphore maxLeases 2: Curator leases keep ours out (a timed-out acquire leaves nothing); ours and Curator hand leases over', async () => {
      const { path } = await env.fresh('sem-hold');
      const [c] = await env.coordinators(1);
      const semaphore = c!.createSemaphore(path, { maxLeases: 2, id: 'ours' });
      const held = await Promise.all(
        ['curator-1', 'curator-2'].map(async (id) =>
          env.keep(await holdCuratorRecipe({ ...env.base(), recipe: 'semaphore', maxLeases: 2, path, id })),
        ),
      );
      assert.deepEqual((await semaphore.participants()).sort(), ['curator-1', 'curator-2']);
      assert.equal(await semaphore.acquire(300), undefined, 'a third lease beside two Curator leases');
      assert.deepEqual((await semaphore.participants()).sort(), ['curator-1', 'curator-2']);
      const acquiring = semaphore.acquire(20_000);
      await held[0]!.release();
      const lease = await acquiring;
      assert.ok(lease, 'no lease after a Curator lease was returned');
      assert.equal(lease.considerAsOwned(), true);
      assert.deepEqual((await semaphore.participants()).sort(), ['curator-2', 'ours']);
      // Both leases taken again (ours and curator-2): a new Curator contender waits for ours.
      let curatorHolds = false;
      const pending = holdCuratorRecipe({
        ...env.base(),
        recipe: 'semaphore',
        maxLeases: 2,
        path,
        id: 'curator-3',
      }).then((peer) => {
        curatorHolds = true;
        return env.keep(peer);
      });
      pending.catch(() => undefined);
      // Curator waits holding its mutex node under locks/ (InterProcessSemaphoreV2; the mutex node's
      // data is Curator's default, the host address, not the id).
      const mutex = c!.createLock(`${path}/locks`);
      await waitFor(async () => (await mutex.contenders()).length === 1, {
        timeoutMs: 20_000,
        message: 'the Curator contender queued',
      });
      assert.equal((await settleWithin(pending, 300)).settled, false);
      assert.equal(curatorHolds, false);
      await lease.release();
      const third = await pending;
      assert.deepEqual((await semaphore.participants()).sort(), ['curator-2', 'curator-3']);
      await Promise.all([third.release(), held[1]!.release()]);
      assert.deepEqual(await semaphore.participants(), []);
    });

    it('leader latch: Curator leads and ours waits; ours leads once it closes; a later Curator latch waits behind ours', async () => {
      const { path } = await env.fresh('latch-hold');
      const [c] = await env.coordinators(1);
      const first = env.keep(await startCuratorLatch({ ...env.base(), path, id: 'curator-1' }));
      await first.waitForLeadership(true);
      const latch = c!.createLeaderLatch(path, { id: 'ours' });
      await latch.start();
      assert.equal(await latch.await(300), false, 'ours leads beside a Curator leader');
      assert.deepEqual(await latch.participants(), ['curator-1', 'ours']);
      await first.close();
      assert.equal(await latch.await(20_000), true);
      const second = env.keep(await startCuratorLatch({ ...env.base(), path, id: 'curator-2' }));
      assert.deepEqual(await latch.participants(), ['ours', 'curator-2']);
      assert.equal(second.isLeader(), false);
      assert.equal(latch.hasLeadership(), true);
      await latch.close();
      await second.waitForLeadership(true);
      await second.close();
      assert.deepEqual(
        second.events.map((e) => e.event),
        ['isLeader'],
      );
    });

    it('session loss (silent freeze, lease policy): our latch leader and lease end before Curator takes either over', async (t) => {
      const S = 3000;
      const proxy = await FaultProxy.start(env.zk.members[0]!.connectString);
      try {
        const frozen = await env.coordinator({ connectString: proxy.connectString, sessionTimeoutMs: S });
        const { path: latchPath, dir } = await env.fresh('freeze-latch');
        const { path: semaphorePath } = await env.fresh('freeze-semaphore');
        const latch = frozen.createLeaderLatch(latchPath, { id: 'ours' });
        await latch.start();
        assert.equal(await latch.await(10_000), true);
        // Our L marker goes the moment our latch says leadership may be lost.
        const markers = new RecipeMarkers(dir, `o${process.pid}`);
        const leading = await markers.enterLatch();
        let stoppedAt = 0;
        latch.signal.addEventListener('abort', () => {
          stoppedAt = Date.now();
          void leading.release();
        });
        const lease = await frozen
          .createSemaphore(semaphorePath, { maxLeases: 1, id: 'ours' })
          .acquire(10_000);
        assert.ok(lease);
        const [curatorLatch] = await Promise.all([
          startCuratorLatch({ ...env.base(), path: latchPath, markerDir: dir, id: 'curator' }).then((p) =>
            env.keep(p),
          ),
          waitFor(async () => (await latch.participants()).length === 2 || undefined, { timeoutMs: 20_000 }),
        ]);
        const curatorLease = holdCuratorRecipe({
          ...env.base(),
          recipe: 'semaphore',
          maxLeases: 1,
          path: semaphorePath,
          id: 'curator',
        }).then((p) => env.keep(p));
        curatorLease.catch(() => undefined);
        // Nothing is answered after the freeze: the deadline read now is the lease's last.
        proxy.freeze();
        const frozenAt = Date.now();
        const deadline = lease.ownershipDeadline();
        await curatorLatch.waitForLeadership(true, 10 * S);
        assert.equal(latch.signal.aborted, true, 'Curator leads while our latch still claims leadership');
        assert.equal(latch.hasLeadership(), false);
        assert.equal(
          curatorLatch.events[0]?.violation,
          false,
          'Curator found our L marker when it took over',
        );
        assert.deepEqual(markers.details, []);
        const taken = await curatorLease;
        const since = (at: number): string => `${Math.round(at - frozenAt)} ms`;
        t.diagnostic(
          `after the freeze: our latch stopped ${since(stoppedAt)}, Curator led ${since(curatorLatch.events[0]?.at ?? NaN)}; ` +
            `our lease deadline ${since(deadline)}, Curator's lease ${since(taken.acquiredAt)} (S = ${S} ms)`,
        );
        assert.ok(
          taken.acquiredAt > deadline,
          `Curator got the lease at ${taken.acquiredAt}, before our deadline ${deadline}`,
        );
        assert.equal(lease.considerAsOwned(), false);
        await Promise.all([taken.release(), curatorLatch.close()]);
      } finally {
        proxy.restore();
        await proxy.close();
      }
    });
  },
);
