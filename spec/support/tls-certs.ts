// Per-run test certificates for ZooKeeper's TLS port (scripts/make-tls-certs.sh: openssl for keys
// and certificates, keytool for the PKCS12 trust store Java reads): a CA, a server certificate for
// 127.0.0.1 and localhost, two client certificates, and a client certificate from an untrusted CA.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from './executables.js';

export interface PemPair {
  cert: Buffer;
  key: Buffer;
  /** The certificate's subject as ZooKeeper's x509 provider names it, e.g. CN=svc-1,O=acme. */
  subject: string;
}

export interface TestCertificates {
  dir: string;
  /** PEM of the CA that signed the server and the client certificates. */
  ca: Buffer;
  caFile: string;
  server: PemPair;
  clients: { svc1: PemPair & { certFile: string; keyFile: string }; svc2: PemPair };
  /** A CA nobody trusts, and a client certificate it signed. */
  rogueCa: Buffer;
  rogueClient: PemPair;
  /** PKCS12 stores for zoo.cfg. */
  keyStore: string;
  trustStore: string;
  storePassword: string;
}

/** True when openssl and keytool are on this machine (the JDK brings keytool). */
export function tlsToolsAvailable(): boolean {
  return findExecutable('openssl') !== undefined && findExecutable('keytool') !== undefined;
}

const SCRIPT = fileURLToPath(new URL('../../scripts/make-tls-certs.sh', import.meta.url));

function pair(dir: string, name: string, subject: string): PemPair {
  return {
    cert: readFileSync(path.join(dir, `${name}.pem`)),
    key: readFileSync(path.join(dir, `${name}.key`)),
    subject,
  };
}

/**
 * Makes a fresh set of certificates and stores in `dir` with scripts/make-tls-certs.sh (the
 * same script the README's docker compose `tls` profile uses). Takes a few seconds.
 */
export function makeTestCertificates(dir: string): TestCertificates {
  mkdirSync(dir, { recursive: true });
  execFileSync('bash', [SCRIPT, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  const svc1 = pair(dir, 'svc1', 'CN=svc-1,O=acme');
  return {
    dir,
    ca: readFileSync(path.join(dir, 'ca.pem')),
    caFile: path.join(dir, 'ca.pem'),
    server: pair(dir, 'server', 'CN=localhost,O=zk-test'),
    clients: {
      svc1: { ...svc1, certFile: path.join(dir, 'svc1.pem'), keyFile: path.join(dir, 'svc1.key') },
      svc2: pair(dir, 'svc2', 'CN=svc-2,O=acme'),
    },
    rogueCa: readFileSync(path.join(dir, 'rogue-ca.pem')),
    rogueClient: pair(dir, 'rogue', 'CN=svc-1,O=acme'),
    keyStore: path.join(dir, 'keystore.p12'),
    trustStore: path.join(dir, 'truststore.p12'),
    storePassword: readFileSync(path.join(dir, 'store-password'), 'utf8').trim(),
  };
}

/** zoo.cfg lines for a TLS port with client certificates required and x509 authentication. */
export function tlsServerConfig(certs: TestCertificates, securePort: number): Record<string, string> {
  return {
    secureClientPort: String(securePort),
    secureClientPortAddress: '127.0.0.1',
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'ssl.keyStore.location': certs.keyStore,
    'ssl.keyStore.password': certs.storePassword,
    'ssl.keyStore.type': 'PKCS12',
    'ssl.trustStore.location': certs.trustStore,
    'ssl.trustStore.password': certs.storePassword,
    'ssl.trustStore.type': 'PKCS12',
    'ssl.clientAuth': 'need',
    'authProvider.x509': 'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
  };
}
