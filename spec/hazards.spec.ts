// node-zookeeper-client hazards (DESIGN.md) the SDK guards against, each against a real server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { after, before, describe, it } from './support/test.js';
import { ZkLeaderSelectorError, ZooKeeperError, type Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { native } from '../lib/zk/native.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('node-zookeeper-client hazards', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let coordinator: Coordinator;

  before(async () => {
    // enforceQuota: the server answers QUOTA_EXCEEDED (-125), a code the client does not list.
    zk = await ZooKeeperCluster.startStandalone({ extraConfig: { enforceQuota: 'true' } });
    coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 5000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('an error code the client does not know (QUOTA_EXCEEDED) is a typed error, not a process crash', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    // The lock path exists before the quota is set: the server checks quotas when it prepares a
    // request, against the nodes it has applied, so a create of the path pipelined with the lock
    // node's create (a removed lock path) could let the lock node slip past the limit.
    await coordinator.ensurePath('/quota/lock');
    // A hard limit of 2 nodes under /quota (itself and /quota/lock): our lock node exceeds it.
    // Asynchronously: a spawnSync would block the event loop for the JVM's start, on a loaded
    // machine longer than S/2, and the watchdog would then suspend the session under the test.
    const setquota = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        'java',
        [
          '-cp',
          '/usr/share/java/zookeeper.jar',
          'org.apache.zookeeper.ZooKeeperMain',
          '-server',
          zk.connectString,
        ],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stderr });
      });
      child.stdin.end('setquota -N 2 /quota\nquit\n');
    });
    assert.equal(setquota.status, 0, setquota.stderr);
    const lock = coordinator.createLock('/quota/lock');
    await assert.rejects(lock.acquire(1000), (error: unknown) => {
      assert.ok(error instanceof ZooKeeperError, String(error));
      assert.equal(error.code, 'ZOOKEEPER_ERROR');
      assert.equal(error.zkCode, -125);
      assert.equal(error.zkName, 'QUOTA_EXCEEDED');
      return true;
    });
    // The process and the session are fine.
    assert.equal(coordinator.state, 'connected');
    const other = coordinator.createLock('/not-limited/lock');
    assert.equal(await other.acquire(1000), true);
    await other.release();
  });

  it('a reply cut off by a dropped connection is not glued to the next connection: the same session answers again', async () => {
    // node-zookeeper-client keeps the unparsed part of a reply across sockets; the SDK frames
    // each socket's bytes itself (lib/zk/reply-framing.ts).
    const session = coordinator.session!;
    const big = `/hazards-big-${process.pid}`;
    await session.create(
      big,
      Buffer.alloc(900 * 1024, 1),
      native.ACL.OPEN_ACL_UNSAFE,
      native.CreateMode.PERSISTENT,
      {
        timeoutMs: 10_000,
      },
    );
    const sessionId = coordinator.sessionId;
    const socket = session.client.connectionManager.socket as unknown as Socket;
    let cut = false;
    // The first chunk of the big reply is in: drop the socket in the middle of it.
    const onData = (chunk: Buffer): void => {
      if (chunk.length > 0 && !cut) {
        cut = true;
        session.dropConnection();
      }
    };
    const reading = session.getData(big, { timeoutMs: 10_000 }).catch((error: unknown) => error);
    socket.on('data', onData);
    await waitFor(() => cut);
    socket.off('data', onData);
    assert.ok(await reading, 'the cut request fails (connection loss)');
    await waitFor(() => coordinator.state === 'connected', {
      timeoutMs: 4000,
      message: 'never connected again',
    });
    assert.equal(coordinator.sessionId, sessionId, 'the same session');
    const { data } = await coordinator.session!.getData(big, { timeoutMs: 10_000 });
    assert.equal(data.length, 900 * 1024);
    await coordinator.session!.remove(big, -1, { timeoutMs: 10_000 });
  });

  it('invalid data for the client (a synchronous AssertionError) becomes a typed error', async () => {
    const session = coordinator.session;
    assert.ok(session);
    await assert.rejects(
      session.getData('no-leading-slash', { timeoutMs: 1000 }),
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.code === 'INVALID_ARGUMENT',
    );
  });

  it('close() while the server cannot be reached resolves promptly and the process exits by itself', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'spec/fixtures/close-while-unreachable.ts', proxy.connectString],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('ready'), { timeoutMs: 15_000, message: () => output });
      proxy.freeze();
      child.stdin.write('go\n');
      child.stdin.end();
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000)),
      ]);
      assert.equal(code, 0, `the child did not exit by itself: ${output}`);
      const match = /closed after (\d+) ms/.exec(output);
      assert.ok(match, output);
      assert.ok(Number(match[1]) <= 2000, `close() took ${match[1]} ms`);
    } finally {
      child.kill('SIGKILL');
      await proxy.close();
    }
  });
});
