/**
 * The session layer of the Coordinator: it connects, runs the heartbeat and watchdog that
 * node-zookeeper-client lacks, opens a new session after expiry, and computes the lease (how
 * long ownership is guaranteed) from the send times of answered requests. It imports nothing
 * from the recipes; the public Coordinator (lib/coordinator.ts) adds their factories.
 */
import { EventEmitter } from 'eventemitter3';
import {
  ConnectionLossError,
  ConnectTimeoutError,
  CoordinatorClosedError,
  NotStartedError,
  TlsError,
  ZooKeeperDisabledError,
} from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import type { BackoffPolicy } from '../util/backoff.js';
import { monotonicNow, monotonicToEpoch } from '../util/clock.js';
import { logger } from '../util/log.js';
import { native, type NativeACL } from '../zk/native.js';
import { ZkSession, type SessionEnd } from '../zk/zk-session.js';
import { SessionWatchdog } from './watchdog.js';
import { ensurePath } from './ensure-path.js';
import { retrying } from './retrying.js';
import { Waiters } from '../util/waiters.js';
import type { CoordinatorStatus } from './status.js';
import { Observability } from './observability.js';
import { checkStopWindow, sessionTiming, type SessionTiming } from './timing.js';
import type { CoordinatorEvents, CoordinatorState, SessionLossReason, WaitOptions } from './events.js';
import {
  resolveCoordinatorOptions,
  type ConnectionLossPolicy,
  type CoordinatorOptions,
  type ResolvedCoordinatorOptions,
} from './options.js';

export type { SessionTiming } from './timing.js';

const log = logger('coordinator');

export type { CoordinatorEvents, CoordinatorState, SessionLossReason, WaitOptions } from './events.js';

/**
 * One ZooKeeper session per Coordinator: connects, runs the heartbeat and watchdog, opens a new
 * session after expiry, and computes the lease that bounds ownership. Recipes are built on it;
 * users create them from its subclass {@link Coordinator}.
 */
export class CoordinatorCore extends EventEmitter<CoordinatorEvents> {
  private readonly options: ResolvedCoordinatorOptions;
  private currentSession: ZkSession | undefined;
  private stateValue: CoordinatorState;
  private readonly watchdog: SessionWatchdog;
  /** start() was called: a session is being opened or kept until close(). */
  private started = false;
  /** A first session was established. */
  private everConnected = false;
  /** Monotonic time of the last suspension ('strict' owners need a check sent after it). @internal */
  lastSuspendedAt = Number.NEGATIVE_INFINITY;
  private closePromise: Promise<void> | undefined;
  private readonly closeHooks = new Set<() => void>();
  /** Metrics, diagnostics channels and the registries status() reads. @internal */
  readonly observability: Observability;
  /** Pending start() calls, told when a TLS handshake fails before the first session. */
  private readonly startFailures = new Set<(error: Error) => void>();
  /** Woken whenever the state changes; lets waiters re-check without polling. */
  private readonly stateWaiters = new Waiters();

  constructor(options: CoordinatorOptions) {
    super();
    this.options = resolveCoordinatorOptions(options);
    this.checkStopWindow(this.options.stopWindowMs);
    this.observability = new Observability(this.options.metrics, {
      state: () => this.stateValue,
      leaseRemainingMs: () => this.leaseRemainingMs(),
    });
    this.stateValue = this.options.disabled ? 'disabled' : 'idle';
    this.watchdog = new SessionWatchdog(
      {
        currentSession: () => this.currentSession,
        timing: (session) => this.timingFor(session.timeoutMs),
        suspend: (session, why) => this.suspend(session, why),
      },
      Math.max(20, Math.min(500, Math.floor(this.options.sessionTimeoutMs / 12))),
    );
  }

  /** Current connection state. */
  get state(): CoordinatorState {
    return this.stateValue;
  }

