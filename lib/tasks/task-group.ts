/**
 * TaskGroup: many tasks, each run on exactly one member at a time, balanced across the members
 * (Lytics' Metafora on ZooKeeper). A task's owner is the holder of a Curator-protocol lock at
 * `<path>/<task>`; members register at `<path>/_members/<id>` and publish what they hold and
 * what they wait for; the balancer (balancer.ts) decides on every change. Background cost does
 * not grow with the tasks: a handful of timers per group, no polling, nothing sent while idle
 * beyond the session heartbeat and the locks' own verification.
 */
import { EventEmitter } from 'eventemitter3';
import { SelectorRunningError, StopTimeoutError } from '../errors.js';
import type { LeadershipLossReason, TermControl } from '../leader/control.js';
import type { Acquisition } from '../lock/acquisition.js';
import { toNativeAcl } from '../lock/acl.js';
import { SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import type { ConnectionLossPolicy } from '../session/options.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { childPath } from '../util/paths.js';
import { balance, type Gift } from './balancer.js';
import { Membership } from './membership.js';
import {
  readTaskList,
  resolveTaskGroupOptions,
  type ResolvedTaskGroupOptions,
  type TaskGroupOptions,
} from './options.js';
import { TaskSlot } from './task-slot.js';
import type { TaskGroupEvents, TaskGroupState } from './events.js';

export type { RebalanceInfo, TaskGroupEvents, TaskGroupState, TaskStopReason } from './events.js';

const log = logger('tasks');

const GIFT_TTL_MS = 5_000;

export class TaskGroup extends EventEmitter<TaskGroupEvents> {
  readonly path: string;
  readonly id: string;
  private readonly options: ResolvedTaskGroupOptions;
  private readonly slots = new Map<string, TaskSlot>();
  private known: string[] = [];
  private membership: Membership | undefined;
  private stateValue: TaskGroupState = 'idle';
  private stopping: Promise<void> | undefined;
  private gifts: (Gift & { at: number })[] = [];
  private settledBefore = false;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private stopPointTimer: NodeJS.Timeout | undefined;
  /** Ends its listing in the owned-tasks gauge. */
  private untrack: (() => void) | undefined;
  private readonly onSessionLost = (): void => this.endAll('sessionExpired');
  private readonly onSuspended = (): void => {
    if (this.policy === 'strict') this.endAll('connectionLost');
  };
  private readonly onClosed = (): void => void this.stop();

  constructor(
    private readonly coordinator: CoordinatorCore,
    path: string,
    options: TaskGroupOptions,
  ) {
    super();
    this.options = resolveTaskGroupOptions(path, options);
    coordinator.checkStopWindow(this.options.stopWindowMs);
    toNativeAcl(this.options.acl);
    this.path = path;
    this.id = this.options.id;
  }

  /** What a suspended connection means for this group's terms. */
  get connectionLossPolicy(): ConnectionLossPolicy {
    return this.policy;
  }

  private get policy(): ConnectionLossPolicy {
    return this.options.connectionLossPolicy ?? this.coordinator.connectionLossPolicy;
  }

  get state(): TaskGroupState {
    return this.stateValue;
  }

  /**
   * Joins the group and starts balancing in the background; returns at once. Throws an
   * InvalidOptionError if the task list (the function's first result) is invalid, and
   * SelectorRunningError while running or stopping.
   */
  start(): void {
    if (this.stateValue === 'running' || this.stateValue === 'stopping') {
      throw new SelectorRunningError(this.stateValue, 'TaskGroup');
    }
    this.coordinator.assertUsable('TaskGroup.start()');
    this.known = readTaskList(this.options.tasks, this.path);
    this.stateValue = 'running';
    this.stopping = undefined;
    this.settledBefore = false;
    const membership = new Membership(this.coordinator, this.path, this.id, toNativeAcl(this.options.acl));
    this.membership = membership;
    membership.on('changed', () => this.scheduleReconcile());
    membership.on('error', (error) => this.emit('error', error));
    this.coordinator.on('lost', this.onSessionLost);
    this.coordinator.on('suspended', this.onSuspended);
    this.coordinator.on('closed', this.onClosed);
    if (typeof this.options.tasks === 'function') {
      this.refreshTimer = setInterval(() => this.scheduleReconcile(), this.options.refreshMs);
    }
    membership.start();
    this.untrack = this.coordinator.observability.registerTaskGroup({
      status: () => ({ path: this.path, owned: this.ownedTasks().length }),
    });
    log('%s: member %s started with %d tasks', this.path, this.id, this.known.length);
  }

  /** Tasks whose term runs on this member now (and is not ending), sorted. */
  ownedTasks(): string[] {
    return [...this.slots.values()]
      .filter((s) => s.owned)
      .map((s) => s.task)
      .sort();
  }

  /** The tasks this member knows (the last valid list), sorted. */
  knownTasks(): string[] {
    return [...this.known];
  }

  /** Reads a function task list again and rebalances now. */
  refresh(): void {
    this.scheduleReconcile();
  }

  /**
   * Leaves the group: withdraws every wait, ends every term (reason 'stop'), waits for the
   * callbacks to return and the locks to be released, and deletes the member node. Rejects with
   * StopTimeoutError after `timeoutMs` (the group still stops in the background).
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stateValue === 'idle' || this.stateValue === 'stopped') return;
    this.stopping ??= this.doStop();
    if (options.timeoutMs === undefined) return this.stopping;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.stopping.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) throw new StopTimeoutError(options.timeoutMs, 'TaskGroup');
  }

  private async doStop(): Promise<void> {
    this.stateValue = 'stopping';
    this.untrack?.();
    this.untrack = undefined;
    log('%s: member %s stopping', this.path, this.id);
    // Leave the view first: the others count without us and queue behind our tasks at once.
    const leaving = this.membership?.stop() ?? Promise.resolve();
    await Promise.all([leaving, ...[...this.slots.values()].map((slot) => slot.stop('stop'))]);
    for (const timer of [this.reconcileTimer, this.wakeTimer, this.stopPointTimer]) clearTimeout(timer);
    clearInterval(this.refreshTimer);
    this.reconcileTimer = this.wakeTimer = this.stopPointTimer = this.refreshTimer = undefined;
    this.coordinator.off('lost', this.onSessionLost);
    this.coordinator.off('suspended', this.onSuspended);
    this.coordinator.off('closed', this.onClosed);
    for (const slot of this.slots.values()) slot.dispose();
    this.slots.clear();
    this.membership?.removeAllListeners();
    this.membership = undefined;
    this.gifts = [];
    this.stateValue = 'stopped';
    log('%s: member %s stopped', this.path, this.id);
    this.emit('stopped');
  }

  /** `await using group = ...` stops it at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ---- SlotHost ------------------------------------------------------------------------------

  /** @internal */
  termHolds(lock: SharedReentrantLock, acquisition: Acquisition): boolean {
    if (!lock.isOwnedNow(acquisition, this.policy)) return false;
    return monotonicNow() < this.coordinator.stopPoint(acquisition.node.session, this.options.stopWindowMs);
  }

  /** @internal */
  mayStart(): boolean {
    return this.stateValue === 'running';
  }

  /** @internal */
  run(task: string, control: TermControl): Promise<void> | void {
    return this.options.run(task, control);
  }

  /** @internal */
  termStarted(slot: TaskSlot, control: TermControl): void {
    log(
      '%s: %s started (term %d, fencing token %s)',
      this.path,
      slot.task,
      control.term,
      control.fencingToken,
    );
    this.emit('taskStarted', { task: slot.task, term: control.term, fencingToken: control.fencingToken });
    this.armStopPoint();
    this.scheduleReconcile();
  }

  /** @internal */
  termEnded(slot: TaskSlot, control: TermControl, _failed: boolean): void {
    const reason = control.reason ?? 'leaderReturned';
    log('%s: %s stopped (term %d, %s)', this.path, slot.task, control.term, reason);
    this.emit('taskStopped', { task: slot.task, term: control.term, reason });
  }

  /** @internal */
  settled(_slot: TaskSlot): void {
    this.scheduleReconcile();
  }

  /** @internal */
  error(error: unknown): void {
    this.emit('error', error);
  }

  // ---- balancing ---------------------------------------------------------------------------

  private scheduleReconcile(): void {
    if (this.stateValue !== 'running' || this.reconcileTimer) return;
    // Coalesces a burst of changes (many grants, a member's new state) into one pass.
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = undefined;
      this.reconcile();
    }, 5);
  }

  private slotFor(task: string): TaskSlot {
    let slot = this.slots.get(task);
    if (!slot) {
      const lock = new SharedReentrantLock(this.coordinator, childPath(this.path, task), {
        id: this.id,
        verifyIntervalMs: this.options.verifyIntervalMs,
        ...(this.options.acl ? { acl: this.options.acl } : {}),
        ...(this.options.connectionLossPolicy
          ? { connectionLossPolicy: this.options.connectionLossPolicy }
          : {}),
      });
      slot = new TaskSlot(task, lock, this, this.options.minimumWorkTimeMs, this.options.errorBackoffMs);
      this.slots.set(task, slot);
    }
    return slot;
  }

  private refreshKnown(): void {
    if (typeof this.options.tasks !== 'function') return;
    try {
      this.known = readTaskList(this.options.tasks, this.path);
    } catch (error) {
      log('%s: task list rejected, keeping the last one: %O', this.path, error);
      this.emit('error', error);
    }
  }

  private reconcile(): void {
    const membership = this.membership;
    if (this.stateValue !== 'running' || !membership?.ready) return;
    this.refreshKnown();
    const now = monotonicNow();
    const knownSet = new Set(this.known);
    // Tasks no longer in our list: not ours to run.
    for (const slot of this.slots.values()) {
      if (knownSet.has(slot.task)) continue;
      slot.withdraw();
      slot.end('taskRemoved');
    }
    const owned = new Set<string>();
    const waiting = new Set<string>();
    for (const slot of this.slots.values()) {
      if (slot.owned) owned.add(slot.task);
      else if (slot.state === 'waiting') waiting.add(slot.task);
    }
    this.gifts = this.gifts.filter((g) => now - g.at < GIFT_TTL_MS);
    const plan = balance({
      self: this.id,
      others: membership.others,
      known: this.known,
      owned,
      waiting,
      gifts: this.gifts,
    });
    for (const gift of plan.handOver) {
      log('%s: handing %s over to %s', this.path, gift.task, gift.to);
      this.gifts.push({ ...gift, at: now });
      this.slots.get(gift.task)?.end('rebalance');
      owned.delete(gift.task);
    }
    const wanted = new Set(plan.wait);
    let nextWake = Number.POSITIVE_INFINITY;
    for (const slot of this.slots.values())
      if (slot.state === 'waiting' && !wanted.has(slot.task)) slot.withdraw();
    for (const task of plan.wait) {
      const slot = this.slotFor(task);
      if (slot.state !== 'idle') continue;
      if (slot.notBefore > now) nextWake = Math.min(nextWake, slot.notBefore);
      else slot.contend();
    }
    if (this.gifts.length > 0) nextWake = Math.min(nextWake, (this.gifts[0]?.at ?? now) + GIFT_TTL_MS);
    this.armWake(nextWake - now);
    this.dropIdleSlots(knownSet);
    const wants = [...this.slots.values()]
      .filter((s) => s.state === 'waiting')
      .map((s) => s.task)
      .sort();
    membership.publish({ owned: [...owned].sort(), wants });
    const settled =
      plan.handOver.length === 0 &&
      wants.length === 0 &&
      owned.size >= plan.lower &&
      owned.size <= plan.upper;
    if (settled && !this.settledBefore) {
      this.emit('rebalanced', {
        owned: [...owned].sort(),
        members: membership.others.size + 1,
        tasks: plan.total,
        share: plan.upper,
      });
    }
    this.settledBefore = settled;
  }

  /** Forgets idle slots of tasks we no longer know (their locks hold nothing). */
  private dropIdleSlots(knownSet: Set<string>): void {
    for (const [task, slot] of this.slots) {
      if (slot.state === 'idle' && !knownSet.has(task)) {
        slot.dispose();
        this.slots.delete(task);
      }
    }
  }

  private armWake(inMs: number): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (!Number.isFinite(inMs)) return;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.scheduleReconcile();
      },
      Math.max(1, Math.ceil(inMs)),
    );
  }

  // ---- watching terms, for all of them at once ----------------------------------------------

  private endAll(reason: LeadershipLossReason): void {
    for (const slot of this.slots.values()) slot.end(reason);
  }

  /**
   * One timer for every term of the group: they share the session, so they share the stop point
   * (lease deadline − stop window). Re-armed while terms run, since answers move the deadline.
   */
  private armStopPoint(): void {
    if (this.stopPointTimer || this.stateValue !== 'running') return;
    const session = this.coordinator.session;
    const stopPoint = session
      ? this.coordinator.stopPoint(session, this.options.stopWindowMs)
      : monotonicNow();
    const inMs = Number.isFinite(stopPoint) ? stopPoint - monotonicNow() + 1 : 1;
    this.stopPointTimer = setTimeout(
      () => {
        this.stopPointTimer = undefined;
        let running = false;
        for (const slot of this.slots.values()) {
          // shouldStop() ends a term whose lease ran into its stop window.
          if (slot.control && !slot.control.shouldStop()) running = true;
        }
        if (running) this.armStopPoint();
      },
      Math.max(1, Math.min(inMs, 2 ** 31 - 1)),
    );
  }
}
