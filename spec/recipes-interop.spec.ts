// Curator's recipe family against ours on one path (issue 14): a real ZooKeeper, real Curator 5.4
// InterProcessReadWriteLock / InterProcessSemaphoreV2 / LeaderLatch workers (spec/support/peers),
// and the file-marker protocol (spec/support/recipe-markers.ts, RecipeMarkers.java) counting
// violations on both sides. First the checkers themselves: each must be able to fail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import {
  compileCuratorRecipeWorker,
  curatorAvailable,
  holdCuratorRecipe,
  runCuratorLoop,
  startCuratorLatch,
  type CuratorHeld,
  type CuratorLatchPeer,
} from './support/peers/recipes.js';
import { RecipeMarkers, makeMarkerDir, readLeadersLog, removeMarkerDir } from './support/recipe-markers.js';
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

  before(async () => {
    [zk] = await Promise.all([ZooKeeperCluster.startStandalone(), compileCuratorRecipeWorker()]);
  });
  after(async () => {
    for (const fn of cleanup.splice(0)) fn();
    await zk?.close();
    await Promise.all(dirs.map((dir) => removeMarkerDir(dir)));
  });

  void describe('the marker checkers can fail', () => {
    it('read-write lock: Curator readers and writers see our W; we see Curator’s W and R-*', async () => {
      const { path, dir } = await fresh('rw-check');
      const probe = new RecipeMarkers(dir, 'probe');
      const ourWrite = await probe.enterWrite();
      assert.equal(ourWrite.violation, false);
      // Every Curator hold (reads and writes alike) runs into our W.
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

      // A Curator reader's R-* file: our writer objects, our reader counts 2 readers.
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
      await read.release();
      await reader.release();

      // A Curator writer's W: our reader objects.
      const writer = keep(
        await holdCuratorRecipe({ ...base(), recipe: 'rwlock', side: 'write', path, markerDir: dir }),
      );
      assert.equal(writer.violation, false);
      assert.match(writer.node, /\/_c_[0-9a-f-]{36}-__WRIT__\d{10}$/);
      const blocked = await probe.enterRead();
      assert.equal(blocked.violation, true);
      await blocked.release();
      await writer.release();
      assert.equal(probe.violations, 2, probe.details.join('\n'));
    });

    it('read-write lock: two Curator workers on DIFFERENT paths sharing the markers count violations', async () => {
      const a = await fresh('rw-split-a');
      const b = await fresh('rw-split-b');
      let ready = 0;
      let go!: () => void;
      const gate = new Promise<void>((resolve) => (go = resolve));
      const onReady = (): void => {
        ready += 1;
        if (ready === 2) go();
      };
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
            startGate: gate,
          }),
        ),
      );
      const violations = results.reduce((sum, r) => sum + r.violations, 0);
      assert.ok(violations > 0, 'no violation although the two writers held unrelated locks');
    });

    it('semaphore: Curator lease holders count our S-* files, and we count theirs', async () => {
      const { path, dir } = await fresh('sem-check');
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

      const holder = keep(
        await holdCuratorRecipe({ ...base(), recipe: 'semaphore', maxLeases: 1, path, markerDir: dir }),
      );
      assert.match(holder.node, new RegExp(`^${path}/leases/_c_[0-9a-f-]{36}-lease-\\d{10}$`));
      const extra = await probe.enterSemaphore(1);
      assert.equal(extra.violation, true);
      assert.equal(probe.peakHolders, 2);
      await extra.release();
      await holder.release();
    });

    it('latch: a Curator leader sees our L, and we see its L', async () => {
      const { path, dir } = await fresh('latch-check');
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

      const leader = keep(await startCuratorLatch({ ...base(), path, markerDir: dir }));
      await leader.waitForLeadership(true);
      assert.equal(leader.events[0]?.violation, false);
      const second = await probe.enterLatch();
      assert.equal(second.violation, true);
      await second.release();
      await leader.close();
      assert.deepEqual(
        (await readLeadersLog(dir)).map((entry) => entry.impl),
        ['ours', 'curator', 'curator', 'curator', 'ours'],
      );
    });
  });
});
