/** The zk-leader-selector CLI: `inspect`, `watch` and `prune`, through the public API (plain TCP or TLS). */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Coordinator, ZkLeaderSelectorError, type SharedReentrantLock } from '../index.js';
import { validatePath } from '../util/paths.js';
import { parseCommandLine, USAGE, UsageError, type CliCommand } from './args.js';
import { formatPruneReport, prune } from './prune.js';
import {
  compareSnapshots,
  formatChange,
  formatSnapshot,
  sameContenders,
  toSnapshot,
  type Snapshot,
} from './snapshot.js';

/** Where the CLI writes, what it reads, and what stops it (main.ts wires these to the process). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT / SIGTERM: `watch` then ends normally, `inspect` gives up. */
  signal?: AbortSignal;
  /** The script's path (process.argv[1]), to find package.json for --version. */
  scriptPath?: string;
}

type WatchOrInspect = Extract<CliCommand, { kind: 'inspect' | 'watch' }>;
type Prune = Extract<CliCommand, { kind: 'prune' }>;

/** Runs the CLI; resolves with the exit code (0 done, 1 error, 2 usage, 130 interrupted). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCommandLine(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`zk-leader-selector: ${error.message}\nRun zk-leader-selector --help for usage.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  if (command.kind === 'version') {
    io.stdout(`${packageVersion(io.scriptPath)}\n`);
    return 0;
  }

  let coordinator: Coordinator;
  let lock: SharedReentrantLock | undefined;
  try {
    coordinator = new Coordinator({
      connectString: command.connectString,
      sessionTimeoutMs: 10_000,
      connectTimeoutMs: command.connectTimeoutMs,
      ...(command.tls ? { tls: command.tls } : {}),
    });
    if (command.kind === 'prune') validatePath(command.root);
    else lock = coordinator.createLock(command.path);
  } catch (error) {
    // An invalid connect string or path.
    io.stderr(`zk-leader-selector: ${errorMessage(error)}\n`);
    return 2;
  }
  try {
    const started = await untilAborted(
      coordinator.start().then(() => true),
      io.signal,
    );
    if (started === undefined) return 130;
    if (command.kind === 'prune') return await runPrune(command, coordinator, io);
    if (!lock) return 2;
    if (command.kind === 'inspect') return await inspect(command, lock, io);
    return await watch(command, coordinator, lock, io);
  } catch (error) {
    io.stderr(`zk-leader-selector: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await coordinator.close();
  }
}

async function runPrune(command: Prune, coordinator: Coordinator, io: CliIo): Promise<number> {
  const report = await untilAborted(
    prune(coordinator, {
      root: command.root,
      dryRun: !command.yes,
      olderThanMs: command.olderThanMs,
      signal: io.signal,
    }),
    io.signal,
  );
  if (report === undefined) return 130;
  io.stdout(command.json ? `${JSON.stringify(report, null, 2)}\n` : formatPruneReport(report));
  return 0;
}

async function inspect(command: WatchOrInspect, lock: SharedReentrantLock, io: CliIo): Promise<number> {
  const details = await untilAborted(lock.contenderDetails(), io.signal);
  if (details === undefined) return 130;
  const snapshot = toSnapshot(command.path, command.connectString, details);
  io.stdout(command.json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatSnapshot(snapshot));
  return 0;
}

async function watch(
  command: WatchOrInspect,
  coordinator: Coordinator,
  lock: SharedReentrantLock,
  io: CliIo,
): Promise<number> {
  const stop = io.signal ? [io.signal] : [];
  if (command.durationMs !== undefined) stop.push(AbortSignal.timeout(command.durationMs));
  const signal = AbortSignal.any(stop);
  const note = (text: string): void => io.stderr(`${timeOfDay()} ${text}\n`);
  coordinator.on('suspended', () => note('connection to ZooKeeper suspended: reconnecting'));
  coordinator.on('reconnected', () => note('reconnected'));
  coordinator.on('lost', ({ reason }) => note(`session lost (${reason}): opening a new one`));
  if (!command.json) {
    const over = command.tls ? ' over TLS' : '';
    note(`watching ${command.path} on ${command.connectString}${over} (Ctrl-C to stop)`);
  }

  let previous: Snapshot | undefined;
  let failing = false;
  while (!signal.aborted) {
    try {
      const details = await untilAborted(lock.contenderDetails(), signal);
      if (details === undefined) break;
      if (failing) note('reading contenders works again');
      failing = false;
      const snapshot = toSnapshot(command.path, command.connectString, details);
      if (!previous || !sameContenders(previous, snapshot)) {
        if (command.json) {
          const change = previous ? compareSnapshots(previous, snapshot) : null;
          io.stdout(`${JSON.stringify({ ...snapshot, change })}\n`);
        } else {
          const what = previous
            ? formatChange(previous, snapshot, compareSnapshots(previous, snapshot))
            : 'current contenders';
          io.stdout(`--- ${timeOfDay()} ${what}\n${formatSnapshot(snapshot)}`);
        }
        previous = snapshot;
      }
    } catch (error) {
      if (!failing) note(`cannot read contenders: ${errorMessage(error)} (retrying)`);
      failing = true;
    }
    await sleep(command.intervalMs, undefined, { signal }).catch(() => undefined);
  }
  return 0;
}

/** Resolves with the promise's value, or undefined once the signal aborts. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return undefined;
  }
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    promise.catch(() => undefined);
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof ZkLeaderSelectorError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

function timeOfDay(): string {
  return new Date().toISOString().slice(11, 23);
}

/** The version in the package.json next to the running script (found by walking up). */
function packageVersion(scriptPath: string | undefined): string {
  if (!scriptPath) return 'unknown';
  try {
    let dir = dirname(realpathSync(scriptPath));
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === 'zk-leader-selector' && pkg.version) return pkg.version;
      } catch {
        // no package.json here
      }
      const parent = dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  } catch {
    return 'unknown';
  }
}
