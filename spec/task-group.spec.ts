import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import {
  InvalidOptionError,
  InvalidPathError,
  type Coordinator,
  type TaskGroup,
  type TaskGroupOptions,
} from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { ScriptProcess } from './support/processes.js';
import { Fleet, taskNames, uniquePath } from './support/task-fleet.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('TaskGroup', () => {
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

  it('bad input: typed errors for task names, lists and options', () => {
    const run = (): void => undefined;
    const make = (options: Partial<TaskGroupOptions>, path = '/tg/bad'): TaskGroup =>
      plain.createTaskGroup(path, { tasks: ['a'], run, ...options });
    const cases: [Partial<TaskGroupOptions>, RegExp][] = [
      [{ tasks: [] }, /is empty/],
      [{ tasks: ['a', 'b', 'a'] }, /duplicate task name "a"/],
      [{ tasks: ['a/b'] }, /contains "\/"/],
      [{ tasks: ['_members'] }, /reserved/],
      [{ tasks: ['_x'] }, /reserved/],
      [{ tasks: ['..'] }, /not a valid node name/],
      [{ tasks: [''] }, /non-empty string/],
      [{ tasks: [42 as unknown as string] }, /non-empty string/],
      [{ tasks: ['a\u0001'] }, /does not allow/],
      [{ tasks: 'a' as unknown as string[] }, /must be an array/],
      [{ run: undefined as unknown as TaskGroupOptions['run'] }, /must be a function/],
      [{ id: 'x/y' }, /contains "\/"/],
      [{ minimumWorkTimeMs: -1 }, /minimumWorkTimeMs/],
      [{ verifyIntervalMs: 5 }, /verifyIntervalMs/],
      [{ connectionLossPolicy: 'loose' as 'lease' }, /connectionLossPolicy/],
      [{ stopWindowMs: 60_000 }, /stopWindowMs/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => make(options),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.code === 'INVALID_OPTION' &&
          message.test(error.message),
        `${JSON.stringify(options)} should fail with ${message}`,
      );
    }
    assert.throws(() => make({}, 'relative'), InvalidPathError);
    // A function's list is checked at start().
    const group = make({ tasks: () => ['ok', 'ok'] });
    assert.throws(() => group.start(), /duplicate task name "ok"/);
    assert.equal(group.state, 'idle');
  });

  it('3 members x 30 tasks balance 10 each; a 4th joins with <= 12 moves; a graceful stop hands over at once', async () => {
    const fleet = new Fleet(pool, zk.connectString, uniquePath('balance'));
    const tasks = taskNames(30);
    const started = Date.now();
    const rebalanced: string[] = [];
    for (const id of ['a', 'b', 'c'])
      (await fleet.add(id, { tasks })).on('rebalanced', () => rebalanced.push(id));
    await waitFor(() => fleet.balanced(30, 10, 10), {
      timeoutMs: 20_000,
      message: () => `not balanced: ${JSON.stringify(fleet.counts())}`,
    });
    process.stdout.write(`# 3 x 30 balanced after ${Date.now() - started} ms\n`);
    // Each member reports its settled share (in its next pass after its last grant).
    await waitFor(() => ['a', 'b', 'c'].every((id) => rebalanced.includes(id)), {
      timeoutMs: 5_000,
      message: () => `rebalanced: ${rebalanced.join()}`,
    });

    const movesBefore = fleet.moves;
    const joinedAt = Date.now();
    const d = await fleet.add('d', { tasks });
    await waitFor(() => fleet.balanced(30, 7, 8) && d.ownedTasks().length >= 7, {
      timeoutMs: 20_000,
      message: () => `not balanced after the join: ${JSON.stringify(fleet.counts())}`,
    });
    const joinMoves = fleet.moves - movesBefore;
    process.stdout.write(`# join: balanced after ${Date.now() - joinedAt} ms with ${joinMoves} moves\n`);
    assert.ok(joinMoves <= 12, `${joinMoves} moves`);

    // Graceful stop of b: its tasks go to the others within a handoff, not after S (10 s).
    const stopAt = Date.now();
    const b = fleet.members.get('b');
    assert.ok(b);
    const bTasks = b.ownedTasks();
    await b.stop();
    fleet.members.delete('b');
    await waitFor(() => fleet.balanced(30, 10, 10), {
      timeoutMs: 8_000,
      intervalMs: 10,
      message: () => `not balanced after the stop: ${JSON.stringify(fleet.counts())}`,
    });
    const takeover = Math.max(...bTasks.map((t) => fleet.startedAt.get(t) ?? 0)) - stopAt;
    process.stdout.write(`# graceful stop: ${bTasks.length} tasks taken over within ${takeover} ms\n`);
    assert.ok(takeover < 5_000, `took ${takeover} ms`); // a handoff, far from S = 10 s (a loaded machine: generous)
    await fleet.stopAll();
    assert.equal(fleet.overlaps, 0);
  });

  it('kill -9 of a member process: survivors own all 30 tasks, balanced 15 each, within S + 3 s', async () => {
    const S = 3000;
    const path = uniquePath('kill');
    const fleet = new Fleet(pool, zk.connectString, path);
    const tasks = taskNames(30);
    const child = new ScriptProcess('spec/fixtures/task-worker.ts', [
      zk.connectString,
      path,
      'victim',
      '30',
      String(S),
    ]);
    try {
      await child.waitForOutput(/"event":"started"/, 30_000);
      await fleet.add('a', { tasks });
      await fleet.add('b', { tasks });
      const childOwned = (): string[] => {
        const lines = child.stdout
          .trim()
          .split('\n')
          .filter((l) => l.includes('"owned"'));
        return (JSON.parse(lines.at(-1) ?? '{"owned":[]}') as { owned: string[] }).owned;
      };
      await waitFor(() => fleet.balanced(30, 10, 10, childOwned().length) && childOwned().length === 10, {
        timeoutMs: 20_000,
        message: () => `not balanced: ${JSON.stringify(fleet.counts())}, victim ${childOwned().length}`,
      });
      const victimTasks = childOwned();
      const killedAt = Date.now();
      child.child.kill('SIGKILL');
      await waitFor(() => fleet.balanced(30, 15, 15), {
        timeoutMs: S + 3000 + 2000,
        intervalMs: 20,
        message: () => `not balanced after the kill: ${JSON.stringify(fleet.counts())}`,
      });
      const took = Date.now() - killedAt;
      process.stdout.write(
        `# kill -9: 30 tasks owned and balanced ${took} ms after the kill (S = ${S} ms)\n`,
      );
      assert.ok(took <= S + 3000, `took ${took} ms`);
      // None of the victim's tasks started here before the victim was dead.
      for (const task of victimTasks) assert.ok((fleet.startedAt.get(task) ?? 0) > killedAt, task);
      await fleet.stopAll();
      assert.equal(fleet.overlaps, 0);
    } finally {
      child.child.kill('SIGKILL');
    }
  });

  it('the task list changes on one member: it runs what only it knows, drops what it no longer knows', async () => {
    const fleet = new Fleet(pool, zk.connectString, uniquePath('list'));
    let aTasks = taskNames(10);
    const a = await fleet.add('a', { tasks: () => aTasks, refreshMs: 100_000 });
    const b = await fleet.add('b', { tasks: taskNames(10) });
    await waitFor(() => fleet.balanced(10, 5, 5), {
      timeoutMs: 20_000,
      message: () => JSON.stringify(fleet.counts()),
    });
    const dropped = a.ownedTasks()[0];
    assert.ok(dropped);
    const reasons: string[] = [];
    a.on('taskStopped', ({ task, reason }) => task === dropped && reasons.push(reason));
    aTasks = [...taskNames(10).filter((t) => t !== dropped), 'only-a'];
    a.refresh();
    await waitFor(() => a.ownedTasks().includes('only-a') && b.ownedTasks().includes(dropped), {
      timeoutMs: 10_000,
      message: () => `a: ${a.ownedTasks().join()} b: ${b.ownedTasks().join()}`,
    });
    assert.deepEqual(reasons, ['taskRemoved']);
    assert.ok(!b.ownedTasks().includes('only-a'));
    await waitFor(
      () => fleet.ownedUnion().size === 11 && Math.abs(a.ownedTasks().length - b.ownedTasks().length) <= 1,
      {
        timeoutMs: 10_000,
        message: () => JSON.stringify(fleet.counts()),
      },
    );
    await fleet.stopAll();
    assert.equal(fleet.overlaps, 0);
  });

  it('closing the coordinator stops a running group (terms end, timers cleared)', async () => {
    const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
    const reasons: string[] = [];
    const group = coordinator.createTaskGroup(uniquePath('close'), {
      tasks: ['x', 'y'],
      connectionLossPolicy: 'strict',
      stopWindowMs: 2000,
      run: (_task, control) => control.waitUntilShouldStop(60_000).then(() => undefined),
    });
    group.on('taskStopped', ({ reason }) => reasons.push(reason));
    const stopped = new Promise<void>((resolve) => group.once('stopped', resolve));
    group.start();
    assert.equal(group.connectionLossPolicy, 'strict');
    await waitFor(() => group.ownedTasks().length === 2, { timeoutMs: 10_000 });
    await coordinator.close();
    await stopped;
    assert.equal(group.state, 'stopped');
    assert.deepEqual(group.ownedTasks(), []);
    assert.equal(reasons.length, 2);
  });
});
