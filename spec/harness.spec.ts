// Proves spec/support does what it says: real ZooKeeper servers (standalone, ensemble), the fault proxy,
// and that JVMs die with the test process.
import { describe, it, before, after } from './support/test.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FaultProxy, proxiesFor } from './support/fault-proxy.js';
import { waitFor, settleWithin } from './support/wait.js';
import { ZooKeeperCluster, zooKeeperAvailable } from './support/zookeeper.js';

// --- a minimal typed view of node-zookeeper-client (no @types installed) ---------------------------
interface ZkState {
  getName(): string;
  getCode(): number;
}
interface ZkException extends Error {
  getCode(): number;
}
interface ZkClient {
  connect(): void;
  close(): void;
  getState(): ZkState;
  getSessionId(): Buffer;
  on(event: 'connected' | 'disconnected' | 'expired', listener: () => void): void;
  create(
    path: string,
    data: Buffer,
    mode: number,
    cb: (error: ZkException | null, path: string) => void,
  ): void;
  getData(path: string, cb: (error: ZkException | null, data: Buffer) => void): void;
  exists(path: string, cb: (error: ZkException | null, stat: unknown) => void): void;
  connectionManager: { socket?: net.Socket };
}
interface ZkModule {
  createClient(
    connectString: string,
    options: { sessionTimeout: number; spinDelay: number; retries: number },
  ): ZkClient;
  State: { SYNC_CONNECTED: ZkState; DISCONNECTED: ZkState };
  CreateMode: { PERSISTENT: number; EPHEMERAL: number };
  Exception: { CONNECTION_LOSS: number; NODE_EXISTS: number };
}
const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as ZkModule;

type Outcome<T> = { error: ZkException; value?: undefined } | { error?: undefined; value: T };

/** Runs a callback-style call and resolves (never rejects) with its outcome, so a late answer can be inspected. */
function call<T>(fn: (cb: (error: ZkException | null, value: T) => void) => void): Promise<Outcome<T>> {
  return new Promise((resolve) => fn((error, value) => resolve(error ? { error } : { value })));
}
async function ok<T>(promise: Promise<Outcome<T>>): Promise<T> {
  const outcome = await promise;
  if (outcome.error) throw outcome.error;
  return outcome.value as T;
}
const create = (c: ZkClient, p: string, data = '', mode = zookeeper.CreateMode.PERSISTENT) =>
  call<string>((cb) => c.create(p, Buffer.from(data), mode, cb));
const getData = (c: ZkClient, p: string) => call<Buffer>((cb) => c.getData(p, cb));
const exists = async (c: ZkClient, p: string) => (await ok(call<unknown>((cb) => c.exists(p, cb)))) !== null;
const isConnected = (c: ZkClient) => c.getState() === zookeeper.State.SYNC_CONNECTED;

const clients = new Set<ZkClient>();
async function connect(connectString: string, sessionTimeout = 8_000): Promise<ZkClient> {
  const client = zookeeper.createClient(connectString, { sessionTimeout, spinDelay: 100, retries: 0 });
  clients.add(client);
  client.connect();
  await waitFor(() => isConnected(client), { timeoutMs: 15_000, message: `connect to ${connectString}` });
  return client;
}
async function closeClient(client: ZkClient): Promise<void> {
  if (!clients.delete(client)) return;
  client.close();
  // close() has no completion signal and can hang when the server is unreachable: bound it.
  await waitFor(() => client.getState() === zookeeper.State.DISCONNECTED, { timeoutMs: 2_000 }).catch(
    () => undefined,
  );
  client.connectionManager.socket?.destroy();
}
async function closeAllClients(): Promise<void> {
  await Promise.all([...clients].map(closeClient));
}

const available = zooKeeperAvailable();
const skip = available.ok ? false : available.reason;

