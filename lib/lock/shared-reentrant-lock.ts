/**
 * SharedReentrantLock: tw-leader-selector's ILock on ZooKeeper, wire-compatible with Curator's
 * InterProcessMutex. Reentrant per async flow; considerAsOwned() is true only while the lease
 * of the creating session runs and the last verification saw our node first with our id.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import {
  AbortError,
  InvalidArgumentError,
  InvalidOptionError,
  LockNotHeldError,
  OwnershipError,
  LockTimeoutError,
  ZooKeeperError,
  type OwnershipStatus,
} from '../errors.js';
import type { Coordinator } from '../session/coordinator.js';
import { monotonicNow, monotonicToEpoch } from '../util/clock.js';
import { logger } from '../util/log.js';
import { childPath, validatePath } from '../util/paths.js';
import { ZK_CODES } from '../zk/native.js';
import { toNativeAcl, type AclEntry } from './acl.js';
import type { ContenderImplementation } from './contenders.js';
import { currentFlow, Flow, flowForAcquire, runInFlow } from './flow.js';
import { LockInternals } from './lock-internals.js';
import { Acquisition, type LockLossReason } from './acquisition.js';
import { OwnershipVerifier } from './ownership-verifier.js';

const log = logger('lock');

/** Options of {@link Coordinator.createLock}. */
export interface LockOptions {
  /** Stored as our node's data and checked at every verification (default host:pid:random). */
  id?: string;
  /** ACL of our lock nodes (default: open). Parents are created open. */
  acl?: AclEntry[];
  /** How often a held lock is verified against the server (default 2000 ms). */
  verifyIntervalMs?: number;
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
  /** True for the first contender: the holder. */
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

const DEFAULT_VERIFY_INTERVAL_MS = 2000;

/**
 * A distributed, reentrant mutex on a ZooKeeper path, wire-compatible with Apache Curator's
 * InterProcessMutex. Create it with {@link Coordinator.createLock}; reentrant per async flow.
 */
export class SharedReentrantLock extends EventEmitter<LockEvents> {
  /** The lock path: contender nodes are created below it. */
  readonly path: string;
  /** This lock's id: stored as its nodes' data and checked at every verification. */
  readonly id: string;
  /** How often a held lock is verified against the server, in ms. */
  readonly verifyIntervalMs: number;
  private readonly internals: LockInternals;
  private readonly acquisitions = new Map<Flow, Acquisition>();
  private readonly contending = new Set<Flow>();
  private readonly verifier: OwnershipVerifier;

