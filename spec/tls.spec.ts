// TLS to ZooKeeper's secureClientPort with client certificates and x509 ACLs (issue 15), against a
// real server started with per-run certificates (spec/support/tls-certs.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from './support/test.js';
import {
  Coordinator,
  ZkLeaderSelectorError,
  type CoordinatorOptions,
  type TlsOptions,
} from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { killAllScripts, ScriptProcess } from './support/processes.js';
import { makeTestCertificates, type TestCertificates } from './support/tls-certs.js';
import { tlsSpecSkipReason } from './support/tls-skip.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const skip = tlsSpecSkipReason();

let counter = 0;
const uniquePath = (name: string): string => `/tls-spec/${name}-${process.pid}-${(counter += 1)}`;

const hasCode =
  (code: string) =>
  (error: unknown): boolean => {
    assert.ok(error instanceof ZkLeaderSelectorError, `expected a typed error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };

describe('TLS to ZooKeeper', { skip }, () => {
  let dir: string;
  let certs: TestCertificates;
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let tlsAs: (client: 'svc1' | 'svc2') => TlsOptions;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zk-tls-spec-'));
    certs = makeTestCertificates(dir);
    zk = await ZooKeeperCluster.startStandalone({ tls: certs });
    tlsAs = (client) => ({ ca: certs.ca, cert: certs.clients[client].cert, key: certs.clients[client].key });
  });
  after(async () => {
    killAllScripts();
    await pool.closeAll();
    await zk?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('connects, locks and leads over TLS with a client certificate', async () => {
    const a = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 4000,
      tls: tlsAs('svc1'),
    });
    const b = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 4000,
      tls: tlsAs('svc2'),
    });
    const path = uniquePath('lock');
    const lock = a.createLock(path);
    assert.equal(await lock.acquire(2000), true);
    assert.equal(await b.createLock(path).acquire(0), false, 'the other client sees it held');
    assert.equal(await lock.isOwned(2000), true);
    await lock.release();
    let terms = 0;
    const selector = b.createLeaderSelector(uniquePath('leader'), {
      leader: async (control) => {
        terms += 1;
        await control.waitUntilShouldStop(60_000);
      },
    });
    selector.start();
    await waitFor(() => terms === 1 && selector.isLeader());
    await selector.stop();
  });

  it('an x509 ACL on the lock path: a client with another certificate cannot delete its node', async () => {
    const owner = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 4000,
      tls: tlsAs('svc1'),
    });
    const other = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 4000,
      tls: tlsAs('svc2'),
    });
    const path = uniquePath('x509');
    const lock = owner.createLock(path, {
      acl: [{ scheme: 'x509', id: certs.clients.svc1.subject, permissions: 'all' }],
    });
    assert.equal(await lock.acquire(2000), true);
    const [node] = await owner.session!.getChildren(path, { timeoutMs: 2000 });
    assert.ok(node);
    await assert.rejects(
      other.session!.remove(`${path}/${node}`, -1, { timeoutMs: 2000 }),
      (error: unknown) => {
        assert.ok(error instanceof ZkLeaderSelectorError, String(error));
        assert.match(error.message, /NO_AUTH|not authenticated|auth/i);
        return true;
      },
    );
    assert.equal(lock.considerAsOwned(), true);
    await lock.release();
  });

  it('fails with a typed error within the connect timeout: wrong CA, untrusted client certificate, wrong servername, plain client on the TLS port, TLS on the plain port', async () => {
    const cases: [string, CoordinatorOptions, string][] = [
      [
        'wrong CA',
        { connectString: zk.secureConnectString, tls: { ...tlsAs('svc1'), ca: certs.rogueCa } },
        'TLS_ERROR',
      ],
      [
        'client certificate from an untrusted CA',
        {
          connectString: zk.secureConnectString,
          tls: { ca: certs.ca, cert: certs.rogueClient.cert, key: certs.rogueClient.key },
        },
        'TLS_ERROR',
      ],
      [
        'servername not in the certificate',
        { connectString: zk.secureConnectString, tls: { ...tlsAs('svc1'), servername: 'zk.example.org' } },
        'TLS_ERROR',
      ],
      ['plain client on the TLS port', { connectString: zk.secureConnectString }, 'CONNECT_TIMEOUT'],
      ['TLS on the plain port', { connectString: zk.connectString, tls: tlsAs('svc1') }, 'TLS_ERROR'],
    ];
    for (const [name, options, code] of cases) {
      const coordinator = pool.create({ ...options, sessionTimeoutMs: 4000, connectTimeoutMs: 3000 });
      const startedAt = performance.now();
      await assert.rejects(coordinator.start(), hasCode(code), name);
      const took = performance.now() - startedAt;
      assert.ok(took <= 3000 + 500, `${name}: rejected after ${took} ms`);
      await coordinator.close();
    }
  });

  it('fromEnv() reads ZOOKEEPER_TLS and the PEM files, and names a bad variable', async () => {
    const env = {
      ZOOKEEPER_CONNECT_STRING: zk.secureConnectString,
      ZOOKEEPER_SESSION_TIMEOUT_MS: '4000',
      ZOOKEEPER_TLS: 'true',
      ZOOKEEPER_TLS_CA_FILE: certs.caFile,
      ZOOKEEPER_TLS_CERT_FILE: certs.clients.svc1.certFile,
      ZOOKEEPER_TLS_KEY_FILE: certs.clients.svc1.keyFile,
    };
    const coordinator = Coordinator.fromEnv(env);
    try {
      await coordinator.start();
      assert.equal(coordinator.state, 'connected');
    } finally {
      await coordinator.close();
    }
    assert.throws(
      () => Coordinator.fromEnv({ ...env, ZOOKEEPER_TLS_CA_FILE: join(dir, 'missing.pem') }),
      (error: unknown) =>
        hasCode('INVALID_OPTION')(error) && /ZOOKEEPER_TLS_CA_FILE/.test((error as Error).message),
    );
    assert.throws(
      () => Coordinator.fromEnv({ ...env, ZOOKEEPER_TLS: 'maybe' }),
      (error: unknown) => hasCode('INVALID_OPTION')(error) && /ZOOKEEPER_TLS/.test((error as Error).message),
    );
    assert.throws(
      () => Coordinator.fromEnv({ ...env, ZOOKEEPER_TLS: 'false' }),
      (error: unknown) =>
        hasCode('INVALID_OPTION')(error) && /ZOOKEEPER_TLS=true/.test((error as Error).message),
    );
    assert.throws(
      () =>
        new Coordinator({ connectString: zk.secureConnectString, tls: { cert: certs.clients.svc1.cert } }),
      hasCode('INVALID_OPTION'),
    );
  });

  it('examples/lock.ts runs over TLS with the ZOOKEEPER_TLS variables the README gives', async () => {
    const run = new ScriptProcess('examples/lock.ts', ['--path', uniquePath('example')], {
      ...process.env,
      ZOOKEEPER_CONNECT_STRING: zk.secureConnectString,
      ZOOKEEPER_TLS: 'true',
      ZOOKEEPER_TLS_CA_FILE: certs.caFile,
      ZOOKEEPER_TLS_CERT_FILE: certs.clients.svc1.certFile,
      ZOOKEEPER_TLS_KEY_FILE: certs.clients.svc1.keyFile,
    });
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(stdout, /done: 4 reports written, 0 overlapping critical sections/);
  });

  it('a silent freeze over TLS: the leader stops before the rival starts, as in plain text', async () => {
    const S = 3000;
    const proxy = await FaultProxy.start(zk.members[0]!.secureConnectString);
    try {
      const frozen = await pool.start({
        connectString: proxy.connectString,
        sessionTimeoutMs: S,
        tls: tlsAs('svc1'),
      });
      const rival = await pool.start({
        connectString: zk.secureConnectString,
        sessionTimeoutMs: S,
        tls: tlsAs('svc2'),
      });
      const path = uniquePath('freeze');
      let abortedAt = 0;
      let rivalAt = 0;
      const first = frozen.createLeaderSelector(path, {
        tickMs: 500,
        leader: async (control) => {
          control.signal.addEventListener('abort', () => (abortedAt = Date.now()), { once: true });
          await control.waitUntilShouldStop(60_000);
        },
      });
      first.start();
      await waitFor(() => first.isLeader());
      const second = rival.createLeaderSelector(path, {
        tickMs: 500,
        leader: async (control) => {
          rivalAt ||= Date.now();
          await control.waitUntilShouldStop(60_000);
        },
      });
      second.start();
      await waitFor(async () => (await second.lock.contenders()).length === 2);
      const frozenAt = Date.now();
      proxy.freeze();
      await waitFor(() => rivalAt > 0, { timeoutMs: 4 * S, message: 'the rival never led' });
      assert.ok(abortedAt > 0 && abortedAt < rivalAt, `aborted ${abortedAt}, rival ${rivalAt}`);
      process.stdout.write(
        `# TLS freeze: signal ${abortedAt - frozenAt} ms after the freeze, rival ${rivalAt - frozenAt} ms\n`,
      );
      proxy.restore();
      await Promise.all([first.stop(), second.stop()]);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });
});

