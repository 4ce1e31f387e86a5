// When the TLS specs can run (kept apart from tls-certs.ts, which the harness itself imports).
import { tlsToolsAvailable } from './tls-certs.js';
import { zooKeeperAvailable } from './zookeeper.js';

/**
 * Why a TLS spec must be skipped (false: it can run): it starts its own servers, so it needs Java
 * with ZooKeeper, no external ZOOKEEPER_CONNECT_STRING, and openssl + keytool.
 */
export function tlsSpecSkipReason(): string | false {
  const available = zooKeeperAvailable();
  if (!available.ok) return available.reason;
  if (process.env.ZOOKEEPER_CONNECT_STRING)
    return 'external ZooKeeper: the TLS tests start their own servers';
  return tlsToolsAvailable() ? false : 'openssl or keytool missing';
}
