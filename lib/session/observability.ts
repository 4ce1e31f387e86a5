/**
 * A coordinator's observability: OpenTelemetry instruments, diagnostics channel events for the
 * session, and the registries of held locks and selectors that status() and the gauges read.
 */
import { CHANNELS, publish, type AcquireOutcome, type ChannelMessages } from '../ops/channels.js';
import { CoordinatorMetrics, type MetricsOptions } from '../ops/metrics.js';
import { VERSION } from '../version.js';
import type { HeldLockStatus, LeaderStatus, StatusSource } from './status.js';

type SessionEvent = ChannelMessages[typeof CHANNELS.session]['event'];

export class Observability {
  /** OpenTelemetry instruments (no-ops without @opentelemetry/api or an SDK). */
  readonly metrics: CoordinatorMetrics;
  private readonly heldLocks = new Set<StatusSource<HeldLockStatus>>();
  private readonly selectors = new Set<StatusSource<LeaderStatus>>();
  private readonly taskGroups = new Set<StatusSource<{ path: string; owned: number }>>();

  constructor(options: MetricsOptions, session: { state(): string; leaseRemainingMs(): number }) {
    this.metrics = new CoordinatorMetrics(
      options,
      {
        state: session.state,
        leaseRemainingMs: session.leaseRemainingMs,
        heldLocks: () => this.heldLocks.size,
        leaders: () => this.leaderStatuses(),
        taskGroups: () => [...this.taskGroups].map((g) => g.status()),
      },
      VERSION,
    );
  }

  /** Lists a held lock in status() and the metrics until the returned function is called. */
  registerHeldLock(source: StatusSource<HeldLockStatus>): () => void {
    this.heldLocks.add(source);
    return () => this.heldLocks.delete(source);
  }

  /** Lists a started selector in status() and the metrics until the returned function is called. */
  registerSelector(source: StatusSource<LeaderStatus>): () => void {
    this.selectors.add(source);
    return () => this.selectors.delete(source);
  }

  /** Lists a running task group in the owned-tasks gauge until the returned function is called. */
  registerTaskGroup(source: StatusSource<{ path: string; owned: number }>): () => void {
    this.taskGroups.add(source);
    return () => this.taskGroups.delete(source);
  }

  heldLockStatuses(): HeldLockStatus[] {
    return [...this.heldLocks].map((h) => h.status());
  }

  leaderStatuses(): LeaderStatus[] {
    return [...this.selectors].map((s) => s.status());
  }

  sessionEvent(event: SessionEvent, sessionId: string | undefined, state: string, reason?: string): void {
    if (event === 'suspended') this.metrics.suspended();
    if (event === 'lost') this.metrics.lost(reason ?? 'unknown');
    publish(CHANNELS.session, () =>
      reason === undefined ? { event, sessionId, state } : { event, sessionId, state, reason },
    );
  }

  acquireStarted(path: string, id: string): void {
    publish(CHANNELS.acquireStart, () => ({ path, id }));
  }

  acquireEnded(
    path: string,
    id: string,
    outcome: AcquireOutcome,
    durationMs: number,
    fencingToken?: bigint,
    error?: unknown,
  ): void {
    this.metrics.acquireEnded(path, outcome, durationMs);
    publish(CHANNELS.acquireEnd, () => ({
      path,
      id,
      outcome,
      durationMs,
      ...(fencingToken === undefined ? {} : { fencingToken }),
      ...(error === undefined ? {} : { error }),
    }));
  }

  released(path: string, node: string, heldMs: number): void {
    this.metrics.holdEnded(path, heldMs);
    publish(CHANNELS.release, () => ({ path, node, heldMs }));
  }

  lockLost(path: string, node: string, reason: string): void {
    publish(CHANNELS.lockLost, () => ({ path, node, reason }));
  }

  leadershipAcquired(path: string, id: string, term: number, fencingToken: bigint): void {
    this.metrics.leadership(path, 'acquired', 'elected');
    publish(CHANNELS.leadershipAcquired, () => ({ path, id, term, fencingToken }));
  }

  leadershipLost(path: string, id: string, term: number, reason: string, durationMs: number): void {
    this.metrics.leadership(path, 'lost', reason);
    publish(CHANNELS.leadershipLost, () => ({ path, id, term, reason, durationMs }));
  }

  close(): void {
    this.metrics.close();
  }
}
