import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from './support/test.js';
import { Coordinator, ZkLeaderSelectorError } from '../lib/index.js';
import { CoordinatorPool, nextEvent, recordEvents } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('Coordinator on a standalone server', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('connects, reports session id and negotiated timeout, and closes idempotently', async () => {
    const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
    assert.equal(coordinator.state, 'connected');
    assert.match(coordinator.sessionId ?? '', /^[0-9a-f]{16}$/);
    assert.equal(coordinator.sessionTimeoutMs, 4000);
    assert.ok(coordinator.ownershipDeadline() > Date.now(), 'a fresh session has a lease in the future');
    assert.ok(
      coordinator.ownershipDeadline() <= Date.now() + 4000 - 500,
      'lease is at most S - margin ahead',
    );
    await coordinator.close();
    await coordinator.close();
    assert.equal(coordinator.state, 'closed');
    assert.equal(coordinator.ownershipDeadline(), 0);
  });

  it('heartbeats keep the lease moving while idle', async () => {
    const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 3000 });
    const first = coordinator.ownershipDeadline();
    // Idle: only the heartbeat (every S/6 = 500 ms) can move the deadline forward.
    await waitFor(() => coordinator.ownershipDeadline() > first + 400, {
      timeoutMs: 3000,
      message: 'lease never renewed',
    });
    await coordinator.close();
  });

  it('close() lets the process exit with nothing left running', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'spec/fixtures/exit-after-close.ts', zk.connectString],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    assert.equal(exitCode, 0, `the child did not exit by itself after close(): ${output}`);
    assert.match(output, /closed/);
  });

  it('server stopped then started within S: suspended, then reconnected with the same session id', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper: cannot restart it');
    const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 20_000 });
    const sessionId = coordinator.sessionId;
    const events = recordEvents(coordinator, ['suspended', 'reconnected', 'lost', 'connected']);
    await zk.stop(1);
    await waitFor(() => coordinator.state === 'suspended', { timeoutMs: 15_000, message: 'not suspended' });
    await zk.start(1);
    await waitFor(() => coordinator.state === 'connected', { timeoutMs: 20_000, message: 'not reconnected' });
    assert.deepEqual(events.log, ['suspended', 'reconnected']);
    assert.equal(coordinator.sessionId, sessionId);
    await coordinator.close();
  });

  it('session expiry: lost, then a new session with a new id', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const coordinator = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: 2000 });
      const oldId = coordinator.sessionId;
      const lost = nextEvent<{ sessionId: string; reason: string }>(coordinator, 'lost');
      proxy.freeze();
      const info = await lost;
      assert.equal(info.sessionId, oldId);
      const connected = nextEvent<{ sessionId: string }>(coordinator, 'connected');
      proxy.restore();
      const fresh = await connected;
      assert.notEqual(fresh.sessionId, oldId);
      assert.equal(coordinator.sessionId, fresh.sessionId);
      assert.equal(coordinator.state, 'connected');
      await coordinator.close();
    } finally {
      await proxy.close();
    }
  });

  it('silent freeze: suspended and the lease ends before another client sees our ephemeral node deleted', async () => {
    const S = 3000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const frozen = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: S });
      const observer = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
      const lock = frozen.createLock('/freeze/lock', { id: 'frozen' });
      assert.equal(await lock.acquire(5000), true);
      const rival = observer.createLock('/freeze/lock', { id: 'observer' });
      let suspendedAt = 0;
      let ownedWhenSuspended = true;
      frozen.on('suspended', () => {
        suspendedAt = Date.now();
      });
      let deadlineAtFreeze = 0;
      let lockOwnedAtObservation = true;
      let deadlineAtObservation = 0;
      const rivalAcquired = rival.acquire(30_000).then((acquired) => {
        // The instant the second client sees the node deleted (it takes the lock at once).
        lockOwnedAtObservation = lock.considerAsOwned();
        deadlineAtObservation = lock.ownershipDeadline();
        return { acquired, at: Date.now() };
      });
      await waitFor(async () => (await lock.contenders()).length === 2, {
        timeoutMs: 5000,
        message: 'rival not queued',
      });
      const freezeAt = Date.now();
      deadlineAtFreeze = lock.ownershipDeadline();
      proxy.freeze();
      await waitFor(() => suspendedAt > 0, { timeoutMs: S, message: 'no suspended event within S' });
      ownedWhenSuspended = lock.considerAsOwned();
      const observed = await rivalAcquired;
      assert.equal(observed.acquired, true);
      // Order: freeze < suspended < our deadline < the server deleted our node.
      assert.ok(
        suspendedAt < deadlineAtFreeze,
        `suspended (${suspendedAt}) after the lease end (${deadlineAtFreeze})`,
      );
      assert.ok(
        deadlineAtFreeze < observed.at,
        `lease (${deadlineAtFreeze}) still ran when the node was deleted (${observed.at})`,
      );
      assert.equal(lockOwnedAtObservation, false);
      assert.equal(deadlineAtObservation, 0);
      const detection = (suspendedAt - freezeAt) / S;
      process.stdout.write(
        `# freeze: suspended after ${suspendedAt - freezeAt} ms (${detection.toFixed(2)} S), lease ended ${deadlineAtFreeze - freezeAt} ms, ` +
          `node deleted after ${observed.at - freezeAt} ms; owned while suspended: ${ownedWhenSuspended}\n`,
      );
      assert.ok(detection < 1, 'suspension detected within S');
      await rival.release();
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it('start() rejects with CONNECT_TIMEOUT when no server answers', async () => {
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    proxy.freeze();
    try {
      const coordinator = pool.create({ connectString: proxy.connectString, connectTimeoutMs: 500 });
      await assert.rejects(coordinator.start(), (error: unknown) => {
        assert.ok(error instanceof ZkLeaderSelectorError);
        assert.equal(error.code, 'CONNECT_TIMEOUT');
        return true;
      });
      assert.equal(coordinator.state, 'connecting', 'it keeps trying in the background');
    } finally {
      await proxy.close();
    }
  });
});

