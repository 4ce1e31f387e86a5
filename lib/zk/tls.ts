/**
 * TLS to ZooKeeper's secureClientPort. node-zookeeper-client only speaks plain TCP (its TLS issue
 * and PR have stayed open since 2016), so each client's connection manager gets a `connect` of
 * our own that opens a `tls.connect` socket instead of `net.connect`. Everything else (framing,
 * reconnects across the servers, our heartbeat, watchdog and socket drop) runs over it unchanged.
 */
import tls from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import type { NativeClient } from './native.js';

/** TLS settings of a Coordinator (`tls: true` uses the system's CAs and no client certificate). */
export interface TlsOptions {
  /** CA certificate(s) that signed the servers' certificates (PEM). Default: the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate chain (PEM), for servers with `ssl.clientAuth=need` and x509 ACLs. */
  cert?: string | Buffer;
  /** Private key of the client certificate (PEM). */
  key?: string | Buffer;
  /** Passphrase of an encrypted key. */
  passphrase?: string;
  /** Host name the servers' certificates must name (default: each server's host from the connect string). */
  servername?: string;
  /** Verify the servers' certificates (default true; false only for tests). */
  rejectUnauthorized?: boolean;
}

/** Validated TLS options (undefined: plain TCP). */
export function resolveTlsOptions(value: unknown): TlsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('tls', 'must be true or an object like { ca, cert, key, servername }');
  }
  const options = value as Record<string, unknown>;
  const pem = (name: string, v: unknown): void => {
    if (v !== undefined && typeof v !== 'string' && !Buffer.isBuffer(v)) {
      throw new InvalidOptionError(`tls.${name}`, 'must be a PEM string or a Buffer');
    }
  };
  if (Array.isArray(options.ca)) for (const ca of options.ca as unknown[]) pem('ca', ca);
  else pem('ca', options.ca);
  pem('cert', options.cert);
  pem('key', options.key);
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new InvalidOptionError(
      'tls',
      'give both cert and key (a client certificate needs its key), or neither',
    );
  }
  for (const name of ['passphrase', 'servername'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'string') {
      throw new InvalidOptionError(`tls.${name}`, 'must be a string');
    }
  }
  if (options.rejectUnauthorized !== undefined && typeof options.rejectUnauthorized !== 'boolean') {
    throw new InvalidOptionError('tls.rejectUnauthorized', 'must be a boolean');
  }
  const known = new Set(['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized']);
  for (const name of Object.keys(options)) {
    if (!known.has(name))
      throw new InvalidOptionError(`tls.${name}`, `unknown; use ${[...known].join(', ')}`);
  }
  return options as TlsOptions;
}

/** The parts of node-zookeeper-client's ConnectionManager the transport replaces or calls. */
interface ConnectionManagerInternals {
  socket: import('node:net').Socket | undefined;
  connectTimeout: number;
  connectTimeoutHandler: NodeJS.Timeout | null;
  setState(state: number): void;
  findNextServer(callback: (server: { host: string; port: number }) => void): void;
  onSocketConnected(): void;
  onSocketConnectTimeout(): void;
  onSocketData(data: Buffer): void;
  onSocketDrain(): void;
  onSocketClosed(hadError: boolean): void;
  onSocketError(error: Error): void;
}

/** ConnectionManager's CONNECTING state (node-zookeeper-client 1.1.3, lib/ConnectionManager.js). */
const STATE_CONNECTING = 1;

/**
 * Makes `client` connect over TLS. `onTlsError` hears every error of a handshake (unknown CA,
 * hostname mismatch, certificate refused, the peer closing mid-handshake): the client itself only
 * logs them and tries the next server.
 */
export function useTlsTransport(
  client: NativeClient,
  options: TlsOptions,
  onTlsError: (error: Error) => void,
): void {
  const manager = client.connectionManager as unknown as ConnectionManagerInternals;
  const connect = (): void => {
    manager.setState(STATE_CONNECTING);
    manager.findNextServer((server) => {
      let secured = false;
      const socket = tls.connect({
        host: server.host,
        port: server.port,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        passphrase: options.passphrase,
        servername: options.servername ?? (isIp(server.host) ? undefined : server.host),
        // Node checks IP addresses against the certificate's IP SANs itself.
        rejectUnauthorized: options.rejectUnauthorized ?? true,
      });
      manager.socket = socket;
      manager.connectTimeoutHandler = setTimeout(
        () => manager.onSocketConnectTimeout(),
        manager.connectTimeout,
      );
      socket.setNoDelay();
      // 'secureConnect', not 'connect': the client clears its connect timer on connect, and a
      // server that never finishes the handshake would then hang it forever.
      socket.on('secureConnect', () => {
        secured = true;
        manager.onSocketConnected();
      });
      socket.on('data', (data: Buffer) => manager.onSocketData(data));
      socket.on('drain', () => manager.onSocketDrain());
      socket.on('close', (hadError: boolean) => manager.onSocketClosed(hadError));
      socket.on('error', (error: Error) => {
        if (!secured && !isRefused(error)) onTlsError(error);
        manager.onSocketError(error);
      });
    });
  };
  (client.connectionManager as unknown as { connect: () => void }).connect = connect;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function isRefused(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}