  /** The connect string in use (`host:port[,host:port...][/chroot]`). */
  get connectString(): string {
    return this.options.connectString;
  }

  /** True in disabled mode (`disabled: true` or `ZOOKEEPER_DISABLED=true`): no connection, no locks. */
  get disabled(): boolean {
    return this.options.disabled;
  }

  /** Current session id (16 hex digits), undefined before the first session. */
  get sessionId(): string | undefined {
    return this.currentSession?.sessionId;
  }

  /** The negotiated session timeout S (the requested one before the first session). */
  get sessionTimeoutMs(): number {
    return this.currentSession?.timeoutMs ?? this.options.sessionTimeoutMs;
  }

  /** Heartbeat, suspension, margin and request timeout derived from the negotiated S. */
  get timing(): SessionTiming {
    return this.timingFor(this.sessionTimeoutMs);
  }

  private timingFor(sessionTimeoutMs: number, stopWindowMs = this.options.stopWindowMs): SessionTiming {
    return sessionTiming(this.options, sessionTimeoutMs, stopWindowMs);
  }

  /** The connection-loss policy in force (a recipe's own option wins over this). */
  get connectionLossPolicy(): ConnectionLossPolicy {
    return this.options.connectionLossPolicy;
  }

  /**
   * Monotonic instant at which terms of `session` stop: its lease deadline minus the stop window
   * (a recipe's own `stopWindowMs` if given). -Infinity once the session ended. @internal
   */
  stopPoint(session: ZkSession, stopWindowMs?: number): number {
    const window = this.timingFor(
      this.sessionTimeoutMs,
      stopWindowMs ?? this.options.stopWindowMs,
    ).stopWindowMs;
    return this.leaseDeadline(session) - window;
  }

  /** Throws InvalidOptionError unless a stop window leaves room for heartbeats at the requested S. @internal */
  checkStopWindow(stopWindowMs: number | undefined, option = 'stopWindowMs'): number | undefined {
    return checkStopWindow(this.options, stopWindowMs, option);
  }

  /**
   * Epoch ms until which the current session is guaranteed alive at the servers:
   * send time of the newest answered request + S - margin. 0 when there is no live session.
   */
  ownershipDeadline(): number {
    const session = this.currentSession;
    const deadline = session ? this.leaseDeadline(session) : Number.NEGATIVE_INFINITY;
    return Number.isFinite(deadline) ? monotonicToEpoch(deadline) : 0;
  }

  /** Monotonic lease deadline of a session (-Infinity once it ended). @internal */
  leaseDeadline(session: ZkSession): number {
    if (session.ended || !session.wasConnected) return Number.NEGATIVE_INFINITY;
    const timing = this.timingFor(session.timeoutMs);
    return session.lastAnsweredSendTime + timing.sessionTimeoutMs - timing.leaseMarginMs;
  }

  /** Backoff for retried requests. @internal */
  get retryPolicy(): BackoffPolicy {
    return this.options.retry;
  }

  /** The live session, if any. @internal */
  get session(): ZkSession | undefined {
    return this.currentSession;
  }

  /**
   * Starts connecting and resolves once the first session is established. Rejects with
   * ConnectTimeoutError after connectTimeoutMs, but keeps trying in the background (with the
   * client's backoff across the servers) until close(): selectors started meanwhile lead and
   * pending acquires proceed once ZooKeeper answers; nothing needs to be started again.
   */
  start(): Promise<void> {
    if (this.options.disabled) return Promise.resolve();
    if (this.stateValue === 'closed') return Promise.reject(new CoordinatorClosedError('start()'));
    if (!this.started) {
      this.started = true;
      this.setState('connecting');
      this.openSession();
      this.watchdog.start();
    }
    if (this.everConnected) return Promise.resolve();
    return this.firstSessionWithin(this.options.connectTimeoutMs);
  }

