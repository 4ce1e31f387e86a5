/**
 * ReadWriteLock: Apache Curator's InterProcessReadWriteLock protocol on one path. `readLock` and
 * `writeLock` have the SharedReentrantLock surface; readers share, a writer excludes everyone.
 * The pair is one owner (like one lock instance): holding the write lock it may take the read
 * lock (a downgrade); holding the read lock, taking the write lock is refused (LockUpgradeError).
 */
import { InvalidOptionError, LockUpgradeError } from '../errors.js';
import type { Acquisition } from '../lock/acquisition.js';
import { SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import type { AcquireOptions, LockOptions } from '../lock/lock-types.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { readDriver, WRITE_DRIVER } from './read-write-drivers.js';
import { defaultId } from '../util/default-id.js';

/** Options of {@link Coordinator.createReadWriteLock}: those of a lock, shared by both sides. */
export type ReadWriteLockOptions = LockOptions;

function held(lock: SharedReentrantLock): Acquisition | undefined {
  const hold = lock.activeHold();
  return hold?.status === 'held' ? hold : undefined;
}

/** The write side: refuses an upgrade, which would wait for its own read hold forever. */
class WriteLock extends SharedReentrantLock {
  /** Set once the pair is built. @internal */
  readSide: SharedReentrantLock | undefined;

  /** @internal */
  override async acquireHold(options?: AcquireOptions): Promise<Acquisition | undefined> {
    if (!held(this) && this.readSide && held(this.readSide)) throw new LockUpgradeError(this.path);
    return super.acquireHold(options);
  }
}

/**
 * A distributed read-write lock on a ZooKeeper path, wire-compatible with Apache Curator's
 * InterProcessReadWriteLock. Create it with {@link Coordinator.createReadWriteLock}; the pair is
 * one owner (downgrade allowed, upgrade refused with LockUpgradeError).
 */
export class ReadWriteLock {
  /** The lock path shared by readers and writers. */
  readonly path: string;
  /** Shared: held by any number of readers while no writer holds. */
  readonly readLock: SharedReentrantLock;
  /** Exclusive: held by one writer while nobody else (reader or writer) holds. */
  readonly writeLock: SharedReentrantLock;

  constructor(coordinator: CoordinatorCore, path: string, options: ReadWriteLockOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'must be an object');
    // One id for both sides, as Curator stores one lockData for both.
    const id = options.id ?? defaultId();
    const writeLock = new WriteLock(coordinator, path, { ...options, id }, WRITE_DRIVER);
    this.writeLock = writeLock;
    this.readLock = new SharedReentrantLock(
      coordinator,
      path,
      { ...options, id },
      readDriver(() => held(writeLock)?.node.nodeName.slice(-10)),
    );
    writeLock.readSide = this.readLock;
    this.path = writeLock.path;
  }

  /** The id stored in both sides' nodes. */
  get id(): string {
    return this.writeLock.id;
  }
}
