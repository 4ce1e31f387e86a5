/**
 * Verification of a held lock against the server (tw-leader-selector's "the first node is ours
 * and stores our id"). Periodic checks go through the coordinator's VerificationBatch (one
 * `multi` of existence checks for all held nodes); the first one per hold reads our node with a
 * data watch, so a deletion or rewrite is seen at once. verify() is the full round trip (our
 * node's data and the contender listing, pipelined) behind isOwned() and verifyOwnership().
 */
import type { OwnershipStatus } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { isZkCode, ZK_CODES } from '../zk/native.js';
import { statusOf, type Acquisition, type LockLossReason } from './acquisition.js';
import { holdsAmong, type LockDriver } from './lock-driver.js';
import { VerificationBatch } from './verification-batch.js';

const log = logger('lock');

export class OwnershipVerifier {
  private readonly batch: VerificationBatch;

  constructor(
    private readonly coordinator: CoordinatorCore,
    private readonly path: string,
    private readonly id: string,
    private readonly driver: LockDriver,
    readonly intervalMs: number,
    readonly markLost: (acquisition: Acquisition, reason: LockLossReason) => void,
  ) {
    this.batch = VerificationBatch.of(coordinator);
  }

  /** Starts periodic verification of a fresh acquisition (in the coordinator's batch). */
  start(acquisition: Acquisition): void {
    acquisition.nodeWatcher = (event) => {
      if (acquisition.status !== 'held') return;
      if (event.name === 'NODE_DELETED') this.markLost(acquisition, 'nodeDeleted');
      else {
        acquisition.verifiedOk = false;
        void this.verify(acquisition);
      }
    };
    this.batch.add(acquisition, this);
  }

  /** Stops verifying: leaves the batch and drops our watch listener. */
  stop(acquisition: Acquisition): void {
    this.batch.delete(acquisition);
    if (acquisition.nodeWatcher) {
      acquisition.node.session.watches.remove(acquisition.node.nodePath, acquisition.nodeWatcher);
    }
  }

  /**
   * For a leader's tick: 'OK' without a request when the batch found our node in place within
   * the last `maxAgeMs` (plus a quarter for the batch's own period), else a check through the
   * batch now.
   */
  verifyRecent(
    acquisition: Acquisition,
    maxWaitMs: number | undefined,
    maxAgeMs: number,
  ): Promise<OwnershipStatus | 'OK'> {
    if (
      acquisition.status === 'held' &&
      acquisition.watching &&
      acquisition.verifiedOk &&
      !acquisition.verifying &&
      monotonicNow() - acquisition.checkedAt <= maxAgeMs * 1.25
    ) {
      return Promise.resolve('OK');
    }
    // A fresh hold (no watch yet) needs only its node read: it held when acquired, and while its
    // node exists nothing can get ahead of it. After a suspicious event, list too.
    if (!acquisition.verifiedOk) return this.verify(acquisition, maxWaitMs);
    if (!acquisition.watching) return this.verify(acquisition, maxWaitMs, false);
    return this.batch.checkNow(acquisition);
  }

  /** One full verification round trip (shared by concurrent callers); never rejects. */
  verify(
    acquisition: Acquisition,
    maxWaitMs?: number,
    listContenders = true,
  ): Promise<OwnershipStatus | 'OK'> {
    acquisition.verifying ??= this.run(acquisition, maxWaitMs, listContenders)
      .catch((error: unknown): OwnershipStatus => {
        log('%s: verification failed: %O', this.path, error);
        return 'CONNECTION_LOST';
      })
      .finally(() => {
        acquisition.verifying = undefined;
      });
    return acquisition.verifying;
  }

  private checkNodeData(acquisition: Acquisition, data: Buffer, czxid: bigint): boolean {
    if (data.toString('utf8') !== this.id || czxid !== acquisition.node.czxid) {
      this.markLost(acquisition, 'nodeChanged');
      return false;
    }
    return true;
  }

  private async run(
    acquisition: Acquisition,
    maxWaitMs: number | undefined,
    listContenders: boolean,
  ): Promise<OwnershipStatus | 'OK'> {
    if (acquisition.status !== 'held') return statusOf(acquisition);
    const session = acquisition.node.session;
    if (session.ended || this.coordinator.session !== session) {
      this.markLost(acquisition, 'sessionExpired');
      return 'CONNECTION_LOST';
    }
    const timeoutMs = Math.max(1, Math.min(maxWaitMs ?? Infinity, this.coordinator.timing.requestTimeoutMs));
    const { nodePath } = acquisition.node;
    if (acquisition.nodeWatcher) session.watches.add(nodePath, acquisition.nodeWatcher);
    const sendTime = monotonicNow();
    const reading = session.getData(nodePath, { timeoutMs }, session.watches.native);
    const listing = listContenders ? session.getChildren(this.path, { timeoutMs }) : undefined;
    listing?.catch(() => undefined);
    try {
      const { data, stat } = await reading;
      acquisition.watching = true;
      if (!this.checkNodeData(acquisition, data, stat.czxid.readBigInt64BE(0)))
        return 'SERVER_SIDE_ID_DIFFERENT';
      // Without a listing: our node exists, so it still holds (sequence numbers only grow).
      const holds = listing ? holdsAmong(this.driver, await listing, acquisition.node.nodeName) : true;
      if (!holds) {
        this.markLost(acquisition, 'nodeChanged');
        return 'SERVER_SIDE_ID_DIFFERENT';
      }
      if (acquisition.status !== 'held') return statusOf(acquisition);
      acquisition.verifiedOk = true;
      if (sendTime > acquisition.checkedAt) acquisition.checkedAt = sendTime;
      return 'OK';
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NO_NODE)) {
        this.markLost(acquisition, 'nodeDeleted');
        return 'SERVER_SIDE_ID_DIFFERENT';
      }
      log('%s: verification failed: %s', this.path, (error as Error).message);
      return 'CONNECTION_LOST';
    }
  }
}
