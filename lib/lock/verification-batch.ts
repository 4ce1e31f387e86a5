/**
 * Batched verification per coordinator (DESIGN.md, "Many claims per process"): one timer for all
 * held locks of a coordinator, and one `multi` of `check` operations per chunk of held nodes, so
 * the background load does not grow with the number of locks.
 *
 * A check proves existence (version -1; node-zookeeper-client's Transaction turns version 0 into
 * "any version" anyway, its issue #67). That is enough: our node was first when acquired, sequence
 * numbers only grow, so while it exists nothing can get ahead of it. Rewrites and deletions are
 * seen at once by the data watch the first verification of each hold sets on our node.
 *
 * A failed multi answers which op failed (the ops after it are not evaluated): that hold is lost,
 * the rest is checked again.
 */
import type { OwnershipStatus } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { ZK_CODES } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';
import { statusOf, type Acquisition, type LockLossReason } from './acquisition.js';

const log = logger('lock');

/** Bytes of ops per multi: far below the server's 1 MiB packet limit (jute.maxbuffer). */
export const MULTI_BUDGET_BYTES = 256 * 1024;
/** Per op: MultiHeader (type, done, err) + path length + version. */
const OP_OVERHEAD_BYTES = 4 + 1 + 4 + 4 + 4;
/** RUNTIME_INCONSISTENCY: an op after the failing one, not evaluated. */
const NOT_EVALUATED = -2;

type Result = OwnershipStatus | 'OK';

/** What the batch needs of a hold's verifier (ownership-verifier.ts). */
export interface BatchedVerifier {
  readonly intervalMs: number;
  markLost(acquisition: Acquisition, reason: LockLossReason): void;
  /** A full verification (node data; with the listing unless `listContenders` is false). */
  verify(acquisition: Acquisition, maxWaitMs?: number, listContenders?: boolean): Promise<Result>;
}

const batches = new WeakMap<CoordinatorCore, VerificationBatch>();

export class VerificationBatch {
  private readonly entries = new Map<Acquisition, BatchedVerifier>();
  /** Holds asked to be checked in the next flush, with who waits for the answer. */
  private readonly urgent = new Map<Acquisition, Array<(result: Result) => void>>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  /** Sessions whose 'ended' we listen to (one listener per session, not per lock). */
  private readonly sessions = new Set<ZkSession>();
  private closed: boolean;
  /** The next flush checks every hold, due or not. */
  private checkAll = false;

  private constructor(private readonly coordinator: CoordinatorCore) {
    this.closed = coordinator.state === 'closed';
    // Back from a suspension: check every hold at once ('strict' owners wait for that check).
    coordinator.on('reconnected', () => {
      this.checkAll = true;
      if (this.entries.size > 0) this.schedule(monotonicNow());
    });
    coordinator.once('closed', () => {
      this.closed = true;
      this.stopTimer();
    });
  }

  /** The batch of a coordinator (created on first use). */
  static of(coordinator: CoordinatorCore): VerificationBatch {
    let batch = batches.get(coordinator);
    if (!batch) {
      batch = new VerificationBatch(coordinator);
      batches.set(coordinator, batch);
    }
    return batch;
  }

  /** Number of held locks being verified. */
  get size(): number {
    return this.entries.size;
  }

  add(acquisition: Acquisition, verifier: BatchedVerifier): void {
    this.entries.set(acquisition, verifier);
    const session = acquisition.node.session;
    if (!this.sessions.has(session)) {
      this.sessions.add(session);
      session.once('ended', () => this.onSessionEnded(session));
    }
    this.schedule(monotonicNow() + verifier.intervalMs);
  }

  delete(acquisition: Acquisition): void {
    this.entries.delete(acquisition);
    if (this.entries.size === 0 && this.urgent.size === 0) this.stopTimer();
  }

  /** Checks one hold in the next flush (coalesced with other such calls). Never rejects. */
  checkNow(acquisition: Acquisition): Promise<Result> {
    return new Promise<Result>((resolve) => {
      const waiting = this.urgent.get(acquisition);
      if (waiting) waiting.push(resolve);
      else this.urgent.set(acquisition, [resolve]);
      this.schedule(monotonicNow());
    });
  }

  private onSessionEnded(session: ZkSession): void {
    this.sessions.delete(session);
    for (const [acquisition, verifier] of this.entries) {
      if (acquisition.node.session === session) verifier.markLost(acquisition, 'sessionExpired');
    }
  }

