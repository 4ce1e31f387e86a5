/** The public shapes of a lock: options, events, handles, contenders; and acquire()'s argument. */
import { InvalidArgumentError } from '../errors.js';
import type { ConnectionLossPolicy } from '../session/options.js';
import type { AclEntry } from './acl.js';
import type { ContenderImplementation } from './lock-driver.js';
import type { LockLossReason } from './acquisition.js';

/** Options of {@link Coordinator.createLock}. */
export interface LockOptions {
  /** Stored as our node's data and checked at every verification (default host:pid:random). */
  id?: string;
  /** ACL of our lock nodes (default: open). Parents are created open. */
  acl?: AclEntry[];
  /** How often a held lock is verified against the server (default 2000 ms). */
  verifyIntervalMs?: number;
  /**
   * What a suspended connection means for this lock (default: the coordinator's, itself 'lease').
   * 'lease': owned until the lease ends; 'strict': not owned until the same session answers again.
   */
  connectionLossPolicy?: ConnectionLossPolicy;
  /**
   * Delete the lock path node when the last contender leaves it (default true): Curator's
   * CONTAINER nodes, which node-zookeeper-client cannot create. Only the lock path itself (never
   * an ancestor), only when it has no children and no data. See the README for kazoo peers.
   */
  removeEmptyPath?: boolean;
}

/** acquire()'s argument: a max wait in ms, or a max wait and an AbortSignal. */
export type AcquireOptions =
  | number
  | {
      /** Max wait in ms (0: try once; omitted: wait until acquired or aborted). */
      timeoutMs?: number;
      /** Aborts the wait: acquire() rejects with AbortError and leaves no node behind. */
      signal?: AbortSignal;
    };

export type { LockLossReason } from './acquisition.js';

/** Events of a lock (eventemitter3). */
export interface LockEvents {
  /** The lock was acquired (the first level of a reentrant hold). */
  acquired: (info: { path: string; node: string; fencingToken: bigint }) => void;
  /** The last level of a hold was released and its node deleted. */
  released: (info: { path: string; node: string }) => void;
  /** A held acquisition is lost for good; release() still has to be called. */
  lost: (info: { path: string; node: string; reason: LockLossReason }) => void;
}

/** One contender, in lock order. */
export interface ContenderInfo {
  /** Child node name. */
  node: string;
  /** The node's data as text: the contender's id (Curator stores the client's address). */
  id: string;
  /** Owner session id, 16 hex digits. */
  sessionId: string;
  /** Node creation time, epoch ms. */
  createdAt: number;
  /** Which protocol the node's name follows. */
  implementation: ContenderImplementation;
  /** True for contenders that hold (the first one for a mutex; every reader before the first writer). */
  holder: boolean;
}

/** A held lock returned by hold(): release it, or let `await using` do it. */
export interface LockHandle {
  /** The lock path. */
  readonly path: string;
  /** The lock node's czxid: strictly increasing across holders; pass it to storage that supports fencing. */
  readonly fencingToken: bigint;
  /** True while this hold may act as the owner (see SharedReentrantLock.considerAsOwned). */
  considerAsOwned(): boolean;
  /** Epoch ms until which this hold's ownership is guaranteed (0 when not owned). */
  ownershipDeadline(): number;
  /** Releases this hold (idempotent). */
  release(): Promise<void>;
  /** Releases this hold at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Validates acquire()'s argument. */
export function parseAcquireOptions(options: AcquireOptions | undefined): {
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
} {
  if (options === undefined) return { timeoutMs: undefined, signal: undefined };
  const raw = typeof options === 'number' ? { timeoutMs: options } : options;
  if (typeof raw !== 'object' || raw === null) {
    throw new InvalidArgumentError('acquire(): pass a max wait in ms or { timeoutMs, signal }');
  }
  const timeoutMs = raw.timeoutMs;
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)
  ) {
    throw new InvalidArgumentError(
      `acquire(): the max wait must be a number >= 0 ms, got ${String(timeoutMs)}`,
    );
  }
  return {
    timeoutMs: timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs,
    signal: raw.signal,
  };
}
