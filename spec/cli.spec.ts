// The zk-leader-selector CLI (lib/cli), run as a child process (`node --import tsx lib/cli/main.ts`)
// against a real ZooKeeper: a lock held by one of our coordinators, a second one of ours waiting, and
// a kazoo-named node, as `inspect`, `inspect --json` and `watch` show them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator, LockHandle, SharedReentrantLock } from '../lib/index.js';
import type { Snapshot } from '../lib/cli/snapshot.js';
import { native, type NativeClient } from '../lib/zk/native.js';
import { CoordinatorPool } from './support/coordinators.js';
import { killAllScripts, ScriptProcess, type Finished } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const cli = (args: string[], env?: NodeJS.ProcessEnv): ScriptProcess =>
  new ScriptProcess('lib/cli/main.ts', args, env);
const run = (args: string[], env?: NodeJS.ProcessEnv): Promise<Finished> => cli(args, env).finished();

/** A raw client that creates a node named like kazoo's Lock does: `<uuid>__lock__<seq>`. */
async function kazooContender(connectString: string, path: string, id: string): Promise<NativeClient> {
  const client = native.createClient(connectString, { sessionTimeout: 10_000, spinDelay: 200, retries: 0 });
  await new Promise<void>((resolve) => {
    client.on('state', (state) => {
      if (state.name === 'SYNC_CONNECTED') resolve();
    });
    client.connect();
  });
  const nodePath = `${path}/${randomUUID().replaceAll('-', '')}__lock__`;
  await new Promise<void>((resolve, reject) =>
    client.create(
      nodePath,
      Buffer.from(id),
      native.ACL.OPEN_ACL_UNSAFE,
      native.CreateMode.EPHEMERAL_SEQUENTIAL,
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  return client;
}

describe('zk-leader-selector CLI', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let a: Coordinator;
  let b: Coordinator;
  let kazoo: NativeClient | undefined;
  let env: NodeJS.ProcessEnv;
  const path = `/cli-spec/report-${process.pid}`;
  let holder: SharedReentrantLock;
  let held: LockHandle;
  let waiter: SharedReentrantLock;
  let waiterAcquired: Promise<boolean>;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    env = { ...process.env, ZOOKEEPER_CONNECT_STRING: zk.connectString };
    a = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
    b = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
    holder = a.createLock(path, { id: 'holder-a' });
    held = await holder.hold(5_000); // a handle: released later from another async flow
    waiter = b.createLock(path, { id: 'waiter-b' });
    waiterAcquired = waiter.acquire(); // no max wait: the tests before it may take long on a busy machine
    waiterAcquired.catch(() => undefined); // awaited in a test; closing the coordinator must not leave it unhandled
    await waitFor(async () => (await holder.contenderDetails()).length === 2);
    kazoo = await kazooContender(zk.connectString, path, 'kazoo-c');
    await waitFor(async () => (await holder.contenderDetails()).length === 3);
  });

  after(async () => {
    killAllScripts();
    kazoo?.close();
    await pool.closeAll();
    await zk?.close();
  });

  it('--help prints the usage; bad usage exits 2', async () => {
    const help = await run(['--help'], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /zk-leader-selector inspect <path>/);
    assert.match(help.stdout, /zk-leader-selector watch <path>/);
    assert.match(help.stdout, /ZOOKEEPER_CONNECT_STRING/);

    const none = await run([], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing command/);
    const unknown = await run(['frobnicate', '/x'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const badPath = await run(['inspect', 'relative/path'], env);
    assert.equal(badPath.code, 2);
    assert.match(badPath.stderr, /must be absolute/);
    const version = await run(['--version'], env);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });

  it('inspect lists the contenders in lock order: holder, our waiter, a kazoo node', async () => {
    const { code, stdout, stderr } = await run(['inspect', path], env);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      new RegExp(
        `^${path} on ${zk.connectString}: held by holder-a \\(session 0x${a.sessionId}\\), 2 waiting`,
      ),
    );
    const rows = stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
    assert.equal(rows.length, 3, stdout);
    assert.match(
      rows[0] ?? '',
      new RegExp(
        `^\\s+1\\s+holder\\s+holder-a\\s+0x${a.sessionId}\\s+\\S+\\s+curator-protocol\\s+_c_[0-9a-f-]{36}-lock-\\d{10}$`,
      ),
    );
    assert.match(
      rows[1] ?? '',
      new RegExp(`^\\s+2\\s+waiting\\s+waiter-b\\s+0x${b.sessionId}\\s+\\S+\\s+curator-protocol\\s+_c_`),
    );
    assert.match(
      rows[2] ?? '',
      /^\s+3\s+waiting\s+kazoo-c\s+0x[0-9a-f]{16}\s+\S+\s+kazoo\s+[0-9a-f]{32}__lock__\d{10}$/,
    );
  });

  it('inspect --json has the documented shape; --connect wins over the environment', async () => {
    const { code, stdout, stderr } = await run(['inspect', path, '--json', '--connect', zk.connectString], {
      ...env,
      ZOOKEEPER_CONNECT_STRING: '127.0.0.1:1',
    });
    assert.equal(code, 0, stderr);
    const snapshot = JSON.parse(stdout) as Snapshot;
    assert.equal(snapshot.path, path);
    assert.equal(snapshot.connectString, zk.connectString);
    assert.ok(!Number.isNaN(Date.parse(snapshot.observedAt)));
    assert.deepEqual(
      snapshot.contenders.map((c) => [c.position, c.id, c.implementation, c.holder]),
      [
        [1, 'holder-a', 'curator-protocol', true],
        [2, 'waiter-b', 'curator-protocol', false],
        [3, 'kazoo-c', 'kazoo', false],
      ],
    );
    assert.deepEqual(snapshot.holder, snapshot.contenders[0]);
    assert.equal(snapshot.contenders[0]?.sessionId, a.sessionId);
    assert.equal(snapshot.contenders[1]?.sessionId, b.sessionId);
    for (const c of snapshot.contenders) {
      assert.deepEqual(Object.keys(c).sort(), [
        'ageMs',
        'createdAt',
        'holder',
        'id',
        'implementation',
        'node',
        'position',
        'sequence',
        'sessionId',
      ]);
      assert.ok(c.ageMs >= 0 && c.ageMs < 120_000, `ageMs ${c.ageMs}`);
      assert.ok(!Number.isNaN(Date.parse(c.createdAt)));
      assert.equal(c.sequence, Number(c.node.slice(-10)));
    }
    const sequences = snapshot.contenders.map((c) => c.sequence);
    assert.deepEqual(
      [...sequences].sort((x, y) => x - y),
      sequences,
    );
  });

  it('inspect of a path nobody uses says so; an unreachable server exits 1', async () => {
    const empty = await run(['inspect', `${path}-unused`], env);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /no contenders/);
    const emptyJson = JSON.parse(
      (await run(['inspect', `${path}-unused`, '--json'], env)).stdout,
    ) as Snapshot;
    assert.deepEqual([emptyJson.holder, emptyJson.contenders], [null, []]);

    const unreachable = await run(
      ['inspect', path, '--connect', '127.0.0.1:1', '--connect-timeout', '500'],
      env,
    );
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /Could not establish a ZooKeeper session with 127\.0\.0\.1:1 within 500 ms/,
    );
  });

  it('watch prints the contenders, prints them again when the holder changes, and stops on SIGINT', async () => {
    const watch = cli(['watch', path, '--interval', '100'], env);
    try {
      await waitFor(() => watch.stdout.includes('held by holder-a'), {
        timeoutMs: 20_000,
        message: () => `watch output:\n${watch.stdout}\n${watch.stderr}`,
      });
      assert.match(watch.stderr, /watching .* \(Ctrl-C to stop\)/);
      await held.release();
      assert.equal(await waiterAcquired, true);
      await waitFor(() => /holder: holder-a -> waiter-b; left: holder-a/.test(watch.stdout), {
        timeoutMs: 10_000,
        message: () => `watch output:\n${watch.stdout}\n${watch.stderr}`,
      });
      assert.match(watch.stdout, /held by waiter-b \(session 0x[0-9a-f]{16}\), 1 waiting/);
      watch.child.kill('SIGINT');
      const { code } = await watch.finished(10_000);
      assert.equal(code, 0, watch.stderr);
      // One snapshot at the start, one after the change: no reprint while nothing changed.
      assert.equal(watch.stdout.match(/^--- /gm)?.length, 2, watch.stdout);
    } finally {
      watch.child.kill('SIGKILL');
    }
  });

  it('watch --json prints one JSON object per change and stops after --duration', async () => {
    const watch = cli(['watch', path, '--json', '--interval', '100', '--duration', '60000'], env);
    try {
      await waitFor(() => watch.stdout.includes('\n'), { timeoutMs: 20_000, message: () => watch.stderr });
      const kazooNode = JSON.parse(watch.stdout.split('\n')[0] ?? '') as Snapshot & { change: unknown };
      assert.equal(kazooNode.change, null);
      assert.deepEqual(
        kazooNode.contenders.map((c) => c.id),
        ['waiter-b', 'kazoo-c'],
      );
      kazoo?.close(); // its session ends: the kazoo node goes away
      kazoo = undefined;
      await waitFor(() => watch.stdout.split('\n').length >= 3, {
        timeoutMs: 15_000,
        message: () => watch.stdout,
      });
      const changed = JSON.parse(watch.stdout.split('\n')[1] ?? '') as Snapshot & {
        change: { joined: string[]; left: string[]; holderChanged: boolean };
      };
      assert.deepEqual(
        changed.contenders.map((c) => c.id),
        ['waiter-b'],
      );
      assert.equal(changed.change.holderChanged, false);
      assert.equal(changed.change.left.length, 1);
      assert.match(changed.change.left[0] ?? '', /__lock__/);
      watch.child.kill('SIGTERM');
      assert.equal((await watch.finished(10_000)).code, 0);
    } finally {
      watch.child.kill('SIGKILL');
    }
    // --duration bounds it too.
    const started = Date.now();
    const bounded = await run(['watch', path, '--duration', '1500', '--interval', '100'], env);
    assert.equal(bounded.code, 0, bounded.stderr);
    assert.ok(Date.now() - started >= 1500);
    assert.match(bounded.stdout, /held by waiter-b/);
  });
});
