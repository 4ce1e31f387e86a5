/**
 * The timing that follows from the session timeout S (README, "Timing"): heartbeat, suspension,
 * lease margin, request timeout and the leaders' stop window.
 */
import { InvalidOptionError } from '../errors.js';
import type { ResolvedCoordinatorOptions } from './options.js';

/** Timing in force for the current session, all in ms. */
export interface SessionTiming {
  /** The negotiated session timeout S. */
  sessionTimeoutMs: number;
  /** Idle time after which a heartbeat request is sent (default S/6). */
  heartbeatIntervalMs: number;
  /** No answer for this long suspends the connection (default S/2). */
  suspendAfterMs: number;
  /** Subtracted from the lease for clock-rate drift (default max(10% of S, 500 ms)). */
  leaseMarginMs: number;
  /** Timeout of one ZooKeeper request (default S). */
  requestTimeoutMs: number;
  /** Leaders are told to stop this long before the ownership deadline (default max(S/4, 1 s), at most (S - margin)/2). */
  stopWindowMs: number;
}

/** The timing for a negotiated S (and a stop window, if one was configured). */
export function sessionTiming(
  options: ResolvedCoordinatorOptions,
  sessionTimeoutMs: number,
  stopWindowMs: number | undefined,
): SessionTiming {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(10, Math.floor(sessionTimeoutMs / 6));
  const leaseMarginMs = Math.min(
    options.leaseMarginMs ?? Math.max(Math.floor(sessionTimeoutMs / 10), 500),
    sessionTimeoutMs,
  );
  const usable = sessionTimeoutMs - leaseMarginMs;
  return {
    sessionTimeoutMs,
    heartbeatIntervalMs,
    suspendAfterMs: options.suspendAfterMs ?? Math.floor(sessionTimeoutMs / 2),
    leaseMarginMs,
    requestTimeoutMs: options.requestTimeoutMs ?? sessionTimeoutMs,
    // A window that reaches back past the next heartbeat would end healthy terms: when the
    // server grants a smaller S than asked, a configured window is cut to fit.
    stopWindowMs: Math.max(
      0,
      Math.min(
        stopWindowMs ?? Math.min(Math.max(Math.floor(sessionTimeoutMs / 4), 1000), Math.floor(usable / 2)),
        usable - heartbeatIntervalMs - 1,
      ),
    ),
  };
}

/** Throws InvalidOptionError unless a stop window leaves room for heartbeats at the requested S. */
export function checkStopWindow(
  options: ResolvedCoordinatorOptions,
  stopWindowMs: number | undefined,
  option = 'stopWindowMs',
): number | undefined {
  if (stopWindowMs === undefined) return undefined;
  const S = options.sessionTimeoutMs;
  const timing = sessionTiming(options, S, 0);
  const max = S - timing.leaseMarginMs - timing.heartbeatIntervalMs - 1;
  if (
    typeof stopWindowMs !== 'number' ||
    !Number.isInteger(stopWindowMs) ||
    stopWindowMs < 0 ||
    stopWindowMs > max
  ) {
    throw new InvalidOptionError(
      option,
      `must be an integer between 0 and ${max} ms (S - leaseMarginMs - heartbeatIntervalMs at S = ${S} ms), got ${String(stopWindowMs)}`,
    );
  }
  return stopWindowMs;
}
