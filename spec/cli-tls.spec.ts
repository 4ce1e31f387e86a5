// The zk-leader-selector CLI over TLS (issue 15: "The CLI takes the same flags and variables"): a
// standalone ZooKeeper serving TLS with client certificates required (spec/support/tls-certs.ts),
// `inspect` run as a child process with --tls-* flags, with the ZOOKEEPER_TLS* variables, and
// the usage errors of a file that cannot be read or a certificate without its key.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator, LockHandle } from '../lib/index.js';
import type { Snapshot } from '../lib/cli/snapshot.js';
import { tlsOptions } from '../lib/cli/args.js';
import { CoordinatorPool } from './support/coordinators.js';
import { killAllScripts, ScriptProcess, type Finished } from './support/processes.js';
import { makeTestCertificates, type TestCertificates } from './support/tls-certs.js';
import { tlsSpecSkipReason } from './support/tls-skip.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const skip = tlsSpecSkipReason();

const run = (args: string[], env: NodeJS.ProcessEnv): Promise<Finished> =>
  new ScriptProcess('lib/cli/main.ts', args, env).finished();

/** The environment without any ZooKeeper variable of the machine running the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('ZOOKEEPER_')) delete env[name];
  return env;
}

describe('zk-leader-selector CLI over TLS', { skip }, () => {
  let dir: string;
  let certs: TestCertificates;
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let holder: Coordinator;
  let held: LockHandle;
  const path = `/cli-tls-spec/report-${process.pid}`;
  let flags: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zk-cli-tls-spec-'));
    certs = makeTestCertificates(dir);
    zk = await ZooKeeperCluster.startStandalone({ tls: certs });
    const svc1 = certs.clients.svc1;
    holder = await pool.start({
      connectString: zk.secureConnectString,
      sessionTimeoutMs: 10_000,
      tls: { ca: certs.ca, cert: svc1.cert, key: svc1.key },
    });
    held = await holder.createLock(path, { id: 'tls-holder' }).hold(10_000);
    flags = ['--tls-ca', certs.caFile, '--tls-cert', svc1.certFile, '--tls-key', svc1.keyFile];
  });

  after(async () => {
    killAllScripts();
    await held?.release().catch(() => undefined);
    await pool.closeAll();
    await zk?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('inspect over TLS with --tls-ca, --tls-cert and --tls-key', async () => {
    const { code, stdout, stderr } = await run(
      ['inspect', path, '--json', '--connect', zk.secureConnectString, '--tls', ...flags],
      cleanEnv(),
    );
    assert.equal(code, 0, stderr);
    const snapshot = JSON.parse(stdout) as Snapshot;
    assert.equal(snapshot.connectString, zk.secureConnectString);
    assert.deepEqual(
      snapshot.contenders.map((c) => [c.id, c.holder]),
      [['tls-holder', true]],
    );
    assert.equal(snapshot.holder?.sessionId, holder.sessionId);
  });

  it('inspect over TLS from ZOOKEEPER_TLS and the ZOOKEEPER_TLS_*_FILE variables', async () => {
    const svc1 = certs.clients.svc1;
    const env = {
      ...cleanEnv(),
      ZOOKEEPER_CONNECT_STRING: zk.secureConnectString,
      ZOOKEEPER_TLS: 'true',
      ZOOKEEPER_TLS_CA_FILE: certs.caFile,
      ZOOKEEPER_TLS_CERT_FILE: svc1.certFile,
      ZOOKEEPER_TLS_KEY_FILE: svc1.keyFile,
    };
    const { code, stdout, stderr } = await run(['inspect', path], env);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^${path} on ${zk.secureConnectString}: held by tls-holder`));

    // A flag wins over its variable: a CA file that does not exist in the variable, the real one in the flag.
    const overridden = await run(['inspect', path, '--tls-ca', certs.caFile], {
      ...env,
      ZOOKEEPER_TLS_CA_FILE: join(dir, 'missing-ca.pem'),
    });
    assert.equal(overridden.code, 0, overridden.stderr);
    assert.match(overridden.stdout, /held by tls-holder/);
  });

  it('usage errors name the flag or variable: unreadable file, certificate without key, TLS not asked for', async () => {
    const env = { ...cleanEnv(), ZOOKEEPER_CONNECT_STRING: zk.secureConnectString };
    const missing = join(dir, 'missing.pem');
    const unreadable = await run(['inspect', path, '--tls-ca', missing], env);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, new RegExp(`--tls-ca: cannot read "${missing}"`));
    assert.match(unreadable.stderr, /Run zk-leader-selector --help/);

    const noKey = await run(['inspect', path, '--tls-cert', certs.clients.svc1.certFile], env);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--tls-cert needs a key: pass --tls-key/);

    const fromVariable = await run(['prune', '/cli-tls-spec', '--tls'], {
      ...env,
      ZOOKEEPER_TLS_KEY_FILE: certs.clients.svc1.keyFile,
    });
    assert.equal(fromVariable.code, 2);
    assert.match(fromVariable.stderr, /ZOOKEEPER_TLS_KEY_FILE needs a certificate: pass --tls-cert/);

    const notAsked = await run(['inspect', path], { ...env, ZOOKEEPER_TLS_CA_FILE: certs.caFile });
    assert.equal(notAsked.code, 2);
    assert.match(notAsked.stderr, /ZOOKEEPER_TLS_CA_FILE is set but ZOOKEEPER_TLS is not true/);

    const badFlag = await run(['inspect', path], { ...env, ZOOKEEPER_TLS: 'maybe' });
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /ZOOKEEPER_TLS must be true or false, got "maybe"/);

    const help = await run(['--help'], env);
    assert.match(help.stdout, /--tls-ca <file>/);
  });

  it('without TLS the TLS port does not answer: exit 1, not a hang', async () => {
    const plain = await run(['inspect', path, '--connect-timeout', '1000'], {
      ...cleanEnv(),
      ZOOKEEPER_CONNECT_STRING: zk.secureConnectString,
    });
    assert.equal(plain.code, 1, `${plain.stdout}\n${plain.stderr}`);
    assert.match(plain.stderr, /Could not establish a ZooKeeper session/);
  });

  it('tlsOptions: flags imply TLS, each flag wins over its variable, tls: true without files', () => {
    const files: Record<string, Buffer> = { a: Buffer.from('A'), b: Buffer.from('B'), c: Buffer.from('C') };
    const read = (file: string): Buffer => {
      const content = files[file];
      if (!content) throw new Error('ENOENT');
      return content;
    };
    const none = { tls: false, ca: undefined, cert: undefined, key: undefined };
    assert.equal(tlsOptions(none, {}, read), undefined);
    assert.equal(tlsOptions(none, { ZOOKEEPER_TLS: 'false' }, read), undefined);
    assert.deepEqual(tlsOptions({ ...none, tls: true }, {}, read), {});
    assert.deepEqual(tlsOptions(none, { ZOOKEEPER_TLS: 'TRUE' }, read), {});
    assert.deepEqual(tlsOptions({ ...none, ca: 'a' }, {}, read), { ca: files.a });
    assert.deepEqual(
      tlsOptions(
        { ...none, cert: 'b' },
        { ZOOKEEPER_TLS: 'true', ZOOKEEPER_TLS_CERT_FILE: 'x', ZOOKEEPER_TLS_KEY_FILE: 'c' },
        read,
      ),
      { cert: files.b, key: files.c },
    );
    // --tls wins over ZOOKEEPER_TLS=false, and then the file variables count.
    assert.deepEqual(
      tlsOptions({ ...none, tls: true }, { ZOOKEEPER_TLS: 'no', ZOOKEEPER_TLS_CA_FILE: 'a' }, read),
      {
        ca: files.a,
      },
    );
  });
});
