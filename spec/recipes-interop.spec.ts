// Curator's recipe family against ours on one path (issue 14): a real ZooKeeper, real Curator 5.4
// InterProcessReadWriteLock / InterProcessSemaphoreV2 / LeaderLatch workers (spec/support/peers),
// and the file-marker protocol (spec/support/recipe-markers.ts, RecipeMarkers.java) counting
// violations on both sides. First the checkers themselves: each must be able to fail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import {
  compileCuratorRecipeWorker,
  curatorAvailable,
  holdCuratorRecipe,
  runCuratorLoop,
  startCuratorLatch,
  type CuratorHeld,
  type CuratorLatchPeer,
} from './support/peers/recipes.js';
import {
  RecipeMarkers,
  implementationChanges,
  makeMarkerDir,
  readLeadersLog,
  removeMarkerDir,
  runOurLatchLoop,
  runOurReadWriteLoop,
  runOurSemaphoreLoop,
  seededRandom,
} from './support/recipe-markers.js';
import { settleWithin, waitFor } from './support/wait.js';
import { ZooKeeperCluster, zooKeeperAvailable } from './support/zookeeper.js';

function skipReason(): string | false {
  const reasons: string[] = [];
  for (const [name, availability] of [
    ['ZooKeeper', zooKeeperAvailable()],
    ['Curator', curatorAvailable()],
  ] as const) {
    if (!availability.ok) reasons.push(`${name}: ${availability.reason}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : false;
}

const skip = skipReason();
const SESSION_TIMEOUT_MS = 10_000;

void describe('Curator recipes and ours on one path (file markers)', { skip }, () => {
  let zk: ZooKeeperCluster;
  const dirs: string[] = [];
  const cleanup: Array<() => unknown> = [];
  let n = 0;
  /** A fresh recipe path and marker directory per test. */
  const fresh = async (label: string): Promise<{ path: string; dir: string }> => {
    n += 1;
    const dir = await makeMarkerDir(label);
    dirs.push(dir);
    return { path: `/recipes-interop/${label}-${process.pid}-${n}`, dir };
  };
  const base = (): { connectString: string; sessionTimeoutMs: number } => ({
    connectString: zk.connectString,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
  });
  const keep = <T extends CuratorHeld | CuratorLatchPeer>(peer: T): T => {
    cleanup.push(() => peer.kill());
    return peer;
  };
  const pool = new CoordinatorPool();
  const coordinators = (count: number): Promise<Coordinator[]> =>
    Promise.all(Array.from({ length: count }, () => pool.start(base())));
  /** Starts Curator loop workers together and resolves once all of them are ready. */
  const gate = (
    count: number,
  ): { onReady: () => void; startGate: Promise<void>; allReady: Promise<void> } => {
    let ready = 0;
    let go!: () => void;
    const startGate = new Promise<void>((resolve) => (go = resolve));
    return {
      onReady: () => {
        ready += 1;
        if (ready === count) go();
      },
      startGate,
      allReady: startGate,
    };
  };

  before(async () => {
    [zk] = await Promise.all([ZooKeeperCluster.startStandalone(), compileCuratorRecipeWorker()]);
  });
  after(async () => {
    for (const fn of cleanup.splice(0)) fn();
    await pool.closeAll();
    await zk?.close();
    await Promise.all(dirs.map((dir) => removeMarkerDir(dir)));
  });

  // Each part on a path and marker directory of its own, so the parts (and the tests) run at once.
  void describe('the marker checkers can fail', { concurrency: true }, () => {
    it('read-write lock: Curator readers and writers see our W; we see Curator’s W and R-*', async () => {
      await Promise.all([
        (async () => {
          // Every Curator hold (reads and writes alike) runs into our W.
          const { path, dir } = await fresh('rw-check-loop');
          const probe = new RecipeMarkers(dir, 'probe');
          const ourWrite = await probe.enterWrite();
          assert.equal(ourWrite.violation, false);
          const loop = await runCuratorLoop({
            ...base(),
            recipe: 'rwlock',
            path,
            markerDir: dir,
            iterations: 6,
            writeRatio: 0.5,
            seed: 7,
            holdMs: 0,
          });
          assert.equal(loop.iterations, 6);
          assert.ok(loop.reads > 0 && loop.writes > 0, `reads ${loop.reads}, writes ${loop.writes}`);
          assert.equal(loop.violations, 6, loop.violationDetails.join('\n'));
          await ourWrite.release();
        })(),
        (async () => {
          // A Curator reader's R-* file: our writer objects, our reader counts 2 readers.
          const { path, dir } = await fresh('rw-check-reader');
          const probe = new RecipeMarkers(dir, 'probe');
          const reader = keep(
            await holdCuratorRecipe({ ...base(), recipe: 'rwlock', side: 'read', path, markerDir: dir }),
          );
          assert.equal(reader.violation, false);
          assert.match(reader.node, /\/_c_[0-9a-f-]{36}-__READ__\d{10}$/);
          const write = await probe.enterWrite();
          assert.equal(write.violation, true);
          await write.release();
          const read = await probe.enterRead();
          assert.equal(read.violation, false);
          assert.equal(probe.peakReaders, 2);
          assert.deepEqual([...probe.coReaders], [`c${reader.pid}`]);
          await read.release();
          await reader.release();
          assert.equal(probe.violations, 1, probe.details.join('\n'));
        })(),
        (async () => {
          // A Curator writer's W: our reader objects.
          const { path, dir } = await fresh('rw-check-writer');
          const probe = new RecipeMarkers(dir, 'probe');
          const writer = keep(
            await holdCuratorRecipe({ ...base(), recipe: 'rwlock', side: 'write', path, markerDir: dir }),
          );
          assert.equal(writer.violation, false);
          assert.match(writer.node, /\/_c_[0-9a-f-]{36}-__WRIT__\d{10}$/);
          const blocked = await probe.enterRead();
          assert.equal(blocked.violation, true);
          await blocked.release();
          await writer.release();
          assert.equal(probe.violations, 1, probe.details.join('\n'));
        })(),
      ]);
    });

    it('read-write lock: two Curator workers on DIFFERENT paths sharing the markers count violations', async () => {
      const a = await fresh('rw-split-a');
      const b = await fresh('rw-split-b');
      const { onReady, startGate } = gate(2);
      // Writers only, holding 20 ms of every ~22: unrelated locks overlap at once.
      const results = await Promise.all(
        [a.path, b.path].map((path) =>
          runCuratorLoop({
            ...base(),
            recipe: 'rwlock',
            path,
            markerDir: a.dir,
            iterations: 15,
            writeRatio: 1,
            holdMs: 20,
            onReady,
            startGate,
          }),
        ),
      );
      const violations = results.reduce((sum, r) => sum + r.violations, 0);
      assert.ok(violations > 0, 'no violation although the two writers held unrelated locks');
    });

    it('semaphore: Curator lease holders count our S-* files, and we count theirs', async () => {
      await Promise.all([
        (async () => {
          const { path, dir } = await fresh('sem-check-loop');
          const probe = new RecipeMarkers(dir, 'probe');
          const ours = [await probe.enterSemaphore(2), await probe.enterSemaphore(2)];
          const loop = await runCuratorLoop({
            ...base(),
            recipe: 'semaphore',
            maxLeases: 2,
            path,
            markerDir: dir,
            iterations: 3,
            holdMs: 0,
          });
          assert.equal(loop.violations, 3, loop.violationDetails.join('\n'));
          assert.equal(loop.peakHolders, 3);
          await Promise.all(ours.map((hold) => hold.release()));
        })(),
        (async () => {
          const { path, dir } = await fresh('sem-check-holder');
          const probe = new RecipeMarkers(dir, 'probe');
          const holder = keep(
            await holdCuratorRecipe({ ...base(), recipe: 'semaphore', maxLeases: 1, path, markerDir: dir }),
          );
          assert.match(holder.node, new RegExp(`^${path}/leases/_c_[0-9a-f-]{36}-lease-\\d{10}$`));
          const extra = await probe.enterSemaphore(1);
          assert.equal(extra.violation, true);
          assert.equal(probe.peakHolders, 2);
          await extra.release();
          await holder.release();
        })(),
      ]);
    });

    it('latch: a Curator leader sees our L, and we see its L', async () => {
      await Promise.all([
        (async () => {
          const { path, dir } = await fresh('latch-check-loop');
          const probe = new RecipeMarkers(dir, 'probe');
          const ourLead = await probe.enterLatch();
          const loop = await runCuratorLoop({
            ...base(),
            recipe: 'latch',
            path,
            markerDir: dir,
            iterations: 2,
            holdMs: 0,
          });
          assert.equal(loop.violations, 2, loop.violationDetails.join('\n'));
          await ourLead.release();
          assert.deepEqual(
            (await readLeadersLog(dir)).map((entry) => entry.impl),
            ['ours', 'curator', 'curator'],
          );
        })(),
        (async () => {
          const { path, dir } = await fresh('latch-check-leader');
          const probe = new RecipeMarkers(dir, 'probe');
          const leader = keep(await startCuratorLatch({ ...base(), path, markerDir: dir }));
          await leader.waitForLeadership(true);
          assert.equal(leader.events[0]?.violation, false);
          const second = await probe.enterLatch();
          assert.equal(second.violation, true);
          await second.release();
          await leader.close();
          assert.deepEqual(
            (await readLeadersLog(dir)).map((entry) => entry.impl),
            ['curator', 'ours'],
          );
        })(),
      ]);
    });
  });

  void describe('ours and Curator on one path', () => {
    it('read-write lock, 2 ours + 2 Curator: writers exclusive, readers concurrent, 0 violations', async (t) => {
      const { path, dir } = await fresh('rw');
      const [a, b] = await coordinators(2);
      const start = gate(2);
      const curator = [1, 2].map((k) =>
        runCuratorLoop({
          ...base(),
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
      const { path, dir } = await fresh('sem');
      const [a, b] = await coordinators(2);
      const start = gate(2);
      const curator = [1, 2].map(() =>
        runCuratorLoop({
          ...base(),
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
      const { path, dir } = await fresh('latch');
      const [a] = await coordinators(1);
      const start = gate(1);
      const curator = runCuratorLoop({
        ...base(),
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
          const { path } = await fresh('rw-hold-writer');
          const [c] = await coordinators(1);
          const rw = c!.createReadWriteLock(path, { id: 'ours' });
          const writer = keep(await holdCuratorRecipe({ ...base(), recipe: 'rwlock', side: 'write', path }));
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
          const { path } = await fresh('rw-hold-reader');
          const [c] = await coordinators(1);
          const rw = c!.createReadWriteLock(path, { id: 'ours' });
          const reader = keep(await holdCuratorRecipe({ ...base(), recipe: 'rwlock', side: 'read', path }));
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
      const { path, dir } = await fresh('rw-downgrade');
      const [c] = await coordinators(1);
      const rw = c!.createReadWriteLock(path, { id: 'ours' });
      const probe = new RecipeMarkers(dir, `o${process.pid}`);
      assert.equal(await rw.writeLock.acquire(5_000), true);
      const write = await probe.enterWrite();
      let curatorHolds = false;
      const pending = holdCuratorRecipe({
        ...base(),
        recipe: 'rwlock',
        side: 'write',
        path,
        markerDir: dir,
      }).then((peer) => {
        curatorHolds = true;
        return keep(peer);
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
      const { path } = await fresh('sem-hold');
      const [c] = await coordinators(1);
      const semaphore = c!.createSemaphore(path, { maxLeases: 2, id: 'ours' });
      const held = await Promise.all(
        ['curator-1', 'curator-2'].map(async (id) =>
          keep(await holdCuratorRecipe({ ...base(), recipe: 'semaphore', maxLeases: 2, path, id })),
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
        ...base(),
        recipe: 'semaphore',
        maxLeases: 2,
        path,
        id: 'curator-3',
      }).then((peer) => {
        curatorHolds = true;
        return keep(peer);
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
      const { path } = await fresh('latch-hold');
      const [c] = await coordinators(1);
      const first = keep(await startCuratorLatch({ ...base(), path, id: 'curator-1' }));
      await first.waitForLeadership(true);
      const latch = c!.createLeaderLatch(path, { id: 'ours' });
      await latch.start();
      assert.equal(await latch.await(300), false, 'ours leads beside a Curator leader');
      assert.deepEqual(await latch.participants(), ['curator-1', 'ours']);
      await first.close();
      assert.equal(await latch.await(20_000), true);
      const second = keep(await startCuratorLatch({ ...base(), path, id: 'curator-2' }));
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