describe('FaultProxy without ZooKeeper', () => {
  it('forwards, counts bytes, and survives resets and a refused upstream', async () => {
    const echo = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const proxy = await FaultProxy.start(`127.0.0.1:${echoPort}`);
    const dial = async () => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      return socket;
    };
    try {
      assert.equal(proxy.connectString, `127.0.0.1:${proxy.port}`);
      assert.equal(proxy.mode, 'pass');
      const a = await dial();
      const echoed = new Promise<string>((resolve) => a.once('data', (d: Buffer) => resolve(d.toString())));
      a.write('ping');
      assert.equal(await echoed, 'ping');
      assert.deepEqual(proxy.bytesForwarded(), { toServer: 4, toClient: 4 });
      assert.equal(proxy.connectionCount(), 1);

      a.resetAndDestroy(); // ECONNRESET towards the proxy
      await waitFor(() => proxy.connectionCount() === 0, { timeoutMs: 2_000 });

      const b = await dial();
      proxy.freeze();
      assert.equal(proxy.mode, 'freeze');
      b.write('lost');
      const c = await dial(); // accepted while frozen
      assert.equal(proxy.connectionCount(), 2);
      const closed = Promise.all([b, c].map((s) => new Promise((resolve) => s.once('close', resolve))));
      proxy.restore();
      await closed; // frozen connections are broken: restore() closes them
      assert.equal(proxy.bytesForwarded().toServer, 4);

      const refused = await FaultProxy.start({ host: '127.0.0.1', port: await closedPort() });
      const d = net.connect(refused.port, '127.0.0.1');
      d.on('error', () => undefined);
      await new Promise((resolve) => d.once('close', resolve)); // upstream refused: the client is closed
      await refused.close();
      await refused.close();
    } finally {
      await proxy.close();
      await proxy.close();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

describe('ZooKeeper harness: standalone + fault proxy', { skip }, () => {
  let cluster: ZooKeeperCluster;
  const proxies: FaultProxy[] = [];
  const startProxy = async () => {
    const proxy = await FaultProxy.start(cluster.connectString);
    proxies.push(proxy);
    return proxy;
  };

  before(async () => {
    cluster = await ZooKeeperCluster.startStandalone();
  });
  after(async () => {
    await closeAllClients();
    await Promise.all(proxies.map((p) => p.close()));
    await cluster?.close();
  });

  it('serves four-letter words and a real client create/get', async () => {
    assert.equal(cluster.members.length, 1);
    assert.match(cluster.connectString, /^127\.0\.0\.1:\d+$/);
    assert.equal(cluster.members[0]!.running, true);
    assert.match(await cluster.fourLetterWord(1, 'srvr'), /Mode: standalone/);
    assert.match(await cluster.fourLetterWord(1, 'mntr'), /zk_server_state\s+standalone/);
    assert.equal(await cluster.leaderId(), undefined);

    const client = await connect(cluster.connectString);
    assert.equal(await ok(create(client, '/hello', 'world')), '/hello');
    assert.equal((await ok(getData(client, '/hello'))).toString(), 'world');
    await closeClient(client);
  });

  it('freeze: a request gets no answer while frozen; answered after restore + reconnect', async () => {
    const proxy = await startProxy();
    const client = await connect(proxy.connectString);
    await ok(create(client, '/frozen', 'v1'));
    assert.equal(proxy.connectionCount(), 1);

    proxy.freeze();
    const before = proxy.bytesForwarded();
    const pending = getData(client, '/frozen');
    assert.equal((await settleWithin(pending, 1_000)).settled, false, 'no answer while frozen');
    assert.deepEqual(proxy.bytesForwarded(), before, 'nothing forwarded while frozen');
    assert.ok(isConnected(client), 'node-zookeeper-client does not notice a silent partition');

    proxy.restore();
    const late = await settleWithin(pending, 5_000);
    assert.ok(late.settled, 'the frozen request is answered once the broken connection is dropped');
    // It was lost in the partition: the client reports CONNECTION_LOSS for it.
    assert.equal(late.value.error?.getCode(), zookeeper.Exception.CONNECTION_LOSS);
    await waitFor(() => isConnected(client), { timeoutMs: 10_000, message: 'reconnect after restore' });
    assert.equal((await ok(getData(client, '/frozen'))).toString(), 'v1');
    await closeClient(client);
  });

  it("drop: the client sees 'disconnected', then reconnects to the same session", async () => {
    const proxy = await startProxy();
    const client = await connect(proxy.connectString);
    const sessionId = client.getSessionId().toString('hex');
    let disconnects = 0;
    let connects = 0;
    client.on('disconnected', () => disconnects++);
    client.on('connected', () => connects++);

    proxy.drop();
    await waitFor(() => disconnects > 0, { timeoutMs: 5_000, message: 'disconnected event' });
    assert.equal(proxy.connectionCount(), 0);
    // Reconnect attempts are accepted and destroyed while dropping.
    await waitFor(() => !isConnected(client), { timeoutMs: 1_000 });

    proxy.restore();
    await waitFor(() => connects > 0 && isConnected(client), { timeoutMs: 10_000, message: 'reconnect' });
    assert.equal(client.getSessionId().toString('hex'), sessionId);
    assert.equal(proxy.connectionCount(), 1);
    assert.equal((await ok(getData(client, '/hello'))).toString(), 'world');
    const bytes = proxy.bytesForwarded();
    assert.ok(bytes.toServer > 0 && bytes.toClient > 0);
    await closeClient(client);
  });

  it('blackhole: a create is applied on the server while its answer is lost', async () => {
    const proxy = await startProxy();
    const proxied = await connect(proxy.connectString);
    const direct = await connect(cluster.connectString);

    proxy.blackhole();
    const pending = create(proxied, '/blackholed', 'x');
    await waitFor(() => exists(direct, '/blackholed'), {
      timeoutMs: 5_000,
      message: 'create applied on the server',
    });
    // The server has applied it, so its answer is already on the wire: lost, not late.
    assert.equal((await settleWithin(pending, 500)).settled, false, 'no answer through the blackhole');

    proxy.restore();
    const late = await settleWithin(pending, 5_000);
    assert.ok(late.settled);
    assert.equal(late.value.error?.getCode(), zookeeper.Exception.CONNECTION_LOSS);
    await waitFor(() => isConnected(proxied), { timeoutMs: 10_000, message: 'reconnect after restore' });
    assert.equal(await exists(proxied, '/blackholed'), true);
    await Promise.all([closeClient(proxied), closeClient(direct)]);
  });

  it('restart keeps data, and a session survives a restart shorter than its timeout', async () => {
    const client = await connect(cluster.connectString, 10_000);
    const sessionId = client.getSessionId().toString('hex');
    await ok(create(client, '/ephemeral', '', zookeeper.CreateMode.EPHEMERAL));
    let disconnects = 0;
    client.on('disconnected', () => disconnects++);

    await cluster.restart();
    assert.match(await cluster.fourLetterWord(1, 'srvr'), /Mode: standalone/);
    await waitFor(() => disconnects > 0 && isConnected(client), {
      timeoutMs: 10_000,
      message: 'reconnect after restart',
    });
    assert.equal(client.getSessionId().toString('hex'), sessionId);
    assert.equal(await exists(client, '/ephemeral'), true);
    assert.equal((await ok(getData(client, '/hello'))).toString(), 'world');
    await closeClient(client);
  });

  it('external mode (ZOOKEEPER_CONNECT_STRING): starts nothing, fault methods throw', async () => {
    const saved = process.env.ZOOKEEPER_CONNECT_STRING;
    process.env.ZOOKEEPER_CONNECT_STRING = cluster.connectString;
    try {
      const external = await ZooKeeperCluster.startEnsemble(3);
      assert.equal(external.external, true);
      assert.equal(external.connectString, cluster.connectString);
      assert.equal(external.members.length, 1);
      assert.match(await external.fourLetterWord(1, 'srvr'), /Mode: standalone/);
      await assert.rejects(external.stop(1), /external/);
      await assert.rejects(external.start(1), /external/);
      await assert.rejects(external.restart(), /external/);
      await external.close();
      await external.close();
      assert.match(await cluster.fourLetterWord(1, 'ruok'), /imok/); // the real server is untouched
    } finally {
      if (saved === undefined) delete process.env.ZOOKEEPER_CONNECT_STRING;
      else process.env.ZOOKEEPER_CONNECT_STRING = saved;
    }
  });
});

describe('ZooKeeper harness: ensemble of 3', { skip }, () => {
  let cluster: ZooKeeperCluster;
  before(async () => {
    cluster = await ZooKeeperCluster.startEnsemble(3);
  });
  after(async () => {
    await closeAllClients();
    await cluster?.close();
  });

  /** Creates a node through a possibly reconnecting client; a retried create that already landed is fine. */
  async function createEventually(client: ZkClient, p: string, data: string): Promise<void> {
    await waitFor(
      async () => {
        const outcome = await create(client, p, data);
        if (outcome.error && outcome.error.getCode() !== zookeeper.Exception.NODE_EXISTS) throw outcome.error;
        return true;
      },
      { timeoutMs: 15_000, message: `create ${p}` },
    );
  }

  it('loses its leader, elects a new one and serves; the old leader rejoins as follower', async () => {
    assert.equal(cluster.members.length, 3);
    assert.equal(cluster.connectString.split(',').length, 3);
    const modes = await Promise.all(cluster.members.map((m) => cluster.fourLetterWord(m.id, 'srvr')));
    assert.deepEqual(modes.map((s) => /Mode: (\w+)/.exec(s)?.[1]).sort(), ['follower', 'follower', 'leader']);
    const oldLeader = await cluster.leaderId();
    assert.ok(oldLeader !== undefined);

    const survivors = cluster.members.filter((m) => m.id !== oldLeader);
    const client = await connect(survivors.map((m) => m.connectString).join(','));
    await createEventually(client, '/before-failover', 'a');

    await cluster.stop(oldLeader);
    assert.equal(cluster.members.find((m) => m.id === oldLeader)!.running, false);
    const newLeader = await waitFor(
      async () => {
        const id = await cluster.leaderId();
        return id !== undefined && id !== oldLeader ? id : undefined;
      },
      { timeoutMs: 20_000, message: 'new leader elected' },
    );
    assert.ok(survivors.some((m) => m.id === newLeader));
    await createEventually(client, '/after-failover', 'b');
    assert.equal((await ok(getData(client, '/before-failover'))).toString(), 'a');

    await cluster.start(oldLeader);
    assert.equal(cluster.members.find((m) => m.id === oldLeader)!.running, true);
    assert.match(await cluster.fourLetterWord(oldLeader, 'srvr'), /Mode: follower/);
    assert.equal(await cluster.leaderId(), newLeader);
    const rejoined = await connect(cluster.members.find((m) => m.id === oldLeader)!.connectString);
    assert.equal((await ok(getData(rejoined, '/after-failover'))).toString(), 'b');
  });

  it('works through one proxy per member', async () => {
    const group = await proxiesFor([cluster.connectString]);
    try {
      assert.equal(group.proxies.length, 3);
      const client = await connect(group.connectString);
      assert.equal((await ok(getData(client, '/before-failover'))).toString(), 'a');
      assert.equal(
        group.proxies.reduce((n, p) => n + p.connectionCount(), 0),
        1,
      );
      await closeClient(client);
    } finally {
      await group.close();
    }
  });
});

describe('ZooKeeper harness: JVMs die with the test process', { skip }, () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'zk-harness-spec-'));
  const children = new Set<ChildProcess>();
  after(() => {
    for (const child of children) child.kill('SIGKILL'); // only if a test failed half-way
    rmSync(scratch, { recursive: true, force: true });
  });

  function jvmAlive(clusterDir: string): boolean {
    for (const pid of readProcPids()) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmdline.includes('QuorumPeerMain') && cmdline.includes(clusterDir)) return true;
      } catch {
        // gone
      }
    }
    return false;
  }

  async function runChild(how: 'throw' | 'sigkill'): Promise<void> {
    const script = path.join(scratch, `child-${how}.mts`);
    writeFileSync(
      script,
      `import { ZooKeeperCluster } from ${JSON.stringify(path.join(repoRoot, 'spec/support/zookeeper.ts'))};
       const cluster = await ZooKeeperCluster.startStandalone();
       console.log(cluster.logFile(1));
       process.stdin.once('data', () => { throw new Error('boom'); });`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const logFile = await waitFor(() => stdout.split('\n')[0]?.trim() || undefined, {
      timeoutMs: 30_000,
      message: () => `child did not start a cluster: ${stderr}`,
    });
    const clusterDir = path.dirname(path.dirname(logFile));
    assert.equal(jvmAlive(clusterDir), true, 'JVM runs while the child runs');
    if (how === 'sigkill') child.kill('SIGKILL');
    else child.stdin.write('go\n');
    const code = await exited;
    if (how === 'throw') {
      assert.equal(code, 1);
      assert.match(stderr, /boom/);
    }
    await waitFor(() => !jvmAlive(clusterDir), {
      timeoutMs: 10_000,
      message: `JVM of ${clusterDir} still alive (${how})`,
    });
    if (how === 'throw') assert.equal(existsSync(clusterDir), false, 'exit handler removed the data dir');
    rmSync(clusterDir, { recursive: true, force: true }); // SIGKILL leaves the dir behind
  }

  it('on an uncaught exception (exit handler) and on SIGKILL (reaper)', async () => {
    await Promise.all([runChild('throw'), runChild('sigkill')]);
  });
});

function readProcPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