describe('TLS on an ensemble', { skip }, () => {
  let dir: string;
  let zk: ZooKeeperCluster;
  let certs: TestCertificates;
  const pool = new CoordinatorPool();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zk-tls-ensemble-'));
    certs = makeTestCertificates(dir);
    zk = await ZooKeeperCluster.startEnsemble(3, { tls: certs });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the member we are connected to stops: the session resumes on another member, over TLS', async () => {
    const tls = { ca: certs.ca, cert: certs.clients.svc1.cert, key: certs.clients.svc1.key };
    const coordinator = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 6000,
      tls,
    });
    const lock = coordinator.createLock(uniquePath('ensemble'));
    assert.equal(await lock.acquire(2000), true);
    const sessionId = coordinator.sessionId;
    const socket = coordinator.session!.client.connectionManager.socket as unknown as {
      remotePort: number;
      encrypted?: boolean;
    };
    assert.equal(socket.encrypted, true, 'a TLS socket');
    const member = zk.members.find((m) => m.securePort === socket.remotePort);
    assert.ok(member, `connected to port ${socket.remotePort}`);
    await zk.stop(member.id);
    await waitFor(
      () => {
        const now = coordinator.session?.client.connectionManager.socket as unknown as
          { remotePort?: number; encrypted?: boolean } | undefined;
        return (
          coordinator.state === 'connected' && now?.encrypted === true && now.remotePort !== member.securePort
        );
      },
      { timeoutMs: 6000, message: 'no reconnect to another member' },
    );
    assert.equal(coordinator.sessionId, sessionId, 'the same session');
    assert.equal(await lock.isOwned(3000), true);
    await lock.release();
    await zk.start(member.id);
  });
});
