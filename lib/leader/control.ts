/**
 * Control: what the leader callback gets (tw-leader-selector's Leader.Control). No
 * interruption: the leader checks shouldStop() or listens to `signal`, and returns.
 */
import { InvalidArgumentError } from '../errors.js';
import { logger } from '../util/log.js';

const log = logger('leader');

/**
 * Why a term ended. Task groups add 'rebalance' (handed over to a member below its share) and
 * 'taskRemoved' (the task left this member's task list).
 */
export type LeadershipLossReason =
  | 'stop'
  | 'yield'
  | 'connectionLost'
  | 'sessionExpired'
  | 'nodeChanged'
  | 'leaderReturned'
  | 'rebalance'
  | 'taskRemoved';

/** The leader callback's handle on its term. */
export interface Control {
  /** True once leadership may be lost, or stop()/yield() was asked. Never turns false again. */
  shouldStop(): boolean;
  /** Aborted at the moment shouldStop() first turns true; `signal.reason` is the LeadershipLossReason. */
  readonly signal: AbortSignal;
  /** Waits up to maxWaitMs for shouldStop(); resolves with shouldStop(). */
  waitUntilShouldStop(maxWaitMs: number): Promise<boolean>;
  /** Runs start, waits until shouldStop(), then runs stop (also when start threw). */
  workAsyncUntilShouldStop(start: () => unknown, stop: () => unknown): Promise<void>;
  /** Gives leadership away after this term: shouldStop() turns true, and the next term goes to another contender if any. */
  yield(): void;
  /** Epoch ms until which ownership is guaranteed; finish (or checkpoint) before it. 0 once lost. */
  ownershipDeadline(): number;
  /** The lock node's czxid: pass it to storage that supports fencing. */
  readonly fencingToken: bigint;
  /** Term counter of this selector, from 1. */
  readonly term: number;
}

export class TermControl implements Control {
  private readonly controller = new AbortController();
  private stopReason: LeadershipLossReason | undefined;

  constructor(
    readonly term: number,
    readonly fencingToken: bigint,
    private readonly isOwned: () => boolean,
    private readonly deadline: () => number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): LeadershipLossReason | undefined {
    return this.stopReason;
  }

  /** Ends the term's ownership: the first reason wins. */
  end(reason: LeadershipLossReason): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    log('term %d: shouldStop (%s)', this.term, reason);
    this.controller.abort(reason);
  }

  shouldStop(): boolean {
    // The lease can run out between timer ticks: check it on every call.
    if (!this.stopReason && !this.isOwned()) this.end('connectionLost');
    return this.stopReason !== undefined;
  }

  waitUntilShouldStop(maxWaitMs: number): Promise<boolean> {
    if (typeof maxWaitMs !== 'number' || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      return Promise.reject(
        new InvalidArgumentError(`waitUntilShouldStop(maxWaitMs): must be >= 0, got ${String(maxWaitMs)}`),
      );
    }
    if (this.shouldStop()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve(this.shouldStop());
      };
      const timer = setTimeout(done, Math.min(maxWaitMs, 2 ** 31 - 1));
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  async workAsyncUntilShouldStop(start: () => unknown, stop: () => unknown): Promise<void> {
    try {
      await start();
      if (!this.shouldStop()) {
        await new Promise<void>((resolve) =>
          this.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      try {
        await stop();
      } catch (error) {
        // A throwing stop is logged, not fatal; start's error (if any) propagates.
        log('term %d: stop threw: %O', this.term, error);
      }
    }
  }

  yield(): void {
    this.end('yield');
  }

  ownershipDeadline(): number {
    return this.shouldStop() ? 0 : this.deadline();
  }
}
