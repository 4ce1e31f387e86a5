/**
 * One task on one member: its lock (one SharedReentrantLock instance per task per member), the
 * wait for it, and its terms. No timer of its own: the group watches the session and the lease
 * for all its terms at once; the lock's own node watch reports a deleted or rewritten node.
 */
import { AbortError, CoordinatorClosedError } from '../errors.js';
import { TermControl, type LeadershipLossReason } from '../leader/control.js';
import type { Acquisition } from '../lock/acquisition.js';
import { runOutsideHolds } from '../lock/hold-scope.js';
import type { LockLossReason, SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';

const log = logger('tasks');

const LOCK_LOSS: Record<LockLossReason, LeadershipLossReason> = {
  sessionExpired: 'sessionExpired',
  connectionLost: 'connectionLost',
  nodeDeleted: 'nodeChanged',
  nodeChanged: 'nodeChanged',
};

/** What a slot needs from its group. */
export interface SlotHost {
  /** True while the term of `acquisition` may go on (lock owned, lease beyond the stop window). */
  termHolds(lock: SharedReentrantLock, acquisition: Acquisition): boolean;
  /** May a term start now (false while stopping)? */
  mayStart(): boolean;
  run(task: string, control: TermControl): Promise<void> | void;
  termStarted(slot: TaskSlot, control: TermControl): void;
  termEnded(slot: TaskSlot, control: TermControl, failed: boolean): void;
  /** The slot became idle (wait ended, or the term's lock released). */
  settled(slot: TaskSlot): void;
  error(error: unknown): void;
}

export type SlotState = 'idle' | 'waiting' | 'running';

export class TaskSlot {
  state: SlotState = 'idle';
  /** Monotonic time before which no new wait starts (minimumWorkTimeMs, error backoff). */
  notBefore = 0;
  control: TermControl | undefined;
  private terms = 0;
  private waitAbort: AbortController | undefined;
  private acquisition: Acquisition | undefined;
  private done: Promise<void> = Promise.resolve();
  private readonly onLost = (info: { node: string; reason: LockLossReason }): void => {
    if (this.acquisition && info.node === this.acquisition.node.nodeName)
      this.control?.end(LOCK_LOSS[info.reason]);
  };

  constructor(
    readonly task: string,
    readonly lock: SharedReentrantLock,
    private readonly host: SlotHost,
    private readonly minimumWorkTimeMs: number,
    private readonly errorBackoffMs: number,
  ) {
    lock.on('lost', this.onLost);
  }

  /** The running term holds (not ending). */
  get owned(): boolean {
    return this.state === 'running' && this.control !== undefined && this.control.reason === undefined;
  }

  /** Starts waiting for the lock (no-op unless idle). */
  contend(): void {
    if (this.state !== 'idle') return;
    this.state = 'waiting';
    const controller = new AbortController();
    this.waitAbort = controller;
    this.done = runOutsideHolds(() => this.claim(controller.signal));
  }

  /** Withdraws a wait: the lock deletes our node. */
  withdraw(): void {
    if (this.state === 'waiting') this.waitAbort?.abort('withdraw');
  }

  /** Ends the running term (its callback sees shouldStop(); the lock is released after it returns). */
  end(reason: LeadershipLossReason): void {
    this.control?.end(reason);
  }

  /** Withdraws or ends, and resolves once the slot is idle and its lock released. */
  async stop(reason: LeadershipLossReason): Promise<void> {
    this.withdraw();
    this.end(reason);
    await this.done;
  }

  dispose(): void {
    this.lock.off('lost', this.onLost);
  }

  private async claim(signal: AbortSignal): Promise<void> {
    let failed = false;
    try {
      let acquisition: Acquisition | undefined;
      try {
        acquisition = await this.lock.acquireHold({ signal });
      } catch (error) {
        if (!(error instanceof AbortError) && !(error instanceof CoordinatorClosedError)) {
          log('%s: waiting failed: %O', this.lock.path, error);
          this.host.error(error);
          this.notBefore = monotonicNow() + this.errorBackoffMs;
        }
        return;
      }
      if (!acquisition) return;
      this.waitAbort = undefined;
      if (signal.aborted || !this.host.mayStart()) {
        // Withdrawn or stopped while the grant was on its way: no term starts.
        await this.lock.releaseHeld(acquisition).catch((error: unknown) => this.host.error(error));
        return;
      }
      failed = await this.runTerm(acquisition);
    } finally {
      this.waitAbort = undefined;
      this.state = 'idle';
      if (failed) this.notBefore = Math.max(this.notBefore, monotonicNow() + this.errorBackoffMs);
      this.host.settled(this);
    }
  }

  /** One term: run the callback in the hold's scope, then release. Resolves true if it threw. */
  private async runTerm(acquisition: Acquisition): Promise<boolean> {
    this.terms += 1;
    const started = monotonicNow();
    this.notBefore = started + this.minimumWorkTimeMs;
    const lock = this.lock;
    const control = new TermControl(
      this.terms,
      acquisition.node.czxid,
      () => this.host.termHolds(lock, acquisition),
      () => lock.deadlineOf(acquisition),
    );
    this.acquisition = acquisition;
    this.control = control;
    this.state = 'running';
    // At once: confirms the node and sets the watch on it (a deletion or rewrite ends the term).
    lock.verifyAcquisition(acquisition).then(
      (status) => {
        if (status === 'SERVER_SIDE_ID_DIFFERENT') control.end('nodeChanged');
        else if (status !== 'OK') control.shouldStop();
      },
      (error: unknown) => log('%s: verification failed: %O', lock.path, error),
    );
    this.host.termStarted(this, control);
    let failed = false;
    try {
      await lock.runHolding(acquisition, () => this.host.run(this.task, control));
    } catch (error) {
      failed = true;
      log('%s: run threw in term %d: %O', lock.path, control.term, error);
      this.host.error(error);
    }
    control.end(this.host.mayStart() ? 'leaderReturned' : 'stop');
    this.host.termEnded(this, control, failed);
    this.control = undefined;
    this.acquisition = undefined;
    try {
      if (acquisition.status !== 'released') await lock.releaseHeld(acquisition);
    } catch (error) {
      log('%s: release failed: %O', lock.path, error);
      this.host.error(error);
    }
    return failed;
  }
}
