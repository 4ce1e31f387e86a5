/** Command-line parsing of the zk-leader-selector CLI (no dependencies: node:util parseArgs). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { TlsOptions } from '../index.js';

/** What the command line asks for. */
export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'inspect' | 'watch';
      path: string;
      connectString: string;
      /** TLS to ZooKeeper's secureClientPort (undefined: plain TCP). */
      tls: TlsOptions | undefined;
      json: boolean;
      connectTimeoutMs: number;
      intervalMs: number;
      durationMs: number | undefined;
    }
  | {
      kind: 'prune';
      root: string;
      connectString: string;
      /** TLS to ZooKeeper's secureClientPort (undefined: plain TCP). */
      tls: TlsOptions | undefined;
      json: boolean;
      connectTimeoutMs: number;
      /** Delete (else a dry run). */
      yes: boolean;
      olderThanMs: number | undefined;
    };

/** A usage error: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {}

export const DEFAULT_CONNECT_STRING = '127.0.0.1:2181';

export const USAGE = `zk-leader-selector: who holds, and who waits for, a lock or leader selector on ZooKeeper.

Usage:
  zk-leader-selector inspect <path> [options]   the contenders of the lock at <path>, in lock order
  zk-leader-selector watch <path> [options]     the same, printed again on every change, until Ctrl-C
  zk-leader-selector prune <root> [options]     the empty lock paths below <root>; --yes deletes them

Options:
  -c, --connect <hosts>        ZooKeeper connect string, e.g. zk1:2181,zk2:2181/app
                               (default: $ZOOKEEPER_CONNECT_STRING, else ${DEFAULT_CONNECT_STRING})
      --tls                    connect over TLS (ZooKeeper's secureClientPort; default: $ZOOKEEPER_TLS)
      --tls-ca <file>          PEM of the CA that signed the servers' certificates (implies --tls;
                               default: $ZOOKEEPER_TLS_CA_FILE, else the system's CAs)
      --tls-cert <file>        PEM client certificate, for ssl.clientAuth=need (implies --tls;
                               default: $ZOOKEEPER_TLS_CERT_FILE); needs --tls-key
      --tls-key <file>         PEM private key of the client certificate (implies --tls;
                               default: $ZOOKEEPER_TLS_KEY_FILE)
      --json                   JSON output (watch: one JSON object per line)
      --connect-timeout <ms>   how long to wait for a ZooKeeper session (default 10000)
      --interval <ms>          watch: how often to look (default 500)
      --duration <ms>          watch: stop after this long (default: until Ctrl-C)
  -y, --yes                    prune: delete the paths listed (default: a dry run)
      --older-than <duration>  prune: only paths not modified for this long, e.g. 90s, 30m, 12h, 7d
  -h, --help                   this help
  -v, --version                the version

<path> is the path given to coordinator.createLock() or createLeaderSelector(), e.g. /app/leaders/cleaner.
The first contender holds the lock (for a leader selector: leads); every other one waits for the one
before it. IMPLEMENTATION tells who created a node by its name: "curator-protocol" for
_c_<uuid>-lock-<seq> (zk-leader-selector and Apache Curator, whose ID is the node's data) and "kazoo"
for <uuid>__lock__<seq>. AGE is the time since the node was created (when it started to contend).

prune lists lock paths nobody uses any more (left by crashed processes, older versions, or locks with
removeEmptyPath off): nodes below <root> with no children and no data that once had children. It never
deletes <root>, a node with children, or one that changed since it was listed.

Exit codes: 0 done, 1 ZooKeeper unreachable or an error, 2 wrong usage.
`;

function milliseconds(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > 2 ** 31 - 1) {
    throw new UsageError(
      `--${name} must be a whole number of milliseconds >= ${min}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** Parses argv (without node and the script); throws UsageError. */
