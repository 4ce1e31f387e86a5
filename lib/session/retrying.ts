/** Retries of idempotent requests after connection loss (the coordinator's `retrying`). */
import { ConnectionLossError, RequestTimeoutError } from '../errors.js';
import { delay } from '../util/abort.js';
import { backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import type { ZkSession } from '../zk/zk-session.js';
import type { WaitOptions } from './events.js';

const log = logger('coordinator');

/** What retrying needs of its coordinator. */
export interface SessionSource {
  readonly timing: { requestTimeoutMs: number };
  connectedSession(operation: string, options: WaitOptions): Promise<ZkSession>;
}

/**
 * Runs `run` against the connected session, retrying after connection loss and request timeouts
 * with backoff and jitter, within `options.timeoutMs` (default: the request timeout).
 */
export async function retrying<T>(
  source: SessionSource,
  policy: BackoffPolicy,
  operation: string,
  options: WaitOptions,
  run: (session: ZkSession, requestTimeoutMs: number) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? source.timing.requestTimeoutMs;
  const deadline = monotonicNow() + timeoutMs;
  for (let attempt = 0; ; attempt += 1) {
    const remaining = deadline - monotonicNow();
    const session = await source.connectedSession(operation, {
      timeoutMs: Math.max(0, remaining),
      signal: options.signal,
    });
    try {
      return await run(
        session,
        Math.max(1, Math.min(source.timing.requestTimeoutMs, deadline - monotonicNow())),
      );
    } catch (error) {
      const retriable = error instanceof ConnectionLossError || error instanceof RequestTimeoutError;
      if (!retriable || attempt >= policy.maxRetries || monotonicNow() >= deadline) throw error;
      log('%s: %s, retry %d', operation, (error as Error).message, attempt + 1);
      await delay(
        Math.min(backoffDelay(policy, attempt), Math.max(0, deadline - monotonicNow())),
        options.signal,
      );
    }
  }
}
