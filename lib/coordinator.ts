/**
 * The public Coordinator: the session layer (session/coordinator-core.ts) plus the factories of
 * every recipe. It sits above both, so the session layer never imports a recipe.
 */
import { LeaderSelector, type LeaderSelectorPathOptions } from './leader/leader-selector.js';
import { SharedReentrantLock, type LockOptions } from './lock/shared-reentrant-lock.js';
import { LeaderLatch, type LeaderLatchOptions } from './recipes/leader-latch.js';
import { ReadWriteLock, type ReadWriteLockOptions } from './recipes/read-write-lock.js';
import { Semaphore, type SemaphoreOptions } from './recipes/semaphore.js';
import { CoordinatorCore } from './session/coordinator-core.js';
import { optionsFromEnv, type CoordinatorOptions } from './session/options.js';
import type { TaskGroupOptions } from './tasks/options.js';
import { TaskGroup } from './tasks/task-group.js';

/**
 * One ZooKeeper session per Coordinator: connects, runs the heartbeat and watchdog, opens a new
 * session after expiry, and computes the lease that bounds ownership. Create locks, leader
 * selectors and the other recipes from it; `close()` it on shutdown.
 *
 * @example
 * ```ts
 * const coordinator = new Coordinator({ connectString: '127.0.0.1:2181', sessionTimeoutMs: 15_000 });
 * await coordinator.start();
 * const lock = coordinator.createLock('/app/locks/report');
 * // ...
 * await coordinator.close();
 * ```
 */
export class Coordinator extends CoordinatorCore {
  /**
   * Builds a Coordinator from `ZOOKEEPER_CONNECT_STRING` (default 127.0.0.1:2181),
   * `ZOOKEEPER_SESSION_TIMEOUT_MS` and `ZOOKEEPER_DISABLED`; `overrides` win over the environment.
   */
  static fromEnv(
    env: Record<string, string | undefined> = process.env,
    overrides: Partial<CoordinatorOptions> = {},
  ): Coordinator {
    return new Coordinator({ ...optionsFromEnv(env), ...overrides });
  }

  /**
   * A lock on `path` (Curator InterProcessMutex protocol). Cheap: nothing is sent until acquire().
   */
  createLock(path: string, options: LockOptions = {}): SharedReentrantLock {
    this.assertCanCreate(`createLock(${JSON.stringify(path)})`);
    return new SharedReentrantLock(this, path, options);
  }

  /** A LeaderSelector on its own lock at `path`; call start() on it. */
  createLeaderSelector(path: string, options: LeaderSelectorPathOptions): LeaderSelector {
    const { id, ...rest } = options;
    return new LeaderSelector({ ...rest, lock: this.createLock(path, id === undefined ? {} : { id }) });
  }

  /**
   * A task group at `path`: many tasks, each run on exactly one member at a time, balanced
   * across the members (README "Task groups"). Call start() on it.
   */
  createTaskGroup(path: string, options: TaskGroupOptions): TaskGroup {
    this.assertCanCreate(`createTaskGroup(${JSON.stringify(path)})`);
    return new TaskGroup(this, path, options);
  }

  /**
   * A read-write lock on `path` (Curator InterProcessReadWriteLock protocol): `readLock` and
   * `writeLock`, each with the lock surface. Cheap: nothing is sent until an acquire().
   */
  createReadWriteLock(path: string, options: ReadWriteLockOptions = {}): ReadWriteLock {
    this.assertCanCreate(`createReadWriteLock(${JSON.stringify(path)})`);
    return new ReadWriteLock(this, path, options);
  }

  /**
   * A semaphore on `path` with `maxLeases` leases (Curator InterProcessSemaphoreV2 protocol;
   * every client of the path must use the same maxLeases).
   */
  createSemaphore(path: string, options: SemaphoreOptions): Semaphore {
    this.assertCanCreate(`createSemaphore(${JSON.stringify(path)})`);
    return new Semaphore(this, path, options);
  }

  /** A leader latch on `path` (Curator LeaderLatch protocol); call start() on it. */
  createLeaderLatch(path: string, options: LeaderLatchOptions = {}): LeaderLatch {
    this.assertCanCreate(`createLeaderLatch(${JSON.stringify(path)})`);
    return new LeaderLatch(this, path, options);
  }
}
