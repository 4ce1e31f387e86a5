import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import type { BackoffPolicy } from '../util/backoff.js';
import { DEFAULT_RETRY_POLICY } from '../util/backoff.js';
import type { AuthInfo } from '../zk/zk-session.js';
import { resolveTlsOptions, type TlsOptions } from '../zk/tls.js';
import type { MetricsOptions } from '../ops/metrics.js';

/**
 * What a suspended connection (no answer for a while, or a dropped socket) means for owners:
 * - `'lease'` (default): nothing yet. The session, its nodes and its lease may well be intact (a
 *   rolling restart moves it to another member within seconds); leaders keep their term while
 *   the lease holds and are told to stop `stopWindowMs` before it ends if the session has not
 *   answered again; plain locks stay owned until the lease ends.
 * - `'strict'` (Curator's default behaviour): a suspension ends leaders' terms at once and makes
 *   `considerAsOwned()` false until the same session answers again and a check sent after the
 *   suspension found the lock node. For deployments where a
 *   session may end other than by timeout (someone else closing it with its password, an
 *   ensemble whose data is wiped).
 */
export type ConnectionLossPolicy = 'lease' | 'strict';

/** Validates a connectionLossPolicy option (undefined stays undefined). */
export function checkConnectionLossPolicy(value: unknown): ConnectionLossPolicy | undefined {
  if (value === undefined || value === 'lease' || value === 'strict') return value;
  throw new InvalidOptionError(
    'connectionLossPolicy',
    `must be 'lease' or 'strict', got ${JSON.stringify(value)}`,
  );
}

/** Options of {@link Coordinator}. Only `connectString` is required. */
export interface CoordinatorOptions {
  /**
   * `host:port[,host:port...][/chroot]`, e.g. `127.0.0.1:2181` or `zk1:2181,zk2:2181,zk3:2181/app`.
   */
  connectString: string;
  /**
   * Requested ZooKeeper session timeout S in ms (default 15000). The server may grant another
   * value within its [minSessionTimeout, maxSessionTimeout]; the granted one is used for all
   * timing. A lock survives a lost connection for at most S: this is the claim's TTL.
   */
  sessionTimeoutMs?: number;
  /** How long start() waits for the first session (default max(15000, S)). */
  connectTimeoutMs?: number;
  /** Timeout of a single ZooKeeper request (default S: past it the session is gone anyway). */
  requestTimeoutMs?: number;
  /**
   * Safety margin subtracted from the lease (default max(10% of S, 500 ms)): covers clock-rate
   * drift between this machine and the servers. Must be below S.
   */
  leaseMarginMs?: number;
  /** Idle time after which a heartbeat request is sent (default S/6). */
  heartbeatIntervalMs?: number;
  /** No answer for this long means the connection is suspended and is dropped (default S/2). */
  suspendAfterMs?: number;
  /** Retry policy for idempotent requests after a connection loss. */
  retry?: Partial<BackoffPolicy>;
  /**
   * Connect to ZooKeeper's TLS port (secureClientPort): `true` (the system's CAs, no client
   * certificate) or `{ ca, cert, key, passphrase, servername, rejectUnauthorized }`.
   */
  tls?: boolean | TlsOptions;
  /** OpenTelemetry metrics (README, "Operations"): on by default when @opentelemetry/api is installed. */
  metrics?: MetricsOptions;
  /** What a suspended connection means for owners (default 'lease'; see {@link ConnectionLossPolicy}). */
  connectionLossPolicy?: ConnectionLossPolicy;
  /**
   * Leaders (and other term-based recipes) are told to stop this long before their ownership
   * deadline when the session has not answered again: their time to wind down (default
   * max(S/4, 1 s), at most (S - leaseMarginMs)/2). Must leave room for heartbeats:
   * below S - leaseMarginMs - heartbeatIntervalMs.
   */
  stopWindowMs?: number;
  /** Credentials sent on every connection, e.g. `[{ scheme: 'digest', credentials: 'user:secret' }]`. */
  auth?: AuthInfo[];
  /** tw-curator's disabled mode: no connection, no timers; asking for a lock throws ZooKeeperDisabledError. */
  disabled?: boolean;
}

export interface ResolvedCoordinatorOptions {
  connectString: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number | undefined;
  leaseMarginMs: number | undefined;
  heartbeatIntervalMs: number | undefined;
  suspendAfterMs: number | undefined;
  retry: BackoffPolicy;
  auth: AuthInfo[];
  disabled: boolean;
  connectionLossPolicy: ConnectionLossPolicy;
  stopWindowMs: number | undefined;
  tls: TlsOptions | undefined;
  metrics: MetricsOptions;
}

export const MIN_SESSION_TIMEOUT_MS = 1000;
export const MAX_SESSION_TIMEOUT_MS = 24 * 60 * 60 * 1000;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/;