export function parseCommandLine(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        connect: { type: 'string', short: 'c' },
        tls: { type: 'boolean', default: false },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        json: { type: 'boolean', default: false },
        'connect-timeout': { type: 'string' },
        interval: { type: 'string' },
        duration: { type: 'string' },
        yes: { type: 'boolean', short: 'y', default: false },
        'older-than': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [command, path, ...extra] = positionals;
  if (command === undefined) throw new UsageError('missing command: inspect, watch or prune');
  if (command === 'help') return { kind: 'help' };
  if (command !== 'inspect' && command !== 'watch' && command !== 'prune') {
    throw new UsageError(`unknown command ${JSON.stringify(command)}: use inspect, watch or prune`);
  }
  const connectString = values.connect ?? (env.ZOOKEEPER_CONNECT_STRING?.trim() || DEFAULT_CONNECT_STRING);
  const connectTimeoutMs = milliseconds('connect-timeout', values['connect-timeout'], 10_000, 100);
  const tls = tlsOptions(
    { tls: values.tls, ca: values['tls-ca'], cert: values['tls-cert'], key: values['tls-key'] },
    env,
  );
  if (command === 'prune') {
    if (path === undefined) throw new UsageError('prune needs a root path, e.g. prune /app/locks');
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (values.interval !== undefined || values.duration !== undefined) {
      throw new UsageError('--interval and --duration are options of watch');
    }
    return {
      kind: 'prune',
      root: path,
      connectString,
      tls,
      json: values.json,
      connectTimeoutMs,
      yes: values.yes,
      olderThanMs: values['older-than'] === undefined ? undefined : parseDuration(values['older-than']),
    };
  }
  if (values.yes || values['older-than'] !== undefined) {
    throw new UsageError('--yes and --older-than are options of prune');
  }
  if (path === undefined)
    throw new UsageError(`${command} needs a lock path, e.g. ${command} /app/leaders/cleaner`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (command === 'inspect' && (values.interval !== undefined || values.duration !== undefined)) {
    throw new UsageError('--interval and --duration are options of watch');
  }
  return {
    kind: command,
    path,
    connectString,
    tls,
    json: values.json,
    connectTimeoutMs,
    intervalMs: milliseconds('interval', values.interval, 500, 50),
    durationMs: values.duration === undefined ? undefined : milliseconds('duration', values.duration, 0, 0),
  };
}

/** The TLS flags as parsed: the files are paths, not yet read. */
export interface TlsFlags {
  tls: boolean;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
}

const TLS_SOURCES = {
  ca: { flag: '--tls-ca', variable: 'ZOOKEEPER_TLS_CA_FILE' },
  cert: { flag: '--tls-cert', variable: 'ZOOKEEPER_TLS_CERT_FILE' },
  key: { flag: '--tls-key', variable: 'ZOOKEEPER_TLS_KEY_FILE' },
} as const;

/**
 * TLS from the flags and the variables `Coordinator.fromEnv()` reads (ZOOKEEPER_TLS,
 * ZOOKEEPER_TLS_CA_FILE, ZOOKEEPER_TLS_CERT_FILE, ZOOKEEPER_TLS_KEY_FILE), each flag winning over
 * its variable. A file flag implies --tls; a file variable needs ZOOKEEPER_TLS=true (or --tls),
 * as for fromEnv(). An unreadable file, or a certificate without its key (or the other way round),
 * is a UsageError naming the flag or variable it came from. Undefined: plain TCP.
 */
export function tlsOptions(
  flags: TlsFlags,
  env: Record<string, string | undefined>,
  readFile: (file: string) => Buffer = (file) => readFileSync(file),
): TlsOptions | undefined {
  const names = Object.keys(TLS_SOURCES) as Array<keyof typeof TLS_SOURCES>;
  const fromFlags = flags.tls || names.some((name) => flags[name] !== undefined);
  let enabled = fromFlags;
  if (!fromFlags) {
    const raw = env.ZOOKEEPER_TLS?.trim().toLowerCase();
    if (raw !== undefined && raw !== '' && !['true', '1', 'yes', 'false', '0', 'no'].includes(raw)) {
      throw new UsageError(
        `ZOOKEEPER_TLS must be true or false, got ${JSON.stringify(env.ZOOKEEPER_TLS)} (or use --tls)`,
      );
    }
    enabled = raw !== undefined && ['true', '1', 'yes'].includes(raw);
  }
  // Where each file comes from: the flag, else its variable.
  const sources = names.flatMap((name): Array<{ name: typeof name; file: string; source: string }> => {
    const flag = flags[name];
    if (flag !== undefined) {
      if (flag.trim() === '') throw new UsageError(`${TLS_SOURCES[name].flag} needs a file name`);
      return [{ name, file: flag, source: TLS_SOURCES[name].flag }];
    }
    const variable = env[TLS_SOURCES[name].variable]?.trim();
    return variable ? [{ name, file: variable, source: TLS_SOURCES[name].variable }] : [];
  });
  if (!enabled) {
    const stray = sources[0];
    if (stray) {
      throw new UsageError(
        `${stray.source} is set but ZOOKEEPER_TLS is not true: set ZOOKEEPER_TLS=true or pass --tls to use TLS`,
      );
    }
    return undefined;
  }
  const cert = sources.find((s) => s.name === 'cert');
  const key = sources.find((s) => s.name === 'key');
  if (cert && !key) {
    throw new UsageError(`${cert.source} needs a key: pass --tls-key <file> (or set ZOOKEEPER_TLS_KEY_FILE)`);
  }
  if (key && !cert) {
    throw new UsageError(
      `${key.source} needs a certificate: pass --tls-cert <file> (or set ZOOKEEPER_TLS_CERT_FILE)`,
    );
  }
  const tls: TlsOptions = {};
  for (const { name, file, source } of sources) {
    try {
      tls[name] = readFile(file);
    } catch (error) {
      throw new UsageError(
        `${source}: cannot read ${JSON.stringify(file)}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return tls;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 500ms, 90s, 30m, 12h, 7d (a bare number is ms). */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  const value = match ? Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1) : Number.NaN;
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(
      `--older-than must be a duration such as 90s, 30m, 12h or 7d, got ${JSON.stringify(raw)}`,
    );
  }
  return Math.round(value);
}
