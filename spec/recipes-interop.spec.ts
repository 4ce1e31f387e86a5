// Curator's recipe family against ours on one path (issue 14), under load: a real ZooKeeper, real
// Curator 5.4 InterProcessReadWriteLock / InterProcessSemaphoreV2 / LeaderLatch loop workers
// (spec/support/peers) and our clients, with the file-marker protocol (spec/support/recipe-markers.ts,
// RecipeMarkers.java) counting violations on both sides (spec/recipe-markers.spec.ts shows each
// checker can fail). Hand-overs one hold at a time: spec/recipes-handover.spec.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { runCuratorLoop } from './support/peers/recipes.js';
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

void describe('Curator recipes and ours on one path', { skip: recipeInteropSkipReason() }, () => {
  // Curator creates missing parents as CONTAINER nodes, which the server deletes once empty (every
  // 60 s by default): here every 100 ms, so ours meets vanished parents all the time.
  const env = new RecipeInterop('recipes-interop', {
    systemProperties: { 'znode.container.checkIntervalMs': '100' },
  });
  before(() => env.start());
  after(() => env.close());

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