  private schedule(at: number): void {
    if (this.closed || at >= this.timerDue) return;
    this.stopTimer();
    this.timerDue = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - monotonicNow()));
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  private tick(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    if (this.flushing) {
      // One flush at a time: the next one follows this one.
      void this.flushing.then(() => this.schedule(monotonicNow()));
      return;
    }
    this.flushing = this.flush()
      .catch((error: unknown) => log('verification batch failed: %O', error))
      .finally(() => {
        this.flushing = undefined;
        this.scheduleNext();
      });
  }

  /** The next tick: when the first hold would be due (at least 10 ms from now). */
  private scheduleNext(): void {
    if (this.urgent.size > 0) {
      this.schedule(monotonicNow());
      return;
    }
    let next = Number.POSITIVE_INFINITY;
    for (const [acquisition, verifier] of this.entries) {
      next = Math.min(next, acquisition.checkedAt + verifier.intervalMs);
    }
    if (Number.isFinite(next)) this.schedule(Math.max(next, monotonicNow() + 10));
  }

  private async flush(): Promise<void> {
    const urgent = new Map(this.urgent);
    this.urgent.clear();
    const all = this.checkAll;
    this.checkAll = false;
    const session = this.coordinator.session;
    const now = monotonicNow();
    // Checked now: every hold that would be overdue before the next tick, so no hold waits
    // longer than its verifyIntervalMs; holds of the same interval share one tick.
    let period = Number.POSITIVE_INFINITY;
    for (const verifier of this.entries.values()) period = Math.min(period, verifier.intervalMs);
    const slack = Number.isFinite(period) ? period / 2 : 0;
    const checks: Acquisition[] = [];
    const reads: Array<[Acquisition, BatchedVerifier]> = [];
    for (const [acquisition, verifier] of this.entries) {
      if (acquisition.status !== 'held') {
        this.entries.delete(acquisition);
        continue;
      }
      if (acquisition.node.session.ended) {
        verifier.markLost(acquisition, 'sessionExpired');
        continue;
      }
      if (!all && !urgent.has(acquisition) && now + slack < acquisition.checkedAt + verifier.intervalMs)
        continue;
      // The first verification of a hold (or one after a suspicious event) reads our node with
      // a data watch; later ones are existence checks in the multi.
      if (acquisition.watching && acquisition.verifiedOk && !acquisition.verifying) checks.push(acquisition);
      else reads.push([acquisition, verifier]);
    }
    if (session && !session.ended && session.isConnected) {
      const timeoutMs = this.coordinator.timing.requestTimeoutMs;
      await Promise.all([
        ...reads.map(([acquisition, verifier]) => verifier.verify(acquisition, undefined, false)),
        ...chunk(checks).map((part) => this.check(session, part, timeoutMs)),
      ]);
    }
    for (const [acquisition, resolvers] of urgent) {
      const result: Result =
        acquisition.status !== 'held'
          ? statusOf(acquisition)
          : acquisition.checkedAt >= now && acquisition.verifiedOk
            ? 'OK'
            : 'CONNECTION_LOST';
      for (const resolve of resolvers) resolve(result);
    }
  }

  /** One multi for `holds`; again for the ops a failed op left unevaluated. */
  private async check(session: ZkSession, holds: Acquisition[], timeoutMs: number): Promise<void> {
    let pending = holds.filter((a) => a.status === 'held' && a.node.session === session);
    while (pending.length > 0) {
      const sendTime = monotonicNow();
      let codes: number[];
      try {
        codes = await session.checkExist(
          pending.map((a) => a.node.nodePath),
          { timeoutMs },
        );
      } catch (error) {
        // Connection problems: the lease and the watchdog cover them; checked again next tick.
        log('verification multi of %d failed: %s', pending.length, (error as Error).message);
        return;
      }
      const again: Acquisition[] = [];
      pending.forEach((acquisition, index) => {
        const code = codes[index] ?? NOT_EVALUATED;
        if (code === 0) {
          if (sendTime > acquisition.checkedAt) acquisition.checkedAt = sendTime;
        } else if (code === NOT_EVALUATED) again.push(acquisition);
        else if (code === ZK_CODES.NO_NODE) {
          this.entries.get(acquisition)?.markLost(acquisition, 'nodeDeleted');
        } else {
          // Another answer (e.g. NO_AUTH): the full verification decides.
          log('check of %s answered %d', acquisition.node.nodePath, code);
          void this.entries.get(acquisition)?.verify(acquisition);
        }
      });
      pending = again;
    }
  }
}

/** Splits holds into multis of at most MULTI_BUDGET_BYTES of ops. */
function chunk(holds: Acquisition[]): Acquisition[][] {
  const chunks: Acquisition[][] = [];
  let current: Acquisition[] = [];
  let bytes = 0;
  for (const acquisition of holds) {
    const size = Buffer.byteLength(acquisition.node.nodePath) + OP_OVERHEAD_BYTES;
    if (current.length > 0 && bytes + size > MULTI_BUDGET_BYTES) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(acquisition);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
