import type { OwnershipStatus } from '../errors.js';
import type { NativeEvent } from '../zk/native.js';
import type { HeldNode } from './lock-internals.js';

/** Why a held lock was lost. */
export type LockLossReason = 'sessionExpired' | 'connectionLost' | 'nodeDeleted' | 'nodeChanged';

/** One hold of a lock instance: one node, from acquire() to the last release(). @internal */
export class Acquisition {
  /** Reentrancy depth. */
  count = 1;
  status: 'held' | 'lost' | 'released' = 'held';
  lossReason: LockLossReason | undefined;
  /** False from a suspicious event until a verification confirms the node again. */
  verifiedOk = true;
  verifying: Promise<OwnershipStatus | 'OK'> | undefined;
  /** Monotonic send time of the newest request that found our node in place (acquire or check). */
  checkedAt: number;
  /** True once a verification set the data watch on our node (deletion and rewrite seen at once). */
  watching = false;
  /** Listener of the data watch on our node. */
  nodeWatcher: ((event: NativeEvent) => void) | undefined;
  /** Ends its listing in status() and records the hold (set while it is held or lost). */
  untrack: (() => void) | undefined;
  constructor(
    /** The lock instance that holds it. */
    readonly owner: object,
    readonly node: HeldNode,
    checkedAt: number,
  ) {
    this.checkedAt = checkedAt;
  }

  /** Marks a held hold lost for good; false when it was no longer held (lost or released). */
  lose(reason: LockLossReason): boolean {
    if (this.status !== 'held') return false;
    this.status = 'lost';
    this.lossReason = reason;
    this.verifiedOk = false;
    return true;
  }
}

/** What verifying a hold that is no longer held reports. @internal */
export function statusOf(acquisition: Acquisition): OwnershipStatus {
  if (acquisition.status === 'released') return 'NOT_ACQUIRED';
  return acquisition.lossReason === 'nodeDeleted' || acquisition.lossReason === 'nodeChanged'
    ? 'SERVER_SIDE_ID_DIFFERENT'
    : 'CONNECTION_LOST';
}
