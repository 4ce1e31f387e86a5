/**
 * Semaphore: Apache Curator's InterProcessSemaphoreV2 protocol. An acquire takes the mutex at
 * `<path>/locks`, creates `<path>/leases/_c_<uuid>-lease-<seq>`, and while more than maxLeases
 * children are under `leases` waits (still holding the mutex) for them to change; then it lets
 * the mutex go. maxLeases is not stored in ZooKeeper: every client of a path must use the same.
 */
import { InvalidOptionError } from '../errors.js';
import { Acquisition, type LockLossReason } from '../lock/acquisition.js';
import { toNativeAcl } from '../lock/acl.js';
import { LockInternals } from '../lock/lock-internals.js';
import { observedAcquire, trackHold } from '../lock/lock-telemetry.js';
import { parseAcquireOptions, type AcquireOptions, type LockOptions } from '../lock/lock-types.js';
import { ownedNow, ownedUntil } from '../lock/ownership.js';
import { OwnershipVerifier } from '../lock/ownership-verifier.js';
import { SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { checkConnectionLossPolicy, type ConnectionLossPolicy } from '../session/options.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { childPath, validatePath } from '../util/paths.js';
import { HELD_LEASE_DRIVER, leaseDriver } from './semaphore-drivers.js';
import { defaultId } from '../util/default-id.js';

const log = logger('semaphore');

/** Options of {@link Coordinator.createSemaphore}. */
export interface SemaphoreOptions extends LockOptions {
  /** How many leases may be out at once. Not stored in ZooKeeper: use the same value on every client. */
  maxLeases: number;
}

/** One lease of a semaphore: held from acquire() until release() (or loss of the session). */
export interface Lease {
  /** Full path of the lease node. */
  readonly node: string;
  /** czxid of the lease node: pass it to storage that supports fencing. */
  readonly fencingToken: bigint;
  /** True while the lease is held, verified and inside the session's lease (as for locks). */
  considerAsOwned(): boolean;
  /** Epoch ms until which the lease is guaranteed (0 when not owned). */
  ownershipDeadline(): number;
  /** Gives the lease back (deletes its node). Idempotent. */
  release(): Promise<void>;
  /** `await using lease = ...` gives the lease back at scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A distributed counting semaphore on a ZooKeeper path, wire-compatible with Apache Curator's
 * InterProcessSemaphoreV2. Create it with {@link Coordinator.createSemaphore}; one instance hands
 * out several leases.
 */
export class Semaphore {
  /** The semaphore path (`locks` and `leases` are below it). */
  readonly path: string;
  /** How many leases may be out at once (the same on every client of the path). */
  readonly maxLeases: number;
  /** Stored as the data of our lease nodes; participants() returns these. */
  readonly id: string;
  private readonly mutex: SharedReentrantLock;
  private readonly leases: LockInternals;
  private readonly leasesPath: string;
  private readonly verifier: OwnershipVerifier;
  private readonly policy: ConnectionLossPolicy | undefined;

  constructor(
    private readonly coordinator: CoordinatorCore,
    path: string,
    options: SemaphoreOptions,
  ) {
    this.path = validatePath(path);
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'pass { maxLeases } (the same value on every client)');
    const { maxLeases } = options;
    if (typeof maxLeases !== 'number' || !Number.isInteger(maxLeases) || maxLeases < 1) {
      throw new InvalidOptionError(
        'maxLeases',
        `must be an integer >= 1, the same on every client of the path, got ${String(maxLeases)}`,
      );
    }
    this.maxLeases = maxLeases;
    this.id = options.id ?? defaultId();
    const { maxLeases: _max, ...lockOptions } = options;
    this.mutex = new SharedReentrantLock(coordinator, childPath(this.path, 'locks'), {
      ...lockOptions,
      id: this.id,
    });
    this.policy = checkConnectionLossPolicy(options.connectionLossPolicy);
    this.leasesPath = childPath(this.path, 'leases');
    this.leases = new LockInternals(
      coordinator,
      this.leasesPath,
      Buffer.from(this.id, 'utf8'),
      toNativeAcl(options.acl),
      leaseDriver(maxLeases),
    );
    this.leases.removeEmptyPath = this.mutex.removeEmptyPath;
    this.leases.pathKnown = !this.mutex.removeEmptyPath;
    this.verifier = new OwnershipVerifier(
      coordinator,
      this.leasesPath,
      this.id,
      HELD_LEASE_DRIVER,
      this.mutex.verifyIntervalMs,
      (acquisition, reason) => this.markLost(acquisition, reason),
    );
  }

  /** What a suspended connection means for the leases: the option given, else the coordinator's. */
  get connectionLossPolicy(): ConnectionLossPolicy {
    return this.policy ?? this.coordinator.connectionLossPolicy;
  }

  /**
   * Takes a lease, waiting at most `timeoutMs` (0: try once; omitted: wait forever). Resolves
   * with the Lease, or undefined on timeout; rejects with AbortError when the signal aborts.
   * Nothing (no lease node, no mutex node) is left behind on timeout or abort.
   */
  async acquire(options?: AcquireOptions): Promise<Lease | undefined> {
    const { timeoutMs, signal } = parseAcquireOptions(options);
    this.coordinator.assertUsable('acquire()');
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : monotonicNow() + timeoutMs;
    const acquisition = await observedAcquire(this.coordinator.observability, this.leasesPath, this.id, () =>
      this.takeLease(deadline, signal),
    );
    return acquisition ? this.leaseFor(acquisition) : undefined;
  }

  private async takeLease(
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Acquisition | undefined> {
    let acquisition: Acquisition | undefined;
    while (!acquisition) {
      const remaining = Math.max(0, deadline - monotonicNow());
      const mutexHold = await this.mutex.acquireHold(
        Number.isFinite(remaining) ? { timeoutMs: remaining, signal } : { signal },
      );
      if (!mutexHold) return undefined;
      try {
        // Holding the mutex: our lease node, then wait until at most maxLeases are out.
        const node = await this.leases.attempt({ deadline, signal });
        if (!node || this.coordinator.state === 'closed') return undefined;
        if (node.session === mutexHold.node.session)
          acquisition = new Acquisition(this, node, monotonicNow());
        else {
          // The count was answered on another session than the mutex node's: the mutex may
          // have been someone else's by then. Give the lease back and count again.
          log('%s: the session changed while counting leases; trying again', this.path);
          await this.leases.leave(node);
        }
      } finally {
        await this.mutex.releaseHeld(mutexHold);
      }
    }
    const held = acquisition;
    this.verifier.start(held);
    held.untrack = trackHold(this.coordinator.observability, this.leasesPath, held, () =>
      ownedNow(this.coordinator, held, this.connectionLossPolicy),
    );
    log('%s: lease %s taken (fencing token %s)', this.path, held.node.nodeName, held.node.czxid);
    return held;
  }

  private leaseFor(acquisition: Acquisition): Lease {
    const release = async (): Promise<void> => {
      if (acquisition.status === 'released') return;
      acquisition.status = 'released';
      this.verifier.stop(acquisition);
      acquisition.untrack?.();
      acquisition.untrack = undefined;
      if (this.coordinator.state !== 'closed') await this.leases.leave(acquisition.node);
      log('%s: lease %s returned', this.path, acquisition.node.nodeName);
    };
    return {
      node: acquisition.node.nodePath,
      fencingToken: acquisition.node.czxid,
      considerAsOwned: () => ownedNow(this.coordinator, acquisition, this.connectionLossPolicy),
      ownershipDeadline: () => ownedUntil(this.coordinator, acquisition, this.connectionLossPolicy),
      release,
      [Symbol.asyncDispose]: release,
    };
  }

  private markLost(acquisition: Acquisition, reason: LockLossReason): void {
    if (!acquisition.lose(reason)) return;
    this.verifier.stop(acquisition);
    log('%s: lease %s lost (%s)', this.path, acquisition.node.nodeName, reason);
    this.coordinator.observability.lockLost(this.leasesPath, acquisition.node.nodeName, reason);
  }

  /** Ids of the lease holders (ours, Curator's), in lease order. */
  async participants(): Promise<string[]> {
    return this.coordinator.retrying('participants()', {}, async (session, timeoutMs) => {
      // Every child counts as a lease (as in the acquire's count), in sequence order.
      const children = await this.leases.children(session, timeoutMs);
      const sorted = children.sort((a, b) => a.slice(-10).localeCompare(b.slice(-10)));
      const ids = await Promise.all(
        sorted.map(async (child) =>
          (await session.getDataIfExists(childPath(this.leasesPath, child), { timeoutMs }))?.data.toString(
            'utf8',
          ),
        ),
      );
      return ids.filter((id): id is string => id !== undefined);
    });
  }
}
