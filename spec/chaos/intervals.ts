// Ownership intervals as a chaos worker logs them (moved out of worker.ts): each opens with an 'open'
// record and ends with a 'close' record at the first "not owned" sample, the release or the return.
// Synchronous writes (the worker's `write`), so a kill -9 loses nothing that happened before it.
// Timestamps from the run's shared clock (records.ts `now()`).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Control, SharedReentrantLock } from '../../lib/index.js';
import type { Rng } from './prng.js';
import { now, type IntervalKind, type WorkerRecord, type WorkerStats } from './records.js';

/** What an 'open' record carries beside kind, path and who. */
export interface IntervalExtra {
  term?: number;
  token?: string;
  /** A read taken while the same read-write lock held the write lock. */
  downgrade?: boolean;
}

/** The open intervals of one worker process and its record writer. */
export class IntervalLog {
  private counter = 0;
  readonly open = new Set<OwnershipInterval>();

  constructor(readonly write: (record: WorkerRecord) => void) {}

  start(kind: IntervalKind, path: string, who: string, extra: IntervalExtra = {}): OwnershipInterval {
    this.counter += 1;
    return new OwnershipInterval(this, this.counter, kind, path, who, extra);
  }

  /** Closes every interval still open (quiesce). */
  closeAll(reason: string): void {
    for (const interval of [...this.open]) interval.close(reason);
  }
}

export class OwnershipInterval {
  private isClosed = false;
  private lastTrue: number;
  private lastSample: number;
  private maxGap = 0;
  private samples = 0;
  private ownedSamples = 0;

  constructor(
    private readonly log: IntervalLog,
    readonly n: number,
    kind: IntervalKind,
    path: string,
    who: string,
    extra: IntervalExtra,
  ) {
    const at = now();
    this.lastTrue = at;
    this.lastSample = at;
    log.open.add(this);
    log.write({ t: 'open', n, kind, path, who, at, ...extra });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Records one ownership check; a "not owned" ends the interval. Returns true while still open. */
  sample(owned: boolean): boolean {
    if (this.isClosed) return false;
    const at = now();
    this.samples += 1;
    this.maxGap = Math.max(this.maxGap, at - this.lastSample);
    this.lastSample = at;
    if (owned) {
      this.lastTrue = at;
      this.ownedSamples += 1;
    } else this.close('not-owned', at);
    return !this.isClosed;
  }

  close(reason: string, at = now()): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.log.open.delete(this);
    this.log.write({
      t: 'close',
      n: this.n,
      at,
      lastTrue: Math.min(this.lastTrue, at),
      reason,
      maxGap: Math.max(this.maxGap, at - this.lastSample),
      samples: this.samples,
      ownedSamples: this.ownedSamples,
    });
  }
}

/**
 * Holds for about `ms`, sampling ownership every `sampleMs`; ends early when ownership is gone
 * (returns false: the interval is closed) or `stop` aborts. Samples once more at the end.
 */
export async function sampleFor(
  interval: OwnershipInterval,
  owned: () => boolean,
  ms: number,
  stop: AbortSignal,
  sampleMs: number,
): Promise<boolean> {
  const until = now() + ms;
  if (!interval.sample(owned())) return false;
  while (!stop.aborted) {
    const remaining = until - now();
    if (remaining <= 0) break;
    await sleep(Math.min(sampleMs, remaining));
    if (!interval.sample(owned())) return false;
  }
  return interval.sample(owned()); // right before release (or the next step)
}

/** The lock loops' hold: sampleFor, with a reentrant acquire(0) inside runExclusive's scope now and then. */
export async function hold(
  interval: OwnershipInterval,
  owned: () => boolean,
  ms: number,
  stop: AbortSignal,
  sampleMs: number,
  reenter?: {
    lock: SharedReentrantLock;
    rng: Rng;
    onReentered(): void;
    onRefused(): void;
  },
): Promise<void> {
  const until = now() + ms;
  let reentered = false;
  if (!interval.sample(owned())) return;
  while (!stop.aborted) {
    const remaining = until - now();
    if (remaining <= 0) break;
    await sleep(Math.min(sampleMs, remaining));
    if (!interval.sample(owned())) return;
    if (reenter && !reentered && reenter.rng.chance(0.3)) {
      // Reentrant acquire inside runExclusive's scope: no round trip, and ownership must be unchanged.
      // (Only there: a lock instance is one owner, a second acquire() after a plain acquire() waits.)
      reentered = true;
      if (await reenter.lock.acquire(0)) {
        reenter.onReentered();
        if (!interval.sample(owned())) {
          await reenter.lock.release();
          return;
        }
        await reenter.lock.release();
        if (!interval.sample(owned())) return;
      } else if (owned()) {
        reenter.onRefused(); // inside the scope, while owned: a lib defect
      }
    }
  }
  interval.sample(owned()); // right before release
}

/** A hold time: mostly a few ms, now and then a good part of S (or longer). */
export function holdTime(rng: Rng, sessionTimeoutMs: number): number {
  switch (rng.weighted({ tiny: 65, short: 27, medium: 6, long: 2 })) {
    case 'tiny':
      return rng.int(0, 3);
    case 'short':
      return rng.int(3, 100);
    case 'medium':
      return Math.round(rng.range(0.05, 0.3) * sessionTimeoutMs);
    case 'long':
      return Math.round(rng.range(0.3, 1.5) * sessionTimeoutMs);
  }
}

/** A leader selector's callback that logs each term as an interval of kind 'leader' and ends it as planned. */
export function leaderCallback(
  log: IntervalLog,
  o: { path: string; who: string; rng: Rng; sessionTimeoutMs: number; sampleMs: number; stats: WorkerStats },
) {
  const { path, who, rng, sessionTimeoutMs, stats } = o;
  return async (control: Control): Promise<void> => {
    stats.terms += 1;
    const interval = log.start('leader', path, who, {
      term: control.term,
      token: String(control.fencingToken),
    });
    const onAbort = (): void => interval.close(`signal:${String(control.signal.reason)}`);
    control.signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (control.signal.aborted) {
        interval.close(`entered-aborted:${String(control.signal.reason)}`);
        return;
      }
      const plan = rng.weighted({ short: 5, medium: 4, long: 0.6, yield: 0.4, throw: 0.3 });
      const ms =
        plan === 'short'
          ? rng.int(0, 20)
          : plan === 'long'
            ? rng.range(0.3, 1.5) * sessionTimeoutMs
            : rng.int(20, Math.round(0.1 * sessionTimeoutMs));
      const until = now() + ms;
      interval.sample(!control.shouldStop());
      while (!interval.closed && now() < until) {
        await sleep(Math.max(0, Math.min(o.sampleMs, until - now())));
        interval.sample(!control.shouldStop());
      }
      if (plan === 'yield' && !interval.closed) {
        stats.yields += 1;
        control.yield(); // the signal aborts and ends the interval
      }
      if (plan === 'throw') {
        stats.leaderThrows += 1;
        interval.close('throw');
        throw new Error('chaos: the leader callback throws');
      }
    } finally {
      interval.close('returned');
      control.signal.removeEventListener('abort', onAbort);
    }
  };
}