  private firstSessionWithin(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (outcome: Error | undefined): void => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.closeHooks.delete(onClose);
        this.startFailures.delete(onTlsError);
        if (outcome) reject(outcome);
        else resolve();
      };
      const onConnected = (): void => settle(undefined);
      const onClose = (): void => settle(new CoordinatorClosedError('start()'));
      const onTlsError = (error: Error): void => settle(new TlsError(this.options.connectString, error));
      const timer = setTimeout(() => {
        log('no session within %d ms; still trying in the background', timeoutMs);
        settle(new ConnectTimeoutError(this.options.connectString, timeoutMs));
      }, timeoutMs);
      this.on('connected', onConnected);
      this.closeHooks.add(onClose);
      this.startFailures.add(onTlsError);
    });
  }

  private openSession(): ZkSession {
    const session = new ZkSession({
      connectString: this.options.connectString,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      auth: this.options.auth,
      tls: this.options.tls,
      onAnswer: (operation, ms, ok) => this.observability.metrics.request(operation, ms, ok),
    });
    this.currentSession = session;
    let announced = false;
    session.on('connected', () => {
      if (this.currentSession !== session || this.stateValue === 'closed') return;
      const sessionId = session.sessionId ?? '';
      this.setState('connected');
      this.observability.sessionEvent(announced ? 'reconnected' : 'connected', sessionId, this.stateValue);
      if (!announced) {
        announced = true;
        this.everConnected = true;
        log('session %s established, negotiated timeout %d ms', sessionId, session.timeoutMs);
        this.emit('connected', { sessionId, sessionTimeoutMs: session.timeoutMs });
      } else {
        log('session %s reconnected', sessionId);
        this.emit('reconnected', { sessionId });
      }
      this.watchdog.heartbeat(session);
    });
    session.on('disconnected', () => this.suspend(session, 'disconnected'));
    session.on('ended', (reason) => this.onSessionEnded(session, reason));
    session.on('tlsError', (error) => {
      log('TLS handshake failed: %s', error.message);
      // Before the first session this is why start() cannot succeed: say so at once.
      if (!this.everConnected) for (const fail of [...this.startFailures]) fail(error);
    });
    session.connect();
    return session;
  }

  private suspend(session: ZkSession, why: string): void {
    if (this.currentSession !== session || this.stateValue !== 'connected') return;
    log('session %s suspended (%s)', session.sessionId, why);
    this.setState('suspended');
    this.lastSuspendedAt = monotonicNow();
    this.observability.sessionEvent('suspended', session.sessionId, 'suspended', why);
    this.emit('suspended', { sessionId: session.sessionId ?? '' });
  }

  private onSessionEnded(session: ZkSession, reason: SessionEnd): void {
    if (this.currentSession !== session || reason === 'closed' || this.stateValue === 'closed') return;
    const lossReason: SessionLossReason =
      reason === 'expired' ? 'expired' : reason === 'gave-up' ? 'timeout' : 'auth-failed';
    log('session %s lost (%s)', session.sessionId, lossReason);
    this.setState('connecting');
    this.observability.sessionEvent('lost', session.sessionId, this.stateValue, lossReason);
    this.emit('lost', { sessionId: session.sessionId, reason: lossReason });
    // A 'lost' listener may have closed the coordinator.
    if ((this.stateValue as CoordinatorState) === 'closed') return;
    if (reason === 'auth-failed') {
      // Retrying with the same credentials would fail again.
      void this.close();
      return;
    }
    this.openSession();
  }

  private setState(state: CoordinatorState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.stateWaiters.wake();
  }

  /** Resolves when the state changes (or the signal aborts). @internal */
  nextStateChange(signal?: AbortSignal): Promise<void> {
    return this.stateWaiters.next(signal);
  }

  /** Resolves with the live, connected session; waits for one up to the timeout. @internal */
  async connectedSession(operation: string, options: WaitOptions = {}): Promise<ZkSession> {
    const deadline = monotonicNow() + (options.timeoutMs ?? this.timing.requestTimeoutMs);
    for (;;) {
      this.assertUsable(operation);
      throwIfAborted(options.signal, operation);
      const session = this.currentSession;
      if (session && !session.ended && session.isConnected && this.stateValue === 'connected') return session;
      const remaining = deadline - monotonicNow();
      if (remaining <= 0) throw new ConnectionLossError(`${operation}: no connected ZooKeeper session`);
      // No timeout signal for an unbounded wait (AbortSignal.timeout rejects Infinity).
      const timeout = Number.isFinite(remaining)
        ? AbortSignal.timeout(Math.min(Math.ceil(remaining), 2 ** 31 - 1))
        : undefined;
      const signal =
        options.signal && timeout ? AbortSignal.any([options.signal, timeout]) : (options.signal ?? timeout);
      await this.nextStateChange(signal);
    }
  }

  /** Throws unless recipes may still be created (not disabled, not closed). @internal */
  assertCanCreate(operation: string): void {
    if (this.options.disabled) throw new ZooKeeperDisabledError(operation);
    if (this.stateValue === 'closed') throw new CoordinatorClosedError(operation);
  }

  /** Throws unless the coordinator can serve requests. @internal */
  assertUsable(operation: string): void {
    if (this.options.disabled) throw new ZooKeeperDisabledError(operation);
    if (this.stateValue === 'closed') throw new CoordinatorClosedError(operation);
    if (this.stateValue === 'idle' || !this.currentSession) throw new NotStartedError(operation);
  }

  /**
   * Runs an idempotent request against the current session, retrying after connection loss and
   * request timeouts with backoff and jitter, within `timeoutMs`. @internal
   */
  retrying<T>(
    operation: string,
    options: WaitOptions,
    run: (session: ZkSession, requestTimeoutMs: number) => Promise<T>,
  ): Promise<T> {
    return retrying(this, this.options.retry, operation, options, run);
  }

  /**
   * Creates `path` and its missing ancestors as persistent nodes (CONTAINER mode is not
   * available in node-zookeeper-client). Existing nodes are fine. @internal
   */
  async ensurePath(
    path: string,
    acl: NativeACL[] = native.ACL.OPEN_ACL_UNSAFE,
    options: WaitOptions = {},
  ): Promise<void> {
    await ensurePath(this, path, acl, options);
  }

  private leaseRemainingMs(): number {
    const deadline = this.ownershipDeadline();
    return deadline > 0 ? Math.max(0, deadline - Date.now()) : 0;
  }

  /** A plain object for health endpoints: session, lease, held locks, leaders (README, "Operations"). */
  status(): CoordinatorStatus {
    return {
      state: this.stateValue,
      connectString: this.options.connectString,
      sessionId: this.sessionId,
      sessionTimeoutMs: this.sessionTimeoutMs,
      connectionLossPolicy: this.connectionLossPolicy,
      ownershipDeadline: this.ownershipDeadline(),
      leaseRemainingMs: this.leaseRemainingMs(),
      heldLocks: this.observability.heldLockStatuses(),
      leaders: this.observability.leaderStatuses(),
    };
  }

  /**
   * Closes the session (the server then deletes this client's lock nodes at once) and clears
   * every timer and socket, so the process can exit. Idempotent.
   */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    const wasDisabled = this.options.disabled;
    this.setState('closed');
    this.watchdog.stop();
    for (const hook of [...this.closeHooks]) {
      try {
        hook();
      } catch (error) {
        log('close hook failed: %O', error);
      }
    }
    this.closeHooks.clear();
    const session = this.currentSession;
    if (session && !wasDisabled) await session.end('closed', true);
    log('closed');
    this.observability.sessionEvent('closed', session?.sessionId, 'closed');
    this.observability.close();
    this.emit('closed');
    this.removeAllListeners();
  }

  /** `await using coordinator = ...` closes it at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
