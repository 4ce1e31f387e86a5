/**
 * SharedReentrantLock: tw-leader-selector's ILock on ZooKeeper, wire-compatible with Curator's
 * InterProcessMutex. One instance is one owner (kazoo, etcd3): concurrent acquire() calls on it
 * take turns locally; reentrant inside runExclusive() and leader callbacks. considerAsOwned() is
 * true only while the lease of the creating session runs and the last verification saw our node
 * first with our id.
 */
import { EventEmitter } from 'eventemitter3';
import {
  InvalidArgumentError,
  InvalidOptionError,
  LockNotHeldError,
  OwnershipError,
  LockTimeoutError,
  type OwnershipStatus,
} from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { checkConnectionLossPolicy, type ConnectionLossPolicy } from '../session/options.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { childPath, validatePath } from '../util/paths.js';
import { toNativeAcl } from './acl.js';
import { runInHold, scopedHold } from './hold-scope.js';
import { LocalQueue } from './local-queue.js';
import { LockInternals } from './lock-internals.js';
import { MUTEX_DRIVER, type LockDriver } from './lock-driver.js';
import { Acquisition, type LockLossReason } from './acquisition.js';
import { OwnershipVerifier } from './ownership-verifier.js';
import { ownedNow, ownedUntil } from './ownership.js';
import { observedAcquire, trackHold } from './lock-telemetry.js';
import {
  parseAcquireOptions,
  type AcquireOptions,
  type ContenderInfo,
  type LockEvents,
  type LockHandle,
  type LockOptions,
} from './lock-types.js';
import { defaultId } from '../util/default-id.js';

const log = logger('lock');

export type {
  AcquireOptions,
  ContenderInfo,
  LockEvents,
  LockHandle,
  LockLossReason,
  LockOptions,
} from './lock-types.js';

const DEFAULT_VERIFY_INTERVAL_MS = 2000;

/**
 * A distributed, reentrant mutex on a ZooKeeper path, wire-compatible with Apache Curator's
 * InterProcessMutex. Create it with {@link Coordinator.createLock}. One instance is one owner:
 * concurrent acquire() calls on it take turns; reentrant inside runExclusive() and leader callbacks.
 */
export class SharedReentrantLock extends EventEmitter<LockEvents> {
  /** The lock path: contender nodes are created below it. */
  readonly path: string;
  /** This lock's id: stored as its nodes' data and checked at every verification. */
  readonly id: string;
  /** How often a held lock is verified against the server, in ms. */
  readonly verifyIntervalMs: number;
  private readonly policy: ConnectionLossPolicy | undefined;
  /** Whether the lock path node is deleted when the last contender leaves it. */
  readonly removeEmptyPath: boolean;
  private readonly internals: LockInternals;
  /** Local turns: one hold of this instance at a time. */
  private readonly turns = new LocalQueue();
  /** The instance's hold, from the acquire() that took it to its last release(). */
  private current: Acquisition | undefined;
  private readonly verifier: OwnershipVerifier;

