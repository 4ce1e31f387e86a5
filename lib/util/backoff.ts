/** Exponential backoff with full jitter (AWS style): random in [base, min(max, base * 2^attempt)]. */
export interface BackoffPolicy {
  /** First delay in ms. */
  baseDelayMs: number;
  /** Cap of a single delay in ms. */
  maxDelayMs: number;
  /** Attempts after the first one. */
  maxRetries: number;
}

export const DEFAULT_RETRY_POLICY: BackoffPolicy = { baseDelayMs: 50, maxDelayMs: 1000, maxRetries: 10 };

export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return policy.baseDelayMs + Math.random() * Math.max(0, ceiling - policy.baseDelayMs);
}
