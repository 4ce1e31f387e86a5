/**
 * LeaderSelector: tw-leader-selector's non-blocking LeaderSelectorV2 on a SharedReentrantLock.
 * State machine: idle -> contending -> leading -> releasing -> (contending | stopped).
 * The leader callback runs once per term; the selector never interrupts it, it aborts the
 * term's signal the moment leadership may be lost, so the leader stops before anyone else can
 * become leader (the lease ends before the server can expire the session).
 */
import { EventEmitter } from 'eventemitter3';
import {
  AbortError,
  CoordinatorClosedError,
  InvalidOptionError,
  SelectorRunningError,
  StopTimeoutError,
} from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import type { LeaderStatus } from '../session/status.js';
import { checkConnectionLossPolicy, type ConnectionLossPolicy } from '../session/options.js';
import { delay } from '../util/abort.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import type { Acquisition } from '../lock/acquisition.js';
import { runOutsideHolds } from '../lock/hold-scope.js';
import type { LockLossReason, SharedReentrantLock } from '../lock/shared-reentrant-lock.js';
import { TermControl, type Control, type LeadershipLossReason } from './control.js';

const log = logger('leader');

/** The leader callback: do the work of one term, return when `control.shouldStop()`. */
export type LeaderCallback = (control: Control) => Promise<void> | void;

/** Options of {@link LeaderSelector}. */
export interface LeaderSelectorOptions {
  /** The lock that decides leadership (one selector per lock instance is typical). */
  lock: SharedReentrantLock;
  /** Runs once per term while this process leads. */
  leader: LeaderCallback;
  /** How often a leader verifies its node (first, our id) and the lease (default 2000 ms). */
  tickMs?: number;
  /** At most one term start per this many ms (default 2000). */
  minimumWorkTimeMs?: number;
  /** Stop the selector after this many terms (default: never). */
  workIterationsUntilStop?: number;
  /** Pause after a throwing callback or a failed acquire before contending again (default 1000 ms). */
  errorBackoffMs?: number;
  /**
   * What a suspended connection means for a term (default: the lock's, else the coordinator's).
   * 'lease': the term goes on while the lease holds; 'strict': a suspension ends it at once.
   */
  connectionLossPolicy?: ConnectionLossPolicy;
  /**
   * The term is told to stop this long before its ownership deadline when the session has not
   * answered again (default: the coordinator's, max(S/4, 1 s)): the leader's time to wind down.
   */
  stopWindowMs?: number;
}

/** Options of {@link Coordinator.createLeaderSelector}: the lock is made from the path. */
export type LeaderSelectorPathOptions = Omit<LeaderSelectorOptions, 'lock'> & {
  /** The lock's id (see LockOptions.id). */
  id?: string;
};

/** State of a {@link LeaderSelector}. */
export type LeaderSelectorState = 'idle' | 'contending' | 'leading' | 'releasing' | 'stopped';

/** Events of a {@link LeaderSelector} (eventemitter3). */
export interface LeaderSelectorEvents {
  /** A term started: this selector leads. */
  leadershipAcquired: (info: { term: number; fencingToken: bigint }) => void;
  /** A term ended (its callback returned or leadership may be lost), with the reason. */
  leadershipLost: (info: { term: number; reason: LeadershipLossReason }) => void;
  /** A throwing callback or a failed acquire; the selector keeps running. */
  error: (error: unknown) => void;
  /** The selector stopped (stop(), workIterationsUntilStop, or its coordinator closed). */
  stopped: () => void;
  /** Every state transition. */
  stateChanged: (state: LeaderSelectorState) => void;
}

const LOCK_LOSS: Record<LockLossReason, LeadershipLossReason> = {
  sessionExpired: 'sessionExpired',
  connectionLost: 'connectionLost',
  nodeDeleted: 'nodeChanged',
  nodeChanged: 'nodeChanged',
};

