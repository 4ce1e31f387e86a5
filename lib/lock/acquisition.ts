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
  timer: NodeJS.Timeout | undefined;
  onSessionEnded: (() => void) | undefined;
  nodeWatcher: ((event: NativeEvent) => void) | undefined;
  constructor(
    /** The lock instance that holds it. */
    readonly owner: object,
    readonly node: HeldNode,
  ) {}
}
