/**
 * LeaderLatch: Apache Curator's LeaderLatch protocol. Each participant has one node
 * `_c_<uuid>-latch-<seq>` (its id as data); the first leads, the others watch their
 * predecessor. Built on a LeaderSelector whose term lasts until leadership may be lost, so the
 * latch keeps every leader guarantee: 'lease' and 'strict' policies, the stop window, the fencing
 * token. When a term ends the latch contends again with a new node, as Curator's reset() does.
 */
import { EventEmitter } from 'eventemitter3';
import { InvalidOptionError, RecipeClosedError } from '../errors.js';
import type { Control, LeadershipLossReason } from '../leader/control.js';
import { LeaderSelector } from '../leader/leader-selector.js';
import { StandardLockDriver } from '../lock/lock-driver.js';
import type { LockOptions } from '../lock/lock-types.js';
import { SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { monotonicNow } from '../util/clock.js';
import { Waiters } from '../util/waiters.js';

/** Curator's latch nodes: `_c_<uuid>-latch-<seq>`. */
const LATCH_DRIVER = new StandardLockDriver('latch-', /(latch-)(\d{10})$/, 'latch');

/** Options of {@link Coordinator.createLeaderLatch}. */
export interface LeaderLatchOptions extends LockOptions {
  /** How often the leader verifies its node and lease (default 2000 ms). */
  tickMs?: number;
  /** Leadership ends this long before the lease when the session has not answered again (see stopWindowMs). */
  stopWindowMs?: number;
}

/** Events of a {@link LeaderLatch}. */
export interface LeaderLatchEvents {
  /** This participant leads (from now until 'notLeader'). */
  isLeader: (info: { fencingToken: bigint; term: number }) => void;
  /** Leadership may be lost (or close() was called): stop acting as the leader. */
  notLeader: (info: { reason: LeadershipLossReason }) => void;
  /** A term's callback or release failed (the latch keeps participating). */
  error: (error: unknown) => void;
}

/** `latent` before start(), `started` until close(), then `closed` for good. */
export type LeaderLatchState = 'latent' | 'started' | 'closed';

/**
 * Leader election by latch, wire-compatible with Apache Curator's LeaderLatch. Create it with
 * {@link Coordinator.createLeaderLatch}, start() it, and act as leader between 'isLeader' and
 * 'notLeader' (or while `signal` is not aborted).
 */
export class LeaderLatch extends EventEmitter<LeaderLatchEvents> {
  /** The latch path: participants' nodes are created below it. */
  readonly path: string;
  /** This participant's id (its node's data). */
  readonly id: string;
  private readonly selector: LeaderSelector;
  private stateValue: LeaderLatchState = 'latent';
  private control: Control | undefined;
  private readonly changes = new Waiters();
  private readonly notLeading = AbortSignal.abort('notLeader');

  constructor(coordinator: CoordinatorCore, path: string, options: LeaderLatchOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'must be an object');
    const { tickMs, stopWindowMs, ...lockOptions } = options;
    const lock = new SharedReentrantLock(coordinator, path, lockOptions, LATCH_DRIVER);
    this.path = lock.path;
    this.id = lock.id;
    this.selector = new LeaderSelector({
      lock,
      leader: (control) => this.lead(control),
      // A latch contends again at once when a term ends (Curator's reset()).
      minimumWorkTimeMs: 0,
      ...(tickMs !== undefined ? { tickMs } : {}),
      ...(stopWindowMs !== undefined ? { stopWindowMs } : {}),
    });
    this.selector.on('error', (error) => this.emit('error', error));
  }

  /** Where the latch is in its life: latent, started or closed. */
  get state(): LeaderLatchState {
    return this.stateValue;
  }

  /** Starts participating (non-blocking: leadership comes as 'isLeader'). Idempotent while started. */
  async start(): Promise<void> {
    if (this.stateValue === 'closed') throw new RecipeClosedError('LeaderLatch.start()');
    if (this.stateValue === 'started') return;
    this.stateValue = 'started';
    this.selector.start();
  }

  /** True while this participant leads and leadership is not in doubt. */
  hasLeadership(): boolean {
    return this.control !== undefined && !this.control.shouldStop();
  }

  /** Aborts when leadership may be lost; already aborted while not leading. */
  get signal(): AbortSignal {
    return this.control?.signal ?? this.notLeading;
  }

  /** Epoch ms until which leadership is guaranteed (0 when not leading). */
  ownershipDeadline(): number {
    return this.hasLeadership() ? (this.control?.ownershipDeadline() ?? 0) : 0;
  }

  /** The fencing token of the current leadership (undefined when not leading). */
  get fencingToken(): bigint | undefined {
    return this.hasLeadership() ? this.control?.fencingToken : undefined;
  }

  /**
   * Waits until this participant leads: true when it does, false after `timeoutMs` (omitted:
   * wait until then). Rejects with RecipeClosedError once the latch is closed.
   */
  async await(timeoutMs?: number): Promise<boolean> {
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)
    ) {
      throw new InvalidOptionError('timeoutMs', `must be a number >= 0, got ${String(timeoutMs)}`);
    }
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : monotonicNow() + timeoutMs;
    for (;;) {
      if (this.stateValue === 'closed') throw new RecipeClosedError('LeaderLatch.await()');
      if (this.hasLeadership()) return true;
      const remaining = deadline - monotonicNow();
      if (remaining <= 0) return false;
      await this.changes.next(
        Number.isFinite(remaining)
          ? AbortSignal.timeout(Math.min(Math.ceil(remaining), 2 ** 31 - 1))
          : undefined,
      );
    }
  }

  /** Ids of the participants in latch order: the first one leads. */
  async participants(): Promise<string[]> {
    return this.selector.lock.contenders();
  }

  /** Leaves the latch for good: ends leadership, deletes our node. A closed latch cannot start again. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const wasStarted = this.stateValue === 'started';
    this.stateValue = 'closed';
    this.changes.wake();
    if (wasStarted) await this.selector.stop();
  }

  /** `await using latch = ...` closes it at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One term: leading until the term's signal aborts. */
  private async lead(control: Control): Promise<void> {
    this.control = control;
    this.emit('isLeader', { fencingToken: control.fencingToken, term: control.term });
    this.changes.wake();
    try {
      if (!control.signal.aborted) {
        await new Promise<void>((resolve) =>
          control.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      this.control = undefined;
      const reason = control.signal.reason as LeadershipLossReason;
      this.emit('notLeader', { reason });
      this.changes.wake();
    }
  }
}
