/**
 * The heartbeat and watchdog node-zookeeper-client lacks (DESIGN.md, Session and lease). The
 * client pings only when its socket is idle and never notices missing answers, so it stays
 * "connected" through a silent partition while the server expires the session. This module:
 * - sends a cheap request (`exists /`) once nothing was answered for heartbeatIntervalMs (S/6);
 * - when nothing was answered for suspendAfterMs (S/2), reports a suspension and drops the
 *   socket, so the client reconnects (to another ensemble member where there is one);
 * - drops a connect attempt that hangs (the client has no timeout once TCP is connected);
 * - gives the session up after S without an answer: the server may have expired it.
 */
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import type { ZkSession } from '../zk/zk-session.js';

const log = logger('watchdog');

/** The timing the watchdog applies to a session (derived from its negotiated S). */
export interface WatchdogTiming {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  suspendAfterMs: number;
}

/** What the watchdog needs from its owner. */
export interface WatchdogHost {
  /** The live session, if any. */
  currentSession(): ZkSession | undefined;
  timing(session: ZkSession): WatchdogTiming;
  /** Called when a connected session stopped answering, before its socket is dropped. */
  suspend(session: ZkSession, why: string): void;
}

export class SessionWatchdog {
  private timer: NodeJS.Timeout | undefined;
  /** The session whose heartbeat is in flight (one at a time per session). */
  private heartbeatFor: ZkSession | undefined;

  constructor(
    private readonly host: WatchdogHost,
    /** Tick period; often enough to notice S/2 of silence within about S/12. */
    private readonly tickMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends a heartbeat now unless one is in flight for this session. */
  heartbeat(session: ZkSession): void {
    if (this.heartbeatFor === session || session.ended) return;
    this.heartbeatFor = session;
    session
      .exists('/', { timeoutMs: this.host.timing(session).suspendAfterMs })
      .catch((error: unknown) =>
        log('heartbeat failed: %s', error instanceof Error ? error.message : String(error)),
      )
      .finally(() => {
        if (this.heartbeatFor === session) this.heartbeatFor = undefined;
      });
  }

  private tick(): void {
    const session = this.host.currentSession();
    if (!session || session.ended) return;
    const now = monotonicNow();
    const timing = this.host.timing(session);
    if (session.wasConnected && now - session.lastAnsweredSendTime > timing.sessionTimeoutMs) {
      // Nothing answered for S: the server may have expired the session. Give it up (as Curator
      // does) rather than resume it unknowingly: every lock it held is lost.
      log(
        'session %s unanswered for %d ms (S = %d): giving it up',
        session.sessionId,
        Math.round(now - session.lastAnsweredSendTime),
        timing.sessionTimeoutMs,
      );
      void session.end('gave-up');
      return;
    }
    if (session.isConnected) {
      const silentFor = now - Math.max(session.lastAnsweredSendTime, session.lastTransitionTime);
      if (silentFor > timing.suspendAfterMs) {
        // The client still says "connected", but nothing was answered: a silent partition.
        this.host.suspend(session, `no answer for ${Math.round(silentFor)} ms`);
        session.dropConnection();
        return;
      }
      if (now - session.lastAnsweredSendTime >= timing.heartbeatIntervalMs) this.heartbeat(session);
    } else if (now - session.lastTransitionTime > Math.max(100, timing.suspendAfterMs / 2)) {
      // A connect attempt that hangs: try the next server.
      session.dropConnection();
    }
  }
}
