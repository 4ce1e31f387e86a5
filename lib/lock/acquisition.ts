import type { OwnershipStatus } from '../errors.js';
import type { NativeEvent } from '../zk/native.js';
import type { Flow } from './flow.js';
import type { HeldNode } from './lock-internals.js';

/** Why a held lock was lost. */
export type LockLossReason = 'sessionExpired' | 'connectionLost' | 'nodeDeleted' | 'nodeChanged';

/** The state of one flow's hold on a lock. @internal */
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
    readonly flow: Flow,
    readonly node: HeldNode,
  ) {}
}