describe('Coordinator on a 3-member ensemble', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();

  before(async () => {
    zk = await ZooKeeperCluster.startEnsemble(3);
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('the member we are connected to stops: the session moves to another member (same id)', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const coordinator = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
    const sessionId = coordinator.sessionId ?? '';
    let connectedMember: number | undefined;
    for (const member of zk.members) {
      const cons = await zk.fourLetterWord(member.id, 'cons');
      if (cons.includes(`sid=0x${sessionId.replace(/^0+/, '')}`)) connectedMember = member.id;
    }
    assert.ok(connectedMember !== undefined, 'found the member serving our session');
    const events = recordEvents(coordinator, ['suspended', 'reconnected', 'lost']);
    await zk.stop(connectedMember);
    await waitFor(() => events.log.includes('reconnected'), {
      timeoutMs: 15_000,
      message: 'never reconnected',
    });
    assert.deepEqual(events.log, ['suspended', 'reconnected']);
    assert.equal(coordinator.sessionId, sessionId);
    await zk.start(connectedMember);
  });

  it('a frozen link to one member: the watchdog drops it and the session resumes on another member', async () => {
    const proxies = await Promise.all(zk.members.map((m) => FaultProxy.start(m.connectString)));
    try {
      const coordinator = await pool.start({
        connectString: proxies.map((p) => p.connectString).join(','),
        sessionTimeoutMs: 6000,
      });
      const sessionId = coordinator.sessionId;
      const used = proxies.find((p) => p.connectionCount() > 0);
      assert.ok(used, 'one proxy carries the connection');
      const events = recordEvents(coordinator, ['suspended', 'reconnected', 'lost']);
      used.freeze();
      await waitFor(() => events.log.includes('reconnected'), {
        timeoutMs: 15_000,
        message: 'never reconnected',
      });
      assert.deepEqual(events.log, ['suspended', 'reconnected']);
      assert.equal(coordinator.sessionId, sessionId);
      await coordinator.close();
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});

describe('Coordinator options', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing connectString', {}, 'INVALID_OPTION'],
    ['empty connectString', { connectString: '' }, 'INVALID_OPTION'],
    ['bad host:port', { connectString: '127.0.0.1:99999' }, 'INVALID_OPTION'],
    ['garbage connectString', { connectString: 'a b c' }, 'INVALID_OPTION'],
    ['chroot with trailing slash', { connectString: '127.0.0.1:2181/app/' }, 'INVALID_OPTION'],
    [
      'sessionTimeoutMs too small',
      { connectString: '127.0.0.1:2181', sessionTimeoutMs: 10 },
      'INVALID_OPTION',
    ],
    [
      'sessionTimeoutMs not a number',
      { connectString: '127.0.0.1:2181', sessionTimeoutMs: '5s' },
      'INVALID_OPTION',
    ],
    [
      'connectTimeoutMs negative',
      { connectString: '127.0.0.1:2181', connectTimeoutMs: -1 },
      'INVALID_OPTION',
    ],
    [
      'margin not below S',
      { connectString: '127.0.0.1:2181', sessionTimeoutMs: 5000, leaseMarginMs: 5000 },
      'INVALID_OPTION',
    ],
    ['auth not an array', { connectString: '127.0.0.1:2181', auth: 'user:pw' }, 'INVALID_OPTION'],
  ];
  for (const [name, options, code] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      assert.throws(
        () => new Coordinator(options as never),
        (error: unknown) =>
          error instanceof ZkLeaderSelectorError &&
          error.code === code &&
          /Invalid option/.test(error.message),
      );
    });
  }

  it('accepts chroot and multi-host connect strings', () => {
    assert.doesNotThrow(() => new Coordinator({ connectString: 'zk1:2181,zk2:2182,[::1]:2183/app/locks' }));
  });

  it('fromEnv reads the variables and names the bad one', () => {
    const coordinator = Coordinator.fromEnv({
      ZOOKEEPER_CONNECT_STRING: '127.0.0.1:2999',
      ZOOKEEPER_SESSION_TIMEOUT_MS: '7000',
    });
    assert.equal(coordinator.connectString, '127.0.0.1:2999');
    assert.equal(coordinator.sessionTimeoutMs, 7000);
    assert.throws(
      () => Coordinator.fromEnv({ ZOOKEEPER_SESSION_TIMEOUT_MS: 'soon' }),
      (error: unknown) =>
        error instanceof ZkLeaderSelectorError && error.message.includes('ZOOKEEPER_SESSION_TIMEOUT_MS'),
    );
    assert.throws(
      () => Coordinator.fromEnv({ ZOOKEEPER_DISABLED: 'maybe' }),
      (error: unknown) =>
        error instanceof ZkLeaderSelectorError && error.message.includes('ZOOKEEPER_DISABLED'),
    );
  });

  it('disabled mode: no connection, and asking for a lock names the variable', async () => {
    const coordinator = Coordinator.fromEnv({ ZOOKEEPER_DISABLED: 'true' });
    await coordinator.start();
    assert.equal(coordinator.state, 'disabled');
    assert.throws(
      () => coordinator.createLock('/x'),
      (error: unknown) =>
        error instanceof ZkLeaderSelectorError &&
        error.code === 'ZOOKEEPER_DISABLED' &&
        error.message.includes('ZOOKEEPER_DISABLED'),
    );
    await coordinator.close();
  });

  it('using a coordinator before start() fails with NOT_STARTED', async () => {
    const coordinator = new Coordinator({ connectString: '127.0.0.1:1' });
    const lock = coordinator.createLock('/never');
    await assert.rejects(
      lock.acquire(0),
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.code === 'NOT_STARTED',
    );
  });
});
