// Curator's recipe family against ours on one path (issue 14): a real ZooKeeper, real Curator 5.4
// InterProcessReadWriteLock / InterProcessSemaphoreV2 / LeaderLatch workers (spec/support/peers),
// and the file-marker protocol (spec/support/recipe-markers.ts, RecipeMarkers.java) counting
// violations on both sides (spec/recipe-markers.spec.ts shows each checker can fail).
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { holdCuratorRecipe, runCuratorLoop, startCuratorLatch } from './support/peers/recipes.js';
import { RecipeInterop, recipeInteropSkipReason, startTogether } from './support/recipe-interop.js';
import {
  RecipeMarkers,
  implementationChanges,
  readLeadersLog,
  runOurLatchLoop,
  runOurReadWriteLoop,
  runOurSemaphoreLoop,
  seededRandom,
} from './support/recipe-markers.js';
import { settleWithin, waitFor } from './support/wait.js';

void describe('Curator recipes and ours on one path', { skip: recipeInteropSkipReason() }, () => {
  // Curator creates missing parents as CONTAINER nodes, which the server deletes once empty (every
  // 60 s by default): here every 100 ms, so ours meets vanished parents all the time.
  const env = new RecipeInterop('recipes-interop', {
    systemProperties: { 'znode.container.checkIntervalMs': '100' },
  });
  before(() => env.start());
  after(() => env.close());

  void describe('ours and Curator on one path', () => {
    it('read-write lock, 2 ours + 2 Curator: writers exclusive, readers concurrent, 0 violations', async (t) => {
      const { path, dir } = await env.fresh('rw');
      const [a, b] = await env.coordinators(2);
      const start = startTogether(2);
      const curator = [1, 2].map((k) =>
        runCuratorLoop({
          ...env.base(),
          recipe: 'rwlock',
          path,
          markerDir: dir,
          iterations: 40,
          writeRatio: 0.3,
          seed: k,
          holdMs: 8,
          onReady: start.onReady,
          startGate: start.startGate,
        }),
      );
      await start.allReady;
      const markers = [a, b].map((_, k) => new RecipeMarkers(dir, `o${process.pid}-${k}`));
      const mine = await Promise.all(
        [a!, b!].map((coordinator, k) =>
          runOurReadWriteLoop(coordinator.createReadWriteLock(path, { id: `ours-${k}` }), markers[k]!, {
            iterations: 40,
            writeRatio: 0.3,
            random: seededRandom(100 + k),
            holdMs: 8,
            acquireTimeoutMs: 30_000,
          }),
        ),
      );
      const theirs = await Promise.all(curator);
      const details = [...theirs.flatMap((r) => r.violationDetails), ...markers.flatMap((m) => m.details)];
      const peakReaders = Math.max(...theirs.map((r) => r.peakReaders), ...markers.map((m) => m.peakReaders));
      // An ours reader and a Curator reader held at once: ours saw a Curator R-* file, or the reverse.
      const oursBesideCurator = markers.reduce(
        (sum, m) => sum + [...m.coReaders].filter((tag) => tag.startsWith('c')).length,
        0,
      );
      const curatorBesideOurs = theirs.reduce((sum, r) => sum + r.readsBesideOthers, 0);
      t.diagnostic(
        `peak readers ${peakReaders}; Curator reads beside ours ${curatorBesideOurs}, Curator readers our readers saw ${oursBesideCurator}; ` +
          `ours ${JSON.stringify(mine)}; Curator ${JSON.stringify(theirs.map(({ violationDetails: _, ...r }) => r))}`,
      );
      assert.deepEqual(details, []);
      assert.deepEqual(
        theirs.map((r) => r.violations),
        [0, 0],
      );
      assert.deepEqual(
        markers.map((m) => m.violations),
        [0, 0],
      );
      for (const r of [...mine, ...theirs]) {
        assert.equal(r.iterations, 40);
        assert.ok(r.writes > 0 && r.reads > 0, `reads ${r.reads}, writes ${r.writes}`);
      }
      assert.deepEqual(
        mine.map((r) => r.notOwned),
        [0, 0],
      );
      assert.ok(peakReaders > 1, `readers never held the lock together (peak ${peakReaders})`);
      assert.ok(
        oursBesideCurator + curatorBesideOurs > 0,
        'an ours reader and a Curator reader never held at once',
      );
    });

    it('semaphore maxLeases 2, 2 ours + 2 Curator: never more than 2 holders, 0 violations', async (t) => {
      const { path, dir } = await env.fresh('sem');
      const [a, b] = await env.coordinators(2);
      const start = startTogether(2);
      const curator = [1, 2].map(() =>
        runCuratorLoop({
          ...env.base(),
          recipe: 'semaphore',
          maxLeases: 2,
          path,
          markerDir: dir,
          iterations: 20,
          holdMs: 10,
          onReady: start.onReady,
          startGate: start.startGate,
        }),
      );
      await start.allReady;
      const markers = [a, b].map((_, k) => new RecipeMarkers(dir, `o${process.pid}-${k}`));
      const semaphores = [a!, b!].map((coordinator, k) =>
        coordinator.createSemaphore(path, { maxLeases: 2, id: `ours-${k}` }),
      );
      const mine = await Promise.all(
        semaphores.map((semaphore, k) =>
          runOurSemaphoreLoop(semaphore, markers[k]!, {
            iterations: 20,
            maxLeases: 2,
            holdMs: 10,
            acquireTimeoutMs: 30_000,
          }),
        ),
      );
      const theirs = await Promise.all(curator);
      const peak = Math.max(...theirs.map((r) => r.peakHolders), ...markers.map((m) => m.peakHolders));
      t.diagnostic(
        `ours ${JSON.stringify(mine)}, peaks ${markers.map((m) => m.peakHolders).join(',')}; Curator ${JSON.stringify(theirs.map(({ violationDetails: _, ...r }) => r))}`,
      );
      assert.deepEqual(
        [...theirs.flatMap((r) => r.violationDetails), ...markers.flatMap((m) => m.details)],
        [],
      );
      for (const r of [...mine, ...theirs]) assert.equal(r.iterations, 20);
      assert.deepEqual(
        mine.map((r) => r.notOwned),
        [0, 0],
      );
      assert.equal(peak, 2, 'the semaphore never had 2 holders at once (or had more)');
      assert.deepEqual(await semaphores[0]!.participants(), []);
    });

    it('leader latch, ours and Curator: one leader at a time, leadership moves between them', async (t) => {
      const { path, dir } = await env.fresh('latch');
      const [a] = await env.coordinators(1);
      const start = startTogether(1);
      const curator = runCuratorLoop({
        ...env.base(),
        recipe: 'latch',
        path,
        markerDir: dir,
        iterations: 6,
        holdMs: 20,
        onReady: start.onReady,
        startGate: start.startGate,
      });
      await start.allReady;
      const markers = new RecipeMarkers(dir, `o${process.pid}`);
      const mine = await runOurLatchLoop(() => a!.createLeaderLatch(path, { id: 'ours' }), markers, {
        iterations: 6,
        holdMs: 20,
        acquireTimeoutMs: 30_000,
      });
      const theirs = await curator;
      const log = await readLeadersLog(dir);
      const changes = implementationChanges(log);
      t.diagnostic(`leaders: ${log.map((e) => e.impl).join(' ')}; ${changes} changes of implementation`);
      assert.deepEqual([...theirs.violationDetails, ...markers.details], []);
      assert.equal(mine.iterations, 6);
      assert.equal(mine.notOwned, 0);
      assert.equal(theirs.iterations, 6);
      assert.equal(theirs.lostLeadership, 0);
      assert.equal(log.length, 12);
      assert.ok(changes >= 1, 'leadership never moved between ours and Curator');
    });
  });

  void describe('ours and Curator hand over', { concurrency: true }, () => {
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
  });
});
