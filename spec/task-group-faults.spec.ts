// Task groups through connection faults (issue 13's liveness fixes): a member whose stop() loses the
// delete of its member node, and a member whose read of another member's state is lost, must still
// converge, not leave tasks unowned or a stale view until the next membership change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator } from '../lib/index.js';
import { CoordinatorPool, nextEvent } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { Fleet, taskNames, uniquePath } from './support/task-fleet.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('TaskGroup through faults', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let plain: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    plain = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('a member stopping through a lost connection still leaves: the other takes every task within a handoff', async () => {
    // Stop-liveness: b is at its share and queued for nothing; a stops while its connection is
    // silently frozen, so the delete of its member node is lost with the connection (the lock nodes
    // are deleted again after the reconnect). While a's member node stays, b counts a's last
    // published state: a's tasks look owned and b never contends for them.
    const S = 4000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const path = uniquePath('stop-lost');
      const fleet = new Fleet(pool, zk.connectString, path, S);
      const tasks = taskNames(6);
      const a = await fleet.add('a', { tasks }, proxy.connectString);
      const b = await fleet.add('b', { tasks });
      await waitFor(() => fleet.balanced(6, 3, 3), {
        timeoutMs: 20_000,
        message: () => JSON.stringify(fleet.counts()),
      });
      const coordinator = fleet.coordinators.get('a')!;
      const suspended = nextEvent(coordinator, 'suspended', 2 * S);
      proxy.freeze();
      const stopping = a.stop();
      await suspended; // the member node's delete was lost with the dropped connection
      proxy.restore();
      await stopping; // the lock nodes' deletes are retried: stop() resolves once they are gone
      fleet.members.delete('a');
      const stoppedAt = Date.now();
      await waitFor(() => b.ownedTasks().length === 6, {
        timeoutMs: S,
        intervalMs: 10,
        message: () => `b owns ${b.ownedTasks().join() || 'nothing'} ${S} ms after a stopped`,
      });
      process.stdout.write(
        `# stop through a lost connection: b owns all 6 tasks ${Date.now() - stoppedAt} ms after a stopped\n`,
      );
      assert.equal(coordinator.state, 'connected'); // a's session lives on: nothing expired
      await fleet.stopAll();
      assert.equal(fleet.overlaps, 0);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it("a member whose read of another's state is lost with its connection reads it again (no stale view)", async () => {
    // b owns all 4 tasks; a joins knowing only 'only-a'. Then a learns the 4 tasks and queues for one
    // of b's, publishing that want. b is notified, and its read of a's new state is cut by a dropped
    // connection: without a new read (and a new watch), b's view of a stays stale and a waits forever.
    const S = 4000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const path = uniquePath('stale-view');
      const fleet = new Fleet(pool, zk.connectString, path, S);
      const tasks = taskNames(4);
      const b = await fleet.add('b', { tasks }, proxy.connectString);
      await waitFor(() => b.ownedTasks().length === 4, { timeoutMs: 10_000 });
      let aTasks = ['only-a'];
      const a = await fleet.add('a', { tasks: () => aTasks, refreshMs: 100_000 });
      await waitFor(() => a.ownedTasks().length === 1, { timeoutMs: 10_000 });
      const bCoordinator = fleet.coordinators.get('b')!;
      const aNode = `${path}/_members/a`;
      // b's membership watches a's node (its read of a's state is answered): the server lists it.
      const bSession = `0x${bCoordinator.sessionId!.replace(/^0x/, '').replace(/^0+/, '')}`;
      await waitFor(
        async () => {
          const lines = (await zk.fourLetterWord(1, 'wchp')).split('\n');
          const at = lines.indexOf(aNode);
          if (at < 0) return false;
          for (const line of lines.slice(at + 1)) {
            if (!/^\s/.test(line)) break;
            if (line.trim().replace(/^0x0*/, '0x') === bSession) return true;
          }
          return false;
        },
        { timeoutMs: 10_000, message: "b never watched a's member node" },
      );
      // The next change of a's node: b's membership reads it (sent at once, in the same tick), then
      // this watcher drops b's connection, so that read fails with CONNECTION_LOSS.
      const reconnected = nextEvent(bCoordinator, 'reconnected', 10_000);
      await bCoordinator.session!.getData(aNode, { timeoutMs: 5_000 }, () => {
        proxy.drop();
        bCoordinator.once('suspended', () => proxy.restore());
      });
      aTasks = ['only-a', ...tasks];
      a.refresh();
      await reconnected;
      await waitFor(() => a.ownedTasks().length === 2 && b.ownedTasks().length === 3, {
        timeoutMs: S,
        intervalMs: 10,
        message: () => `a owns ${a.ownedTasks().join()}, b owns ${b.ownedTasks().join()}`,
      });
      await fleet.stopAll();
      assert.equal(fleet.overlaps, 0);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('start() and stop() at once leave no member node behind (it would count as a member owning nothing)', async () => {
    const path = uniquePath('start-stop');
    const fleet = new Fleet(pool, zk.connectString, path);
    const tasks = taskNames(4);
    for (let round = 0; round < 5; round += 1) {
      const ghost = await fleet.add(`ghost-${round}`, { tasks });
      await ghost.stop();
      fleet.members.delete(`ghost-${round}`);
    }
    const b = await fleet.add('b', { tasks });
    await waitFor(() => b.ownedTasks().length === 4, {
      timeoutMs: 5_000,
      message: () => `b owns ${b.ownedTasks().join()}`,
    });
    const members = await plain.session!.getChildren(`${path}/_members`, { timeoutMs: 5_000 });
    assert.deepEqual(members, ['b']);
    await fleet.stopAll();
  });
});
