/**
 * Verification of a held lock against the server (tw-leader-selector's "the first node is ours
 * and stores our id"): our node's data and the contender listing, pipelined, at most every
 * verifyIntervalMs, plus a data watch on our own node so a deletion or rewrite is seen at once.
 */
import { ZooKeeperError, type OwnershipStatus } from '../errors.js';
import type { Coordinator } from '../session/coordinator.js';
import { logger } from '../util/log.js';
import { ZK_CODES, type NativeEvent } from '../zk/native.js';
import type { Acquisition, LockLossReason } from './acquisition.js';
import { sortContenders } from './contenders.js';

const log = logger('lock');

export class OwnershipVerifier {
  constructor(
    private readonly coordinator: Coordinator,
    private readonly path: string,
    private readonly id: string,
    private readonly intervalMs: number,
    private readonly markLost: (acquisition: Acquisition, reason: LockLossReason) => void,
  ) {}

  /** Starts periodic verification of a fresh acquisition. */
  start(acquisition: Acquisition): void {
    acquisition.nodeWatcher = this.ownNodeWatcher(acquisition);
    this.schedule(acquisition);
  }

  /**
   * The data watch every verification sets on our own node. Set from the first verification on
   * (not at acquire time, which would put an extra read in front of a quick release).
   */
  private ownNodeWatcher(acquisition: Acquisition): (event: NativeEvent) => void {
    return (event) => {
      if (acquisition.status !== 'held') return;
      if (event.name === 'NODE_DELETED') this.markLost(acquisition, 'nodeDeleted');
      else {
        acquisition.verifiedOk = false;
        void this.verify(acquisition);
      }
    };
  }

  private schedule(acquisition: Acquisition): void {
    acquisition.timer = setTimeout(() => {
      void this.verify(acquisition).finally(() => {
        if (acquisition.status === 'held') this.schedule(acquisition);
      });
    }, this.intervalMs);
  }

  /** One verification round trip (shared by concurrent callers); never rejects. */
  verify(acquisition: Acquisition, maxWaitMs?: number): Promise<OwnershipStatus | 'OK'> {
    acquisition.verifying ??= this.run(acquisition, maxWaitMs)
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

  private async run(acquisition: Acquisition, maxWaitMs?: number): Promise<OwnershipStatus | 'OK'> {
    if (acquisition.status === 'lost') {
      return acquisition.lossReason === 'nodeDeleted' || acquisition.lossReason === 'nodeChanged'
        ? 'SERVER_SIDE_ID_DIFFERENT'
        : 'CONNECTION_LOST';
    }
    if (acquisition.status === 'released') return 'NOT_ACQUIRED';
    const session = acquisition.node.session;
    if (session.ended || this.coordinator.session !== session) {
      this.markLost(acquisition, 'sessionExpired');
      return 'CONNECTION_LOST';
    }
    const timeoutMs = Math.max(1, Math.min(maxWaitMs ?? Infinity, this.coordinator.timing.requestTimeoutMs));
    const reading = session.getData(acquisition.node.nodePath, { timeoutMs }, acquisition.nodeWatcher);
    const listing = session.getChildren(this.path, { timeoutMs });
    listing.catch(() => undefined);
    try {
      const { data, stat } = await reading;
      if (!this.checkNodeData(acquisition, data, stat.czxid.readBigInt64BE(0)))
        return 'SERVER_SIDE_ID_DIFFERENT';
      const first = sortContenders(await listing)[0];
      if (first?.name !== acquisition.node.nodeName) {
        this.markLost(acquisition, 'nodeChanged');
        return 'SERVER_SIDE_ID_DIFFERENT';
      }
      if (acquisition.status === 'held') acquisition.verifiedOk = true;
      return acquisition.status === 'held' ? 'OK' : 'CONNECTION_LOST';
    } catch (error) {
      if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) {
        this.markLost(acquisition, 'nodeDeleted');
        return 'SERVER_SIDE_ID_DIFFERENT';
      }
      log('%s: verification failed: %s', this.path, (error as Error).message);
      return 'CONNECTION_LOST';
    }
  }
}
