/**
 * `zk-leader-selector prune <root>`: empty lock paths below a root (left by crashed processes, by
 * older versions, or by locks with removeEmptyPath off), listed, and deleted with --yes.
 *
 * An empty lock path is a node below the root (never the root itself, never /zookeeper) that is
 * persistent, holds no data, has no children, and once had some (cversion > 0: a contender node
 * was created and deleted in it). A path is deleted at the version seen, so a node that changed
 * or got a child in between stays (NOT_EMPTY: someone contends right now).
 */
import { ZooKeeperError } from '../errors.js';
import type { Coordinator } from '../coordinator.js';
import { childPath } from '../util/paths.js';
import { isZkCode, ZK_CODES, type NativeStat } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';

/** One empty lock path found (also the --json shape). */
export interface PruneCandidate {
  path: string;
  /** Last modification of the node itself (its creation, for a lock path), ISO 8601. */
  modifiedAt: string;
  /** Time since modifiedAt, ms (by this machine's clock). */
  ageMs: number;
  /** With --yes: true when deleted. */
  deleted: boolean;
  /** With --yes: why it was not deleted (e.g. "not empty any more"). */
  skipped?: string;
}

export interface PruneReport {
  root: string;
  connectString: string;
  dryRun: boolean;
  olderThanMs: number | null;
  /** Nodes looked at below the root. */
  scanned: number;
  paths: PruneCandidate[];
}

const CONCURRENCY = 64;

function isEmptyLockPathNode(stat: NativeStat): boolean {
  return (
    stat.numChildren === 0 &&
    stat.dataLength === 0 &&
    stat.cversion > 0 &&
    stat.ephemeralOwner.readBigInt64BE(0) === 0n
  );
}

/** Walks the tree below `root` and, unless `dryRun`, deletes the empty lock paths found. */
export async function prune(
  coordinator: Coordinator,
  options: { root: string; dryRun: boolean; olderThanMs: number | undefined; signal?: AbortSignal },
  now = Date.now(),
): Promise<PruneReport> {
  const report: PruneReport = {
    root: options.root,
    connectString: coordinator.connectString,
    dryRun: options.dryRun,
    olderThanMs: options.olderThanMs ?? null,
    scanned: 0,
    paths: [],
  };
  const stats = new Map<string, NativeStat>();
  let level = [options.root];
  while (level.length > 0) {
    options.signal?.throwIfAborted();
    const next: string[] = [];
    await eachLimited(level, async (path) => {
      const children = await coordinator.retrying('prune', {}, (session, timeoutMs) =>
        session.getChildren(path, { timeoutMs }).catch(noNode([] as string[])),
      );
      await eachLimited(children, async (name) => {
        const child = childPath(path, name);
        if (child === '/zookeeper') return;
        const stat = await coordinator.retrying('prune', {}, (session, timeoutMs) =>
          session.exists(child, { timeoutMs }),
        );
        if (!stat) return;
        report.scanned += 1;
        stats.set(child, stat);
        if (stat.numChildren > 0) next.push(child);
      });
    });
    level = next;
  }
  for (const [path, stat] of [...stats].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!isEmptyLockPathNode(stat)) continue;
    const modified = Number(stat.mtime.readBigInt64BE(0));
    const ageMs = Math.max(0, now - modified);
    if (options.olderThanMs !== undefined && ageMs < options.olderThanMs) continue;
    report.paths.push({ path, modifiedAt: new Date(modified).toISOString(), ageMs, deleted: false });
  }
  if (!options.dryRun) {
    await eachLimited(report.paths, async (candidate) => {
      const stat = stats.get(candidate.path);
      if (!stat) return;
      try {
        await coordinator.retrying('prune', {}, (session: ZkSession, timeoutMs) =>
          session.remove(candidate.path, stat.version, { timeoutMs }),
        );
        candidate.deleted = true;
      } catch (error) {
        const code = error instanceof ZooKeeperError ? error.zkCode : undefined;
        if (code === ZK_CODES.NOT_EMPTY) candidate.skipped = 'not empty any more (a contender is there)';
        else if (code === ZK_CODES.NO_NODE) candidate.skipped = 'already gone';
        else if (code === ZK_CODES.BAD_VERSION) candidate.skipped = 'changed since it was listed';
        else throw error;
      }
    });
  }
  return report;
}

function noNode<T>(value: T): (error: unknown) => T {
  return (error) => {
    if (isZkCode(error, ZK_CODES.NO_NODE)) return value;
    throw error;
  };
}

/** Runs `fn` for every item, at most CONCURRENCY at a time (pipelined on one session). */
async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  const worker = async (): Promise<void> => {
    while (index < items.length) {
      const item = items[index] as T;
      index += 1;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/** Human-readable age: 45s, 12m, 3h 5m, 2d 4h. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatPruneReport(report: PruneReport): string {
  const lines: string[] = [];
  if (report.paths.length > 0) {
    const width = Math.max(15, ...report.paths.map((p) => p.path.length));
    lines.push(`${'EMPTY LOCK PATH'.padEnd(width)}  ${'AGE'.padEnd(8)}${report.dryRun ? '' : '  RESULT'}`);
    for (const p of report.paths) {
      const result = report.dryRun ? '' : `  ${p.deleted ? 'deleted' : `skipped: ${p.skipped ?? ''}`}`;
      lines.push(`${p.path.padEnd(width)}  ${formatAge(p.ageMs).padEnd(8)}${result}`.trimEnd());
    }
  }
  const older = report.olderThanMs === null ? '' : ` older than ${formatAge(report.olderThanMs)}`;
  const count = `${report.paths.length} empty lock path${report.paths.length === 1 ? '' : 's'}${older} below ${report.root} (${report.scanned} nodes scanned)`;
  if (report.dryRun) {
    lines.push(
      `${count}: dry run, nothing deleted${report.paths.length > 0 ? ' (pass --yes to delete them)' : ''}`,
    );
  } else {
    lines.push(`${count}: deleted ${report.paths.filter((p) => p.deleted).length}`);
  }
  return `${lines.join('\n')}\n`;
}
