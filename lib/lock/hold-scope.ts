/**
 * Reentrancy scopes. Inside `runExclusive(fn)` and a leader callback, the hold that scope runs
 * under is known (AsyncLocalStorage.run, never enterWith, so nothing leaks into the caller's
 * context): acquire() there nests instead of queueing behind itself, and release(),
 * considerAsOwned() and friends refer to that hold even after another caller took the lock.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Acquisition } from './acquisition.js';

const storage = new AsyncLocalStorage<readonly Acquisition[]>();

/** The innermost hold of `owner` (a lock instance) that the current scope runs under. */
export function scopedHold(owner: object): Acquisition | undefined {
  const holds = storage.getStore();
  if (!holds) return undefined;
  for (let i = holds.length - 1; i >= 0; i -= 1) {
    const hold = holds[i] as Acquisition;
    if (hold.owner === owner) return hold;
  }
  return undefined;
}

/** Runs `fn` in a scope that holds `acquisition` (plus the holds of the enclosing scope). */
export function runInHold<T>(acquisition: Acquisition, fn: () => T): T {
  const outer = storage.getStore() ?? [];
  return storage.run(outer.includes(acquisition) ? outer : [...outer, acquisition], fn);
}

/** Runs `fn` outside every hold scope (a selector's loop must not nest into its starter's hold). */
export function runOutsideHolds<T>(fn: () => T): T {
  return storage.exit(fn);
}
