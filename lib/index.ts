/**
 * zk-leader-selector: distributed locks and leader selection for Node.js on Apache ZooKeeper.
 * @packageDocumentation
 */
export { Coordinator } from './coordinator.js';
export { CoordinatorCore } from './session/coordinator-core.js';
export type {
  CoordinatorEvents,
  CoordinatorState,
  SessionLossReason,
  SessionTiming,
} from './session/coordinator-core.js';
export type { ConnectionLossPolicy, CoordinatorOptions } from './session/options.js';
export type { TlsOptions } from './zk/tls.js';
export type { AuthInfo } from './zk/zk-session.js';
export type { BackoffPolicy } from './util/backoff.js';
export { SharedReentrantLock } from './lock/shared-reentrant-lock.js';
export type {
  AcquireOptions,
  ContenderInfo,
  LockEvents,
  LockHandle,
  LockLossReason,
  LockOptions,
} from './lock/shared-reentrant-lock.js';
export { LeaderSelector } from './leader/leader-selector.js';
export type {
  LeaderCallback,
  LeaderSelectorEvents,
  LeaderSelectorOptions,
  LeaderSelectorPathOptions,
  LeaderSelectorState,
} from './leader/leader-selector.js';
export type { Control, LeadershipLossReason } from './leader/control.js';
export { TaskGroup } from './tasks/task-group.js';
export type { RebalanceInfo, TaskGroupEvents, TaskGroupState, TaskStopReason } from './tasks/task-group.js';
export type { TaskGroupOptions, TaskList, TaskRun } from './tasks/options.js';
export { ReadWriteLock } from './recipes/read-write-lock.js';
export type { ReadWriteLockOptions } from './recipes/read-write-lock.js';
export { Semaphore } from './recipes/semaphore.js';
export type { Lease, SemaphoreOptions } from './recipes/semaphore.js';
export { LeaderLatch } from './recipes/leader-latch.js';
export type { LeaderLatchEvents, LeaderLatchOptions, LeaderLatchState } from './recipes/leader-latch.js';
export { digestId } from './lock/acl.js';
export type { AclEntry, AclPermission } from './lock/acl.js';
export type { ContenderImplementation, ContenderNode, LockDriver, Verdict } from './lock/lock-driver.js';
export * from './errors.js';
export { CHANNELS } from './ops/channels.js';
export type { AcquireOutcome, ChannelMessages, ChannelName } from './ops/channels.js';
export type { MeterProviderLike, MetricsOptions } from './ops/metrics.js';
export type { CoordinatorStatus, HeldLockStatus, LeaderStatus } from './session/status.js';