  constructor(
    private readonly coordinator: Coordinator,
    path: string,
    options: LockOptions = {},
  ) {
    super();
    this.path = validatePath(path);
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'must be an object');
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
      throw new InvalidOptionError('id', 'must be a non-empty string');
    }
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const interval = options.verifyIntervalMs ?? DEFAULT_VERIFY_INTERVAL_MS;
    if (!Number.isInteger(interval) || interval < 10 || interval > 3_600_000) {
      throw new InvalidOptionError(
        'verifyIntervalMs',
        `must be an integer between 10 and 3600000, got ${String(interval)}`,
      );
    }
    this.verifyIntervalMs = interval;
    this.internals = new LockInternals(
      coordinator,
      this.path,
      Buffer.from(this.id, 'utf8'),
      toNativeAcl(options.acl),
    );
    this.verifier = new OwnershipVerifier(
      coordinator,
      this.path,
      this.id,
      this.verifyIntervalMs,
      (acquisition, reason) => this.markLost(acquisition, reason),
    );
  }

  /**
   * Acquires the lock, waiting at most `timeoutMs` (0: try once; omitted: wait forever).
   * Resolves true when held (reentrant within the same async flow), false on timeout; rejects
   * with AbortError when the signal aborts. No node is left behind on timeout or abort.
   */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const { timeoutMs, signal } = parseAcquireOptions(options);
    this.coordinator.assertUsable('acquire()');
    const flow = flowForAcquire((f) => this.contending.has(f));
    const existing = this.acquisitions.get(flow);
    if (existing?.status === 'held') {
      existing.count += 1;
      return true;
    }
    if (signal?.aborted) throw new AbortError('acquire() was aborted', signal.reason);
    // A hold lost earlier (session expiry) and never released: clear it first.
    if (existing) await this.releaseAcquisition(existing, true);
    this.contending.add(flow);
    try {
      const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : monotonicNow() + timeoutMs;
      const node = await this.internals.attempt({ deadline, signal });
      if (!node) return false;
      if (this.coordinator.state === 'closed') {
        return false;
      }
      const acquisition = new Acquisition(flow, node);
      this.acquisitions.set(flow, acquisition);
      this.verifier.start(acquisition);
      // Expiry, giving up, or close(): every hold of that session is lost.
      acquisition.onSessionEnded = () => this.markLost(acquisition, 'sessionExpired');
      node.session.once('ended', acquisition.onSessionEnded);
      log('%s acquired as %s (fencing token %s)', this.path, node.nodeName, node.czxid);
      this.emit('acquired', { path: this.path, node: node.nodeName, fencingToken: node.czxid });
      return true;
    } finally {
      this.contending.delete(flow);
    }
  }

  /**
   * Releases one level of the current flow's hold; the last level deletes the node.
   * After a lost session it clears local state without throwing.
   */
  async release(): Promise<void> {
    const flow = currentFlow();
    const acquisition = flow ? this.acquisitions.get(flow) : undefined;
    if (!acquisition || acquisition.status === 'released') throw new LockNotHeldError(this.path);
    await this.releaseAcquisition(acquisition, false);
  }

  private async releaseAcquisition(acquisition: Acquisition, all: boolean): Promise<void> {
    acquisition.count = all ? 0 : acquisition.count - 1;
    if (acquisition.count > 0) return;
    acquisition.status = 'released';
    this.detach(acquisition);
    if (this.acquisitions.get(acquisition.flow) === acquisition) this.acquisitions.delete(acquisition.flow);
    if (this.coordinator.state !== 'closed') {
      // Bounded: while disconnected the delete goes on in the background (guaranteed delete).
      await this.internals.deleteNodeWithin(acquisition.node.nodePath, acquisition.node.session);
    }
    log('%s released %s', this.path, acquisition.node.nodeName);
    this.emit('released', { path: this.path, node: acquisition.node.nodeName });
  }

  /** Releases an acquisition completely, whatever the calling flow. @internal */
  releaseHeld(acquisition: Acquisition): Promise<void> {
    return this.releaseAcquisition(acquisition, true);
  }

  /** @internal */
  get coordinatorRef(): Coordinator {
    return this.coordinator;
  }

  /** The current flow's acquisition, if any. @internal */
  acquisitionOfCurrentFlow(): Acquisition | undefined {
    const flow = currentFlow();
    return flow ? this.acquisitions.get(flow) : undefined;
  }

  /** True while the current flow may act as the owner: see DESIGN.md. */
  considerAsOwned(): boolean {
    const acquisition = this.acquisitionOfCurrentFlow();
    return acquisition !== undefined && this.isOwnedNow(acquisition);
  }

  /** @internal */
  isOwnedNow(acquisition: Acquisition): boolean {
    if (acquisition.status !== 'held' || !acquisition.verifiedOk) return false;
    const session = acquisition.node.session;
    if (session.ended || this.coordinator.session !== session) return false;
    return monotonicNow() < this.coordinator.leaseDeadline(session);
  }

  /** Epoch ms until which the current flow's ownership is guaranteed (0 when not owned). */
  ownershipDeadline(): number {
    const acquisition = this.acquisitionOfCurrentFlow();
    return acquisition ? this.deadlineOf(acquisition) : 0;
  }

  /** @internal */
  deadlineOf(acquisition: Acquisition): number {
    if (!this.isOwnedNow(acquisition)) return 0;
    return monotonicToEpoch(this.coordinator.leaseDeadline(acquisition.node.session));
  }

  /** The lock node's czxid: strictly increasing across acquisitions and lock paths. */
  get fencingToken(): bigint | undefined {
    const acquisition = this.acquisitionOfCurrentFlow();
    return acquisition?.status === 'held' ? acquisition.node.czxid : undefined;
  }

  /** Full path of the current flow's lock node. */
  get nodePath(): string | undefined {
    return this.acquisitionOfCurrentFlow()?.node.nodePath;
  }

  /** Asks the server now; true if the current flow owns the lock. */
  async isOwned(maxWaitMs?: number): Promise<boolean> {
    try {
      await this.verifyOwnership(maxWaitMs);
      return true;
    } catch (error) {
      if (error instanceof OwnershipError) return false;
      throw error;
    }
  }

  /** Asks the server now; throws OwnershipError (status CONNECTION_LOST, SERVER_SIDE_ID_DIFFERENT or NOT_ACQUIRED). */
  async verifyOwnership(maxWaitMs?: number): Promise<void> {
    if (maxWaitMs !== undefined && (!Number.isFinite(maxWaitMs) || maxWaitMs < 0)) {
      throw new InvalidArgumentError(`verifyOwnership(maxWaitMs): must be >= 0, got ${maxWaitMs}`);
    }
    const acquisition = this.acquisitionOfCurrentFlow();
    if (!acquisition || acquisition.status === 'released') {
      throw new OwnershipError('NOT_ACQUIRED', `${this.path} is not acquired by this async flow`);
    }
    const status = await this.verifier.verify(acquisition, maxWaitMs);
    if (status === 'OK' && this.isOwnedNow(acquisition)) return;
    const reason = status === 'OK' ? 'CONNECTION_LOST' : status;
    throw new OwnershipError(
      reason,
      reason === 'SERVER_SIDE_ID_DIFFERENT'
        ? `${this.path}: our node is gone, not first, or holds another id`
        : `${this.path}: ownership cannot be confirmed (session or connection lost)`,
    );
  }

  /**
   * Acquires and returns a handle for `await using`: released at scope exit.
   * Rejects with an AcquireTimeoutError-coded error if not acquired in time.
   */
  async hold(options?: AcquireOptions): Promise<LockHandle> {
    if (!(await this.acquire(options))) {
      throw new LockTimeoutError(this.path, parseAcquireOptions(options).timeoutMs ?? 0);
    }
    const acquisition = this.acquisitionOfCurrentFlow() as Acquisition;
    const release = async (): Promise<void> => {
      if (acquisition.status !== 'released') await this.releaseAcquisition(acquisition, false);
    };
    return {
      path: this.path,
      fencingToken: acquisition.node.czxid,
      considerAsOwned: () => this.isOwnedNow(acquisition),
      ownershipDeadline: () => this.deadlineOf(acquisition),
      release,
      [Symbol.asyncDispose]: release,
    };
  }

  /**
   * Runs `fn` holding the lock, in a flow of its own (acquires inside are reentrant), and
   * releases it afterwards. Resolves with fn's result; rejects with a LOCK_TIMEOUT-coded error if
   * the lock was not acquired in time.
   */
  async runExclusive<T>(fn: (handle: LockHandle) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    return runInFlow(new Flow(), async () => {
      const handle = await this.hold(options);
      try {
        return await fn(handle);
      } finally {
        await handle.release();
      }
    });
  }

  /** Ordered ids of all contenders (ours, Curator's, kazoo's): the first holds the lock. */
  async contenders(): Promise<string[]> {
    return (await this.contenderDetails()).map((c) => c.id);
  }

  /** Contenders in lock order with their node, id, owner session and implementation. */
  async contenderDetails(): Promise<ContenderInfo[]> {
    return this.coordinator.retrying('contenders()', {}, async (session, timeoutMs) => {
      const sorted = await this.internals.contenders(session, timeoutMs);
      const details = await Promise.all(
        sorted.map(async (contender) => {
          try {
            const { data, stat } = await session.getData(childPath(this.path, contender.name), { timeoutMs });
            return {
              node: contender.name,
              id: data.toString('utf8'),
              sessionId: stat.ephemeralOwner.toString('hex'),
              createdAt: Number(stat.ctime.readBigInt64BE(0)),
              implementation: contender.implementation,
              holder: false,
            };
          } catch (error) {
            if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) return undefined;
            throw error;
          }
        }),
      );
      const present = details.filter((d): d is ContenderInfo => d !== undefined);
      if (present[0]) present[0].holder = true;
      return present;
    });
  }

  /** Verifies an acquisition against the server now. @internal */
  verifyAcquisition(acquisition: Acquisition, maxWaitMs?: number): Promise<OwnershipStatus | 'OK'> {
    return this.verifier.verify(acquisition, maxWaitMs);
  }

  private markLost(acquisition: Acquisition, reason: LockLossReason): void {
    if (acquisition.status !== 'held') return;
    acquisition.status = 'lost';
    acquisition.lossReason = reason;
    acquisition.verifiedOk = false;
    this.detach(acquisition);
    log('%s: lost %s (%s)', this.path, acquisition.node.nodeName, reason);
    this.emit('lost', { path: this.path, node: acquisition.node.nodeName, reason });
  }

  /** Stops the verification timer and the session listener of an acquisition. */
  private detach(acquisition: Acquisition): void {
    if (acquisition.timer) clearTimeout(acquisition.timer);
    acquisition.timer = undefined;
    if (acquisition.onSessionEnded) acquisition.node.session.off('ended', acquisition.onSessionEnded);
    acquisition.onSessionEnded = undefined;
  }

  /** Releases every level of the current flow's hold when used with `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    const acquisition = this.acquisitionOfCurrentFlow();
    if (acquisition && acquisition.status !== 'released') await this.releaseAcquisition(acquisition, true);
  }
}

function parseAcquireOptions(options: AcquireOptions | undefined): {
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