function checkMs(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new InvalidOptionError(name, `must be an integer number of ms >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * Runs a leader callback on exactly one contender at a time (tw-leader-selector's LeaderSelectorV2):
 * non-blocking `start()`, graceful `stop()`, one callback run per term, never interrupted: the
 * callback watches `control.shouldStop()` / `control.signal` and returns.
 */
export class LeaderSelector extends EventEmitter<LeaderSelectorEvents> {
  /** The lock that decides leadership. */
  readonly lock: SharedReentrantLock;
  private readonly leader: LeaderCallback;
  private readonly tickMs: number;
  private readonly minimumWorkTimeMs: number;
  private readonly workIterationsUntilStop: number | undefined;
  private readonly errorBackoffMs: number;
  private readonly policy: ConnectionLossPolicy | undefined;
  private readonly stopWindowMs: number | undefined;
  private stateValue: LeaderSelectorState = 'idle';
  private stopController: AbortController | undefined;
  private running: Promise<void> | undefined;
  private currentControl: TermControl | undefined;
  private callbackRunning = false;
  private termCounter = 0;
  /** Epoch ms the current term started. */
  private termSince = 0;

  constructor(options: LeaderSelectorOptions) {
    super();
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'must be an object');
    if (!options.lock || typeof options.lock.acquire !== 'function') {
      throw new InvalidOptionError('lock', 'pass a lock from coordinator.createLock(path)');
    }
    if (typeof options.leader !== 'function')
      throw new InvalidOptionError('leader', 'must be a function (control) => ...');
    this.lock = options.lock;
    this.leader = options.leader;
    this.tickMs = checkMs('tickMs', options.tickMs, 2000, 10);
    this.minimumWorkTimeMs = checkMs('minimumWorkTimeMs', options.minimumWorkTimeMs, 2000);
    this.errorBackoffMs = checkMs('errorBackoffMs', options.errorBackoffMs, 1000);
    if (options.workIterationsUntilStop !== undefined) {
      checkMs('workIterationsUntilStop', options.workIterationsUntilStop, 0, 1);
    }
    this.workIterationsUntilStop = options.workIterationsUntilStop;
    this.policy = checkConnectionLossPolicy(options.connectionLossPolicy);
    this.stopWindowMs = options.lock.coordinatorRef.checkStopWindow(options.stopWindowMs);
  }

  /** What a suspended connection means for this selector's terms. */
  get connectionLossPolicy(): ConnectionLossPolicy {
    return this.policy ?? this.lock.connectionLossPolicy;
  }

  /** Current state: idle, contending, leading, releasing or stopped. */
  get state(): LeaderSelectorState {
    return this.stateValue;
  }

  /** Starts contending in the background; returns at once. Throws while running or stopping. */
  start(): void {
    if (this.running) throw new SelectorRunningError(this.stateValue);
    const controller = new AbortController();
    this.stopController = controller;
    this.setState('contending');
    const untrack = this.lock.coordinatorRef.observability.registerSelector({ status: () => this.status() });
    this.running = runOutsideHolds(() => this.run(controller.signal)).finally(() => {
      untrack();
      this.running = undefined;
      this.setState('stopped');
      this.emit('stopped');
    });
  }

  /**
   * Stops gracefully: aborts a pending acquire at once, or asks the leader to stop and waits for
   * its callback to return and the lock to be released. Rejects with StopTimeoutError after
   * `timeoutMs` (the selector still stops in the background).
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const running = this.running;
    this.stopController?.abort('stop');
    this.currentControl?.end('stop');
    if (!running) return;
    if (options.timeoutMs === undefined) {
      await running;
      return;
    }
    if (!(await this.waitUntilStopped(options.timeoutMs))) throw new StopTimeoutError(options.timeoutMs);
  }

  /** True once start() was called and the selector has fully stopped (or never started). */
  hasStopped(): boolean {
    return this.running === undefined;
  }

  /** Waits up to maxWaitMs for the selector to stop; resolves with hasStopped(). */
  async waitUntilStopped(maxWaitMs: number): Promise<boolean> {
    const running = this.running;
    if (!running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxWaitMs);
    });
    await Promise.race([running, timeout]);
    clearTimeout(timer);
    return this.hasStopped();
  }

  /** For coordinator.status() and the is-leader gauge. */
  private status(): LeaderStatus {
    const control = this.currentControl;
    const leading = this.isLeader();
    return {
      path: this.lock.path,
      id: this.lock.id,
      state: this.stateValue,
      leading,
      ...(leading && control
        ? { term: control.term, since: this.termSince, fencingToken: String(control.fencingToken) }
        : {}),
    };
  }

  /** True while the leader callback is running (tw had this inverted). */
  isWorking(): boolean {
    return this.callbackRunning;
  }

  /** True while this selector leads and its ownership is intact. */
  isLeader(): boolean {
    return (
      this.stateValue === 'leading' && this.currentControl !== undefined && !this.currentControl.shouldStop()
    );
  }

  /** The current term's Control (undefined when not leading). */
  get control(): Control | undefined {
    return this.currentControl;
  }

  private setState(state: LeaderSelectorState): void {
    if (this.stateValue === state) return;
    log('%s: %s -> %s', this.lock.path, this.stateValue, state);
    this.stateValue = state;
    this.emit('stateChanged', state);
  }

  private async run(stopSignal: AbortSignal): Promise<void> {
    let lastTermStart = Number.NEGATIVE_INFINITY;
    let terms = 0;
    while (!stopSignal.aborted) {
      this.setState('contending');
      const wait = lastTermStart + this.minimumWorkTimeMs - monotonicNow();
      if (wait > 0 && !(await delay(wait, stopSignal))) break;
      let acquisition: Acquisition | undefined;
      try {
        acquisition = await this.lock.acquireHold({ signal: stopSignal });
      } catch (error) {
        if (error instanceof AbortError || stopSignal.aborted) break;
        if (error instanceof CoordinatorClosedError) {
          // Nothing to contend with any more; a closed coordinator must let the process exit.
          log('%s: coordinator closed; selector stops', this.lock.path);
          break;
        }
        log('%s: acquire failed: %O', this.lock.path, error);
        this.emit('error', error);
        await delay(this.errorBackoffMs, stopSignal);
        continue;
      }
      if (!acquisition) continue;
      if (stopSignal.aborted) {
        // stop() came while the acquire was answered: no term starts after stop().
        await this.lock.releaseHeld(acquisition).catch((error: unknown) => this.emit('error', error));
        break;
      }
      if (!this.termOwned(acquisition, this.connectionLossPolicy)) {
        // A grant that arrives stale (the process was paused past its lease, say) starts no term.
        log('%s: acquired, but ownership already ended; contending again', this.lock.path);
        await this.lock.releaseHeld(acquisition).catch((error: unknown) => this.emit('error', error));
        lastTermStart = monotonicNow(); // not a term, but paced like one
        continue;
      }
      lastTermStart = monotonicNow();
      const failed = await this.runTerm(acquisition, stopSignal);
      terms += 1;
      if (this.workIterationsUntilStop !== undefined && terms >= this.workIterationsUntilStop) break;
      if (failed && !stopSignal.aborted) await delay(this.errorBackoffMs, stopSignal);
    }
  }

  /**
   * A term holds while the lock is owned (under this policy) and the lease has more than the stop
   * window left: a silent partition ends it stopWindowMs before the deadline it was shown.
   */
  private termOwned(acquisition: Acquisition, policy: ConnectionLossPolicy): boolean {
    return (
      this.lock.isOwnedNow(acquisition, policy) &&
      monotonicNow() < this.lock.coordinatorRef.stopPoint(acquisition.node.session, this.stopWindowMs)
    );
  }

  /** One term: watch ownership, run the callback, release. Resolves true if the callback threw. */
  private async runTerm(acquisition: Acquisition, stopSignal: AbortSignal): Promise<boolean> {
    this.termCounter += 1;
    const term = this.termCounter;
    const lock = this.lock;
    const policy = this.connectionLossPolicy;
    const control = new TermControl(
      term,
      acquisition.node.czxid,
      () => this.termOwned(acquisition, policy),
      () => lock.deadlineOf(acquisition),
    );
    this.currentControl = control;
    const stopWatching = this.watchOwnership(acquisition, control, stopSignal, policy);
    this.setState('leading');
    const termStartedAt = monotonicNow();
    this.termSince = Date.now();
    lock.coordinatorRef.observability.leadershipAcquired(lock.path, lock.id, term, acquisition.node.czxid);
    this.emit('leadershipAcquired', { term, fencingToken: acquisition.node.czxid });
    let failed = false;
    this.callbackRunning = true;
    try {
      // In the hold's scope: lock.considerAsOwned() and nested acquire() inside refer to this term.
      await lock.runHolding(acquisition, () => this.leader(control));
    } catch (error) {
      failed = true;
      log('%s: leader callback threw in term %d: %O', lock.path, term, error);
      this.emit('error', error);
    } finally {
      this.callbackRunning = false;
    }
    control.end(stopSignal.aborted ? 'stop' : 'leaderReturned');
    stopWatching();
    this.setState('releasing');
    this.currentControl = undefined;
    lock.coordinatorRef.observability.leadershipLost(
      lock.path,
      lock.id,
      term,
      control.reason ?? 'leaderReturned',
      monotonicNow() - termStartedAt,
    );
    this.emit('leadershipLost', { term, reason: control.reason ?? 'leaderReturned' });
    try {
      if (acquisition.status !== 'released') await lock.releaseHeld(acquisition);
    } catch (error) {
      log('%s: release failed: %O', lock.path, error);
      this.emit('error', error);
    }
    return failed;
  }

  /**
   * Ends the term the moment ownership may be lost: lock loss events, session loss, a suspension
   * under 'strict', the stop point before the lease deadline (a timer, not the callback's next
   * poll), and a verification every tickMs.
   */
  private watchOwnership(
    acquisition: Acquisition,
    control: TermControl,
    stopSignal: AbortSignal,
    policy: ConnectionLossPolicy,
  ): () => void {
    const lock = this.lock;
    const coordinator: CoordinatorCore = lock.coordinatorRef;
    const onLost = (info: { node: string; reason: LockLossReason }): void => {
      if (info.node === acquisition.node.nodeName) control.end(LOCK_LOSS[info.reason]);
    };
    const onSuspended = (): void => control.end('connectionLost');
    const onSessionLost = (): void => control.end('sessionExpired');
    const onStop = (): void => control.end('stop');
    lock.on('lost', onLost);
    if (policy === 'strict') coordinator.on('suspended', onSuspended);
    coordinator.on('lost', onSessionLost);
    stopSignal.addEventListener('abort', onStop, { once: true });
    if (stopSignal.aborted) onStop(); // an aborted signal fires no event any more
    const verify = (): void => {
      lock.verifyAcquisition(acquisition, this.tickMs).then(
        (status) => {
          if (status === 'SERVER_SIDE_ID_DIFFERENT') control.end('nodeChanged');
          else if (status !== 'OK') control.shouldStop();
        },
        (error: unknown) => log('%s: verification failed: %O', lock.path, error),
      );
    };
    // At once (this also sets the watch on our node), then every tick.
    verify();
    let deadlineTimer: NodeJS.Timeout | undefined;
    // Re-armed until the stop point: answered requests keep moving the deadline.
    const armDeadline = (): void => {
      if (control.shouldStop()) return;
      const remaining = coordinator.stopPoint(acquisition.node.session, this.stopWindowMs) - monotonicNow();
      deadlineTimer = setTimeout(armDeadline, Math.max(1, Math.min(remaining + 1, 2 ** 31 - 1)));
    };
    armDeadline();
    const tick = setInterval(() => {
      if (!control.shouldStop()) verify();
    }, this.tickMs);
    return () => {
      clearInterval(tick);
      if (deadlineTimer) clearTimeout(deadlineTimer);
      lock.off('lost', onLost);
      coordinator.off('suspended', onSuspended);
      coordinator.off('lost', onSessionLost);
      stopSignal.removeEventListener('abort', onStop);
    };
  }
}
