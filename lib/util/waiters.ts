/** Promises that settle at the next wake() (or when their signal aborts): waiting without polling. */
export class Waiters {
  private waiting = new Set<() => void>();

  /** Resolves at the next wake(), or at once / on abort when the signal aborts. */
  next(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      // An already aborted signal fires no event any more.
      if (signal?.aborted) {
        resolve();
        return;
      }
      const wake = (): void => {
        signal?.removeEventListener('abort', wake);
        this.waiting.delete(wake);
        resolve();
      };
      this.waiting.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** Settles every pending next(). */
  wake(): void {
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const wake of waiting) wake();
  }
}
