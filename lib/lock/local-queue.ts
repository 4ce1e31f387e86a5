/**
 * The local half of per-instance ownership (as in kazoo and etcd3): one lock instance is one
 * owner, so concurrent acquire() calls on it take turns here, first come first served, before
 * any of them goes to ZooKeeper. A FIFO mutex whose waits end at a deadline or on abort.
 */
import { AbortError } from '../errors.js';
import { monotonicNow } from '../util/clock.js';

interface Waiter {
  grant: () => void;
}

export class LocalQueue {
  private held = false;
  private readonly waiters: Waiter[] = [];

  /** True while someone holds the turn. */
  get busy(): boolean {
    return this.held;
  }

  /**
   * Takes the turn: resolves true when granted, false at `deadline` (monotonic ms), rejects with
   * AbortError when the signal aborts. A granted turn must be given back with leave().
   */
  enter(deadline: number, signal: AbortSignal | undefined, what: string): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(new AbortError(`${what} was aborted`, signal.reason));
    if (!this.held) {
      this.held = true;
      return Promise.resolve(true);
    }
    if (monotonicNow() >= deadline) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        grant: () => {
          settle();
          resolve(true);
        },
      };
      const onAbort = (): void => {
        settle();
        reject(new AbortError(`${what} was aborted`, signal?.reason));
      };
      this.waiters.push(waiter);
      if (Number.isFinite(deadline)) {
        timer = setTimeout(
          () => {
            settle();
            resolve(false);
          },
          Math.max(0, Math.min(deadline - monotonicNow(), 2 ** 31 - 1)),
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Gives the turn back: to the longest waiter, or free. */
  leave(): void {
    const next = this.waiters[0];
    if (next) next.grant();
    else this.held = false;
  }
}
