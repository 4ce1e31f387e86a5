// The file-marker protocol of the recipe interop tests (spec/support/recipe-markers.ts on our side,
// RecipeMarkers.java in the Curator 5.4 workers) must be able to fail: each checker, on either
// side, counts a violation when the other side's markers say so, and two Curator workers on
// DIFFERENT paths sharing one marker directory count violations. Real ZooKeeper, real Curator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { holdCuratorRecipe, runCuratorLoop, startCuratorLatch } from './support/peers/recipes.js';
import { RecipeInterop, recipeInteropSkipReason, startTogether } from './support/recipe-interop.js';
import { RecipeMarkers, readLeadersLog } from './support/recipe-markers.js';

// Each part on a path and marker directory of its own, so the parts (and the tests) run at once.
void describe('the marker checkers can fail', { skip: recipeInteropSkipReason(), concurrency: true }, () => {
  const env = new RecipeInterop('recipe-markers');
  before(() => env.start());
  after(() => env.close());

  it('read-write lock: Curator readers and writers see our W; we see Curator’s W and R-*', async () => {
    await Promise.all([
      (async () => {
        // Every Curator hold (reads and writes alike) runs into our W.
        const { path, dir } = await env.fresh('rw-check-loop');
        const probe = new RecipeMarkers(dir, 'probe');
        const ourWrite = await probe.enterWrite();
        assert.equal(ourWrite.violation, false);
        const loop = await runCuratorLoop({
          ...env.base(),
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
        const { path, dir } = await env.fresh('rw-check-reader');
        const probe = new RecipeMarkers(dir, 'probe');
        const reader = env.keep(
          await holdCuratorRecipe({
            ...env.base(),
            recipe: 'rwlock',
            side: 'read',
            path,
            markerDir: dir,
          }),
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
        const { path, dir } = await env.fresh('rw-check-writer');
        const probe = new RecipeMarkers(dir, 'probe');
        const writer = env.keep(
          await holdCuratorRecipe({
            ...env.base(),
            recipe: 'rwlock',
            side: 'write',
            path,
            markerDir: dir,
          }),
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
    const a = await env.fresh('rw-split-a');
    const b = await env.fresh('rw-split-b');
    const { onReady, startGate } = startTogether(2);
    // Writers only, holding 20 ms of every ~22: unrelated locks overlap at once.
    const results = await Promise.all(
      [a.path, b.path].map((path) =>
        runCuratorLoop({
          ...env.base(),
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
        const { path, dir } = await env.fresh('sem-check-loop');
        const probe = new RecipeMarkers(dir, 'probe');
        const ours = [await probe.enterSemaphore(2), await probe.enterSemaphore(2)];
        const loop = await runCuratorLoop({
          ...env.base(),
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
        const { path, dir } = await env.fresh('sem-check-holder');
        const probe = new RecipeMarkers(dir, 'probe');
        const holder = env.keep(
          await holdCuratorRecipe({
            ...env.base(),
            recipe: 'semaphore',
            maxLeases: 1,
            path,
            markerDir: dir,
          }),
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
        const { path, dir } = await env.fresh('latch-check-loop');
        const probe = new RecipeMarkers(dir, 'probe');
        const ourLead = await probe.enterLatch();
        const loop = await runCuratorLoop({
          ...env.base(),
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
        const { path, dir } = await env.fresh('latch-check-leader');
        const probe = new RecipeMarkers(dir, 'probe');
        const leader = env.keep(await startCuratorLatch({ ...env.base(), path, markerDir: dir }));
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