  constructor(
    private readonly coordinator: CoordinatorCore,
    path: string,
    options: LockOptions = {},
    /** The recipe's rules (the mutex unless a read-write lock or latch builds this lock). */
    readonly driver: LockDriver = MUTEX_DRIVER,
  ) {
    super();
    this.path = validatePath(path);
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'must be an object');
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id === '')) {
      throw new InvalidOptionError('id', 'must be a non-empty string');
    }
    this.id = options.id ?? defaultId();
    const interval = options.verifyIntervalMs ?? DEFAULT_VERIFY_INTERVAL_MS;
    if (!Number.isInteger(interval) || interval < 10 || interval > 3_600_000) {
      throw new InvalidOptionError(
        'verifyIntervalMs',
        `must be an integer between 10 and 3600000, got ${String(interval)}`,
      );
    }
    this.verifyIntervalMs = interval;
    this.policy = checkConnectionLossPolicy(options.connectionLossPolicy);
    this.internals = new LockInternals(
      coordinator,
      this.path,
      Buffer.from(this.id, 'utf8'),
      toNativeAcl(options.acl),
      driver,
    );
    if (options.removeEmptyPath !== undefined && typeof options.removeEmptyPath !== 'boolean') {
      throw new InvalidOptionError('removeEmptyPath', 'must be a boolean');
    }
    this.removeEmptyPath = options.removeEmptyPath ?? true;
    this.internals.removeEmptyPath = this.removeEmptyPath;
    this.internals.pathKnown = !this.removeEmptyPath;
    this.verifier = new OwnershipVerifier(
      coordinator,
      this.path,
      this.id,
      driver,
      this.verifyIntervalMs,
      (acquisition, reason) => this.markLost(acquisition, reason),
    );
  }

  /**
   * Acquires the lock, waiting at most `timeoutMs` (0: try once; omitted: wait forever).
   * Resolves true when held, false on timeout; rejects with AbortError when the signal aborts.
   * Concurrent calls on one instance take turns (one hold at a time); inside runExclusive() or a
   * leader callback of this lock it nests instead. No node is left behind on timeout or abort.
   */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    return (await this.acquireHold(options)) !== undefined;
  }

  /** acquire(), resolving with the hold taken (or nested into). @internal */
  async acquireHold(options?: AcquireOptions): Promise<Acquisition | undefined> {
    const { timeoutMs, signal } = parseAcquireOptions(options);
    this.coordinator.assertUsable('acquire()');
    const scoped = scopedHold(this);
    if (scoped && scoped.status !== 'released') {
      // Reentry inside the scope of a hold: a count, no round trip. A lost hold cannot be re-entered.
      if (scoped.status !== 'held') return undefined;
      scoped.count += 1;
      return scoped;
    }
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : monotonicNow() + timeoutMs;
    return observedAcquire(this.coordinator.observability, this.path, this.id, () =>
      this.takeHold(deadline, signal),
    );
  }

  private async takeHold(
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Acquisition | undefined> {
    if (!(await this.turns.enter(deadline, signal, 'acquire()'))) return undefined;
    let acquisition: Acquisition | undefined;
    try {
      const node = await this.internals.attempt({ deadline, signal });
      if (!node) return undefined;
      if (this.coordinator.state === 'closed') return undefined;
      acquisition = new Acquisition(this, node, monotonicNow());
    } finally {
      if (!acquisition) this.turns.leave();
    }
    this.current = acquisition;
    // Verified in the coordinator's batch, which also marks it lost when its session ends.
    this.verifier.start(acquisition);
    const held = acquisition;
    acquisition.untrack = trackHold(this.coordinator.observability, this.path, held, () =>
      this.isOwnedNow(held),
    );
    log('%s acquired as %s (fencing token %s)', this.path, acquisition.node.nodeName, acquisition.node.czxid);
    this.emit('acquired', {
      path: this.path,
      node: acquisition.node.nodeName,
      fencingToken: acquisition.node.czxid,
    });
    return acquisition;
  }

  /**
   * Releases one level of the hold (inside runExclusive or a leader callback: that scope's hold;
   * elsewhere: this instance's hold); the last level deletes the node and lets the next caller of
   * this instance in. After a lost session it clears local state without throwing.
   */
  async release(): Promise<void> {
    const acquisition = this.activeHold();
    if (!acquisition || acquisition.status === 'released') throw new LockNotHeldError(this.path);
    await this.releaseAcquisition(acquisition, false);
  }

  private async releaseAcquisition(acquisition: Acquisition, all: boolean): Promise<void> {
    acquisition.count = all ? 0 : acquisition.count - 1;
    if (acquisition.count > 0) return;
    acquisition.status = 'released';
    this.detach(acquisition);
    acquisition.untrack?.();
    acquisition.untrack = undefined;
    try {
      if (this.coordinator.state !== 'closed') {
        // Bounded: while disconnected the delete goes on in the background (guaranteed delete).
        await this.internals.leave(acquisition.node);
      }
    } finally {
      if (this.current === acquisition) {
        this.current = undefined;
        this.turns.leave();
      }
    }
    log('%s released %s', this.path, acquisition.node.nodeName);
    this.emit('released', { path: this.path, node: acquisition.node.nodeName });
  }

  /** Releases an acquisition completely, whatever the calling context. @internal */
  releaseHeld(acquisition: Acquisition): Promise<void> {
    return this.releaseAcquisition(acquisition, true);
  }

  /** @internal */
  get coordinatorRef(): CoordinatorCore {
    return this.coordinator;
  }

  /** The hold calls refer to: the enclosing scope's hold of this lock, else this instance's. @internal */
  activeHold(): Acquisition | undefined {
    return scopedHold(this) ?? this.current;
  }

  /** Runs `fn` in the scope of a hold of this lock (acquire() inside it nests). @internal */
  runHolding<T>(acquisition: Acquisition, fn: () => T): T {
    return runInHold(acquisition, fn);
  }

  /** True while this lock (the enclosing scope's hold, else this instance's) may act as the owner: see DESIGN.md. */
  considerAsOwned(): boolean {
    const acquisition = this.activeHold();
    return acquisition !== undefined && this.isOwnedNow(acquisition);
  }

  /** What a suspended connection means for this lock: its own option, else the coordinator's. */
  get connectionLossPolicy(): ConnectionLossPolicy {
    return this.policy ?? this.coordinator.connectionLossPolicy;
  }

  /** @internal */
  isOwnedNow(acquisition: Acquisition, policy = this.connectionLossPolicy): boolean {
    return ownedNow(this.coordinator, acquisition, policy);
  }

  /** Epoch ms until which the hold's ownership is guaranteed (0 when not owned). */
  ownershipDeadline(): number {
    const acquisition = this.activeHold();
    return acquisition ? this.deadlineOf(acquisition) : 0;
  }

  /** @internal */
  deadlineOf(acquisition: Acquisition): number {
    return ownedUntil(this.coordinator, acquisition, this.connectionLossPolicy);
  }

  /** The lock node's czxid: strictly increasing across acquisitions and lock paths. */
  get fencingToken(): bigint | undefined {
    const acquisition = this.activeHold();
    return acquisition?.status === 'held' ? acquisition.node.czxid : undefined;
  }

  /** Full path of the hold's lock node. */
  get nodePath(): string | undefined {
    return this.activeHold()?.node.nodePath;
  }

  /** Asks the server now; true if the hold owns the lock. */
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
    const acquisition = this.activeHold();
    if (!acquisition || acquisition.status === 'released') {
      throw new OwnershipError('NOT_ACQUIRED', `${this.path} is not acquired by this lock instance`);
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
   * Acquires and returns a handle bound to this hold, for `await using`: released at scope exit.
   * Rejects with a LOCK_TIMEOUT-coded error if not acquired in time.
   */
  async hold(options?: AcquireOptions): Promise<LockHandle> {
    const acquisition = await this.acquireHold(options);
    if (!acquisition) throw new LockTimeoutError(this.path, parseAcquireOptions(options).timeoutMs ?? 0);
    return this.handleFor(acquisition);
  }

  private handleFor(acquisition: Acquisition): LockHandle {
    let released = false;
    const release = async (): Promise<void> => {
      // Once per handle: a handle gives back exactly the level it took.
      if (released || acquisition.status === 'released') return;
      released = true;
      await this.releaseAcquisition(acquisition, false);
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
   * Runs `fn` holding the lock and releases it afterwards. Inside `fn`, acquire() of this lock
   * nests, and release()/considerAsOwned() refer to this hold. Resolves with fn's result; rejects
   * with a LOCK_TIMEOUT-coded error if the lock was not acquired in time.
   */
  async runExclusive<T>(fn: (handle: LockHandle) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    const nested = scopedHold(this);
    const acquisition = await this.acquireHold(options);
    if (!acquisition) throw new LockTimeoutError(this.path, parseAcquireOptions(options).timeoutMs ?? 0);
    const handle = this.handleFor(acquisition);
    try {
      return await runInHold(acquisition, () => fn(handle));
    } finally {
      // The scope is over: a fresh hold goes entirely (levels fn took and kept included).
      if (acquisition === nested) await handle.release();
      else if (acquisition.status !== 'released') await this.releaseAcquisition(acquisition, true);
    }
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
        sorted.map(async (contender, index) => {
          const found = await session.getDataIfExists(childPath(this.path, contender.name), { timeoutMs });
          if (!found) return undefined;
          return {
            node: contender.name,
            id: found.data.toString('utf8'),
            sessionId: found.stat.ephemeralOwner.toString('hex'),
            createdAt: Number(found.stat.ctime.readBigInt64BE(0)),
            implementation: contender.implementation,
            holder: this.driver.verdict(sorted, index, sorted.length).holds,
          };
        }),
      );
      return details.filter((d): d is ContenderInfo => d !== undefined);
    });
  }

  /** Verifies an acquisition against the server now. @internal */
  verifyAcquisition(acquisition: Acquisition, maxWaitMs?: number): Promise<OwnershipStatus | 'OK'> {
    // A leader's tick: answered by the batch's latest check when it is recent enough.
    return this.verifier.verifyRecent(acquisition, maxWaitMs, maxWaitMs ?? this.verifyIntervalMs);
  }

  private markLost(acquisition: Acquisition, reason: LockLossReason): void {
    if (!acquisition.lose(reason)) return;
    this.detach(acquisition);
    log('%s: lost %s (%s)', this.path, acquisition.node.nodeName, reason);
    this.coordinator.observability.lockLost(this.path, acquisition.node.nodeName, reason);
    this.emit('lost', { path: this.path, node: acquisition.node.nodeName, reason });
  }

  /** Stops verifying an acquisition (leaves the coordinator's batch, drops its watch listener). */
  private detach(acquisition: Acquisition): void {
    this.verifier.stop(acquisition);
  }

  /** Releases every level of the hold when used with `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    const acquisition = this.activeHold();
    if (acquisition && acquisition.status !== 'released') await this.releaseAcquisition(acquisition, true);
  }
}
