/**
 * Removal of empty lock paths (DESIGN.md, "Many claims per process"): Curator gets this from
 * CONTAINER nodes, which node-zookeeper-client cannot create. After the last release of a lock,
 * and after a waiter gives up, the lock path node is deleted when it has no children.
 *
 * - Only the lock path itself, never an ancestor, and only a node that looks like a lock path:
 *   persistent, no data, no children (`exists` first, then `delete` at the version seen, so a
 *   node rewritten in between stays). NOT_EMPTY means another contender is there; NO_NODE that
 *   someone else removed it: both are fine. Contenders that meet NO_NODE re-create the path.
 * - A path released again within HOT_MS by this coordinator is hot (a lock taken in a loop):
 *   its removal waits until it has been left alone for HOT_MS, so a busy lock does not pay for
 *   removing and re-creating its path on every cycle.
 * One timer per coordinator, only while removals are pending; cleared on close().
 */
import { ZooKeeperError } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { ZK_CODES, type NativeStat } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';

const log = logger('lock');

/** A path left again within this many ms is hot: its removal is deferred until it is idle that long. */
export const HOT_MS = 1000;

const reapers = new WeakMap<CoordinatorCore, PathReaper>();
const ensuring = new WeakMap<CoordinatorCore, Map<string, Promise<void>>>();

/**
 * Creates the missing ancestors of a lock path once for all its contenders of this coordinator
 * (thousands of locks below one new parent would otherwise each create the whole chain).
 */
export function ensureParent(
  coordinator: CoordinatorCore,
  parent: string,
  signal?: AbortSignal,
): Promise<void> {
  let inFlight = ensuring.get(coordinator);
  if (!inFlight) {
    inFlight = new Map();
    ensuring.set(coordinator, inFlight);
  }
  let promise = inFlight.get(parent);
  if (!promise) {
    const map = inFlight;
    promise = coordinator.ensurePath(parent).finally(() => map.delete(parent));
    map.set(parent, promise);
  }
  if (!signal) return promise;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      signal.throwIfAborted();
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    }),
  ]);
}

/** True when `stat` describes a node we may remove as an empty lock path. */
export function isEmptyLockPath(stat: NativeStat): boolean {
  return stat.numChildren === 0 && stat.dataLength === 0 && stat.ephemeralOwner.readBigInt64BE(0) === 0n;
}

export class PathReaper {
  /** When each path was last left (monotonic ms), kept for HOT_MS. */
  private readonly recent = new Map<string, number>();
  /** Hot paths whose removal waits until they were left alone for HOT_MS. */
  private readonly deferred = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed: boolean;

  private constructor(private readonly coordinator: CoordinatorCore) {
    this.closed = coordinator.state === 'closed';
    coordinator.once('closed', () => {
      this.closed = true;
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
    });
  }

  static of(coordinator: CoordinatorCore): PathReaper {
    let reaper = reapers.get(coordinator);
    if (!reaper) {
      reaper = new PathReaper(coordinator);
      reapers.set(coordinator, reaper);
    }
    return reaper;
  }

  /**
   * A lock on `path` was left (released, or a waiter gave up). Returns true when the caller
   * should remove the path now (it sends the probe, pipelined with its own delete); false when
   * the path is hot and its removal is deferred.
   */
  left(path: string): boolean {
    const now = monotonicNow();
    const last = this.recent.get(path);
    this.recent.set(path, now);
    this.startTimer();
    if (last !== undefined && now - last < HOT_MS) {
      this.deferred.add(path);
      return false;
    }
    this.deferred.delete(path);
    return true;
  }

  /** Removes `path` if `probe` (an exists answered after our delete) shows an empty lock path. */
  async removeIfEmpty(session: ZkSession, path: string, probe: Promise<NativeStat | null>): Promise<boolean> {
    const timeoutMs = this.coordinator.timing.requestTimeoutMs;
    try {
      const stat = await probe;
      if (!stat || !isEmptyLockPath(stat)) return false;
      await session.remove(path, stat.version, { timeoutMs });
      log('%s: removed the empty lock path', path);
      return true;
    } catch (error) {
      const code = error instanceof ZooKeeperError ? error.zkCode : undefined;
      // NOT_EMPTY: someone contends; NO_NODE: someone removed it; BAD_VERSION: rewritten.
      if (code !== ZK_CODES.NOT_EMPTY && code !== ZK_CODES.NO_NODE && code !== ZK_CODES.BAD_VERSION) {
        log('%s: removing the lock path failed: %s', path, (error as Error).message);
      }
      return false;
    }
  }

  private startTimer(): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => this.sweep(), HOT_MS / 2);
  }

  private sweep(): void {
    const now = monotonicNow();
    const due: string[] = [];
    for (const [path, at] of this.recent) {
      if (now - at < HOT_MS) continue;
      this.recent.delete(path);
      if (this.deferred.delete(path)) due.push(path);
    }
    if (this.recent.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    const session = this.coordinator.session;
    if (due.length === 0 || !session || session.ended || !session.isConnected) return;
    const timeoutMs = this.coordinator.timing.requestTimeoutMs;
    for (const path of due) {
      const probe = session.exists(path, { timeoutMs });
      void this.removeIfEmpty(session, path, probe);
    }
  }
}
