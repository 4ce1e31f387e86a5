// Condition-based waiting for tests: poll a predicate until it holds, with a deadline.
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitForOptions {
  /** Overall deadline in ms (default 10 000). */
  timeoutMs?: number;
  /** Pause between attempts in ms (default 50). */
  intervalMs?: number;
  /** Included in the timeout error; a function is called only on failure. */
  message?: string | (() => string);
}

/**
 * Calls `predicate` until it returns a truthy value (or a promise of one) and resolves with that value.
 * A predicate that throws counts as "not yet"; the last error is reported if the deadline passes.
 * Each attempt is bounded by the remaining time, so a hanging async predicate cannot stall the wait.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      const outcome = await settleWithin(Promise.resolve().then(predicate), Math.max(remaining, 1));
      if (outcome.settled) {
        if (outcome.value) return outcome.value as NonNullable<T>;
        lastValue = outcome.value;
        lastError = undefined;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
  const message = typeof options.message === 'function' ? options.message() : options.message;
  const detail =
    lastError !== undefined
      ? `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `; last value: ${String(lastValue)}`;
  throw new Error(`waitFor timed out after ${timeoutMs} ms: ${message ?? 'condition not met'}${detail}`, {
    cause: lastError,
  });
}

export type Settlement<T> = { settled: true; value: T } | { settled: false };

/**
 * Races `promise` against a timer. Resolves `{ settled: true, value }` if it fulfils within `ms`,
 * `{ settled: false }` otherwise (the promise keeps running); rejects if it rejects within `ms`.
 * Meant for proving a negative ("no answer within 1 s"), where a bounded wait is the only option.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settlement<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settlement<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value): Settlement<T> => ({ settled: true, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