/** Validates a connect string; returns it unchanged. */
export function validateConnectString(connectString: unknown, option = 'connectString'): string {
  if (typeof connectString !== 'string' || connectString.trim() === '') {
    throw new InvalidOptionError(
      option,
      'must be a non-empty string like "127.0.0.1:2181" or "zk1:2181,zk2:2181/chroot"',
    );
  }
  const slash = connectString.indexOf('/');
  const hosts = slash === -1 ? connectString : connectString.slice(0, slash);
  const chroot = slash === -1 ? '' : connectString.slice(slash);
  for (const entry of hosts.split(',')) {
    const hostPort = entry.trim();
    const match = HOST_PORT.exec(hostPort);
    const port = match?.[2] ? Number(match[2].slice(1)) : 2181;
    if (!match || port < 1 || port > 65535) {
      throw new InvalidOptionError(
        option,
        `"${hostPort}" in ${JSON.stringify(connectString)} is not host:port`,
      );
    }
  }
  if (chroot !== '' && (chroot === '/' || chroot.endsWith('/') || chroot.includes('//'))) {
    throw new InvalidOptionError(
      option,
      `chroot "${chroot}" must be an absolute path without a trailing slash`,
    );
  }
  return connectString;
}

function integer(
  options: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new InvalidOptionError(
      name,
      `must be an integer number of milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  if (value < min || value > max) {
    throw new InvalidOptionError(name, `must be between ${min} and ${max} ms, got ${value}`);
  }
  return value;
}

export function resolveCoordinatorOptions(input: unknown): ResolvedCoordinatorOptions {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidOptionError('options', 'pass an object like { connectString: "127.0.0.1:2181" }');
  }
  const options = input as Record<string, unknown>;
  const disabled = options.disabled === true;
  if (options.disabled !== undefined && typeof options.disabled !== 'boolean') {
    throw new InvalidOptionError('disabled', 'must be a boolean');
  }
  const connectString =
    disabled && options.connectString === undefined ? '' : validateConnectString(options.connectString);
  const sessionTimeoutMs =
    integer(options, 'sessionTimeoutMs', MIN_SESSION_TIMEOUT_MS, MAX_SESSION_TIMEOUT_MS) ?? 15_000;
  const connectTimeoutMs =
    integer(options, 'connectTimeoutMs', 100, MAX_SESSION_TIMEOUT_MS) ?? Math.max(15_000, sessionTimeoutMs);
  const requestTimeoutMs = integer(options, 'requestTimeoutMs', 10, MAX_SESSION_TIMEOUT_MS);
  const leaseMarginMs = integer(options, 'leaseMarginMs', 0, sessionTimeoutMs - 1);
  const heartbeatIntervalMs = integer(options, 'heartbeatIntervalMs', 10, sessionTimeoutMs / 2);
  const suspendAfterMs = integer(options, 'suspendAfterMs', 10, sessionTimeoutMs - 1);
  if (
    heartbeatIntervalMs !== undefined &&
    suspendAfterMs !== undefined &&
    heartbeatIntervalMs >= suspendAfterMs
  ) {
    throw new InvalidOptionError(
      'heartbeatIntervalMs',
      `must be below suspendAfterMs (${suspendAfterMs} ms)`,
    );
  }
  const connectionLossPolicy = checkConnectionLossPolicy(options.connectionLossPolicy) ?? 'lease';
  const stopWindowMs = integer(options, 'stopWindowMs', 0, sessionTimeoutMs - 1);
  const retry = { ...DEFAULT_RETRY_POLICY };
  if (options.retry !== undefined) {
    if (typeof options.retry !== 'object' || options.retry === null) {
      throw new InvalidOptionError('retry', 'must be an object like { baseDelayMs, maxDelayMs, maxRetries }');
    }
    const r = options.retry as Record<string, unknown>;
    retry.baseDelayMs = integer(r, 'baseDelayMs', 1, 60_000) ?? retry.baseDelayMs;
    retry.maxDelayMs = integer(r, 'maxDelayMs', 1, 600_000) ?? retry.maxDelayMs;
    retry.maxRetries = integer(r, 'maxRetries', 0, 1000) ?? retry.maxRetries;
  }
  const auth: AuthInfo[] = [];
  if (options.auth !== undefined) {
    if (!Array.isArray(options.auth)) {
      throw new InvalidOptionError(
        'auth',
        'must be an array like [{ scheme: "digest", credentials: "user:secret" }]',
      );
    }
    for (const entry of options.auth as unknown[]) {
      const e = entry as Partial<AuthInfo> | null;
      if (!e || typeof e.scheme !== 'string' || e.scheme === '' || typeof e.credentials !== 'string') {
        throw new InvalidOptionError('auth', 'each entry needs a non-empty scheme and a credentials string');
      }
      auth.push({ scheme: e.scheme, credentials: e.credentials });
    }
  }
  return {
    connectString,
    sessionTimeoutMs,
    connectTimeoutMs,
    requestTimeoutMs,
    leaseMarginMs,
    heartbeatIntervalMs,
    suspendAfterMs,
    retry,
    auth,
    disabled,
    connectionLossPolicy,
    stopWindowMs,
    tls: resolveTlsOptions(options.tls),
    metrics: resolveMetricsOptions(options.metrics),
  };
}

/** Reads Coordinator options from environment variables; invalid values name the variable. */
export function optionsFromEnv(env: Record<string, string | undefined>): CoordinatorOptions {
  const disabledRaw = env.ZOOKEEPER_DISABLED?.trim().toLowerCase();
  let disabled = false;
  if (disabledRaw !== undefined && disabledRaw !== '') {
    if (['true', '1', 'yes'].includes(disabledRaw)) disabled = true;
    else if (!['false', '0', 'no'].includes(disabledRaw)) {
      throw new InvalidOptionError(
        'ZOOKEEPER_DISABLED',
        `must be true or false, got ${JSON.stringify(env.ZOOKEEPER_DISABLED)}`,
      );
    }
  }
  const connectString = env.ZOOKEEPER_CONNECT_STRING?.trim() || '127.0.0.1:2181';
  if (!disabled) validateConnectString(connectString, 'ZOOKEEPER_CONNECT_STRING');
  const options: CoordinatorOptions = { connectString, disabled };
  const tls = tlsFromEnv(env);
  if (tls) options.tls = tls;
  const timeoutRaw = env.ZOOKEEPER_SESSION_TIMEOUT_MS?.trim();
  if (timeoutRaw !== undefined && timeoutRaw !== '') {
    const value = Number(timeoutRaw);
    if (!/^\d+$/.test(timeoutRaw) || value < MIN_SESSION_TIMEOUT_MS || value > MAX_SESSION_TIMEOUT_MS) {
      throw new InvalidOptionError(
        'ZOOKEEPER_SESSION_TIMEOUT_MS',
        `must be an integer between ${MIN_SESSION_TIMEOUT_MS} and ${MAX_SESSION_TIMEOUT_MS}, got ${JSON.stringify(timeoutRaw)}`,
      );
    }
    options.sessionTimeoutMs = value;
  }
  return options;
}

/**
 * TLS from ZOOKEEPER_TLS (true/false) and the PEM files in ZOOKEEPER_TLS_CA_FILE,
 * ZOOKEEPER_TLS_CERT_FILE and ZOOKEEPER_TLS_KEY_FILE. A file given without ZOOKEEPER_TLS=true
 * is a mistake worth naming, not something to ignore.
 */
function tlsFromEnv(env: Record<string, string | undefined>): TlsOptions | undefined {
  const flag = env.ZOOKEEPER_TLS?.trim().toLowerCase();
  const files = {
    ca: 'ZOOKEEPER_TLS_CA_FILE',
    cert: 'ZOOKEEPER_TLS_CERT_FILE',
    key: 'ZOOKEEPER_TLS_KEY_FILE',
  } as const;
  const given = Object.values(files).filter((name) => env[name]?.trim());
  if (flag === undefined || flag === '' || ['false', '0', 'no'].includes(flag)) {
    if (given.length > 0) {
      throw new InvalidOptionError(
        given[0] as string,
        'is set but ZOOKEEPER_TLS is not true: set ZOOKEEPER_TLS=true to use TLS',
      );
    }
    return undefined;
  }
  if (!['true', '1', 'yes'].includes(flag)) {
    throw new InvalidOptionError(
      'ZOOKEEPER_TLS',
      `must be true or false, got ${JSON.stringify(env.ZOOKEEPER_TLS)}`,
    );
  }
  const tls: TlsOptions = {};
  for (const [key, name] of Object.entries(files) as [keyof typeof files, string][]) {
    const file = env[name]?.trim();
    if (!file) continue;
    try {
      tls[key] = readFileSync(file);
    } catch (error) {
      throw new InvalidOptionError(name, `cannot read ${JSON.stringify(file)}: ${(error as Error).message}`);
    }
  }
  return resolveTlsOptions(tls);
}

function resolveMetricsOptions(value: unknown): MetricsOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionError(
      'metrics',
      'must be an object like { enabled, meterProvider, lockPathAttribute }',
    );
  }
  const metrics = value as Record<string, unknown>;
  for (const name of ['enabled', 'lockPathAttribute'] as const) {
    if (metrics[name] !== undefined && typeof metrics[name] !== 'boolean') {
      throw new InvalidOptionError(`metrics.${name}`, 'must be a boolean');
    }
  }
  const provider = metrics.meterProvider as { getMeter?: unknown } | undefined;
  if (provider !== undefined && (typeof provider !== 'object' || typeof provider?.getMeter !== 'function')) {
    throw new InvalidOptionError(
      'metrics.meterProvider',
      'must be an OpenTelemetry MeterProvider (with getMeter())',
    );
  }
  return metrics as MetricsOptions;
}
