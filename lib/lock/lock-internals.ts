/**
 * The create / sort / watch loop, written once for every recipe (after Curator's LockInternals).
 * A LockDriver (lock-driver.ts) says how nodes are named, which children take part, who holds
 * and what a waiter watches: the mutex, both sides of the read-write lock, the semaphore's mutex
 * and the leader latch are drivers, not copies of this loop.
 */
import { AbortError, ConnectionLossError, RequestTimeoutError, SessionExpiredError } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { delay, throwIfAborted } from '../util/abort.js';
import { backoffDelay } from '../util/backoff.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { childPath, parentOf } from '../util/paths.js';
import { isZkCode, native, ZK_CODES, type NativeACL } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';
import {
  findByPrefix,
  MUTEX_DRIVER,
  newNodePrefix,
  sortContenders,
  type ContenderNode,
  type LockDriver,
} from './lock-driver.js';
import { ensureParent, PathReaper } from './path-reaper.js';
import { waitForChange } from './wait-for-change.js';

const log = logger('lock');

/** Our node at the head of the contenders. */
export interface HeldNode {
  session: ZkSession;
  nodePath: string;
  nodeName: string;
  /** czxid of the node: the fencing token. */
  czxid: bigint;
}

export interface AttemptOptions {
  /** Monotonic instant after which waiting stops (Infinity: wait forever). */
  deadline: number;
  signal?: AbortSignal | undefined;
}

function isConnectionProblem(error: unknown): boolean {
  return error instanceof ConnectionLossError || error instanceof RequestTimeoutError;
}

export class LockInternals {
  /** Delete the lock path when the last contender leaves (see path-reaper.ts). */
  removeEmptyPath = true;
  /** False while the lock path may be missing: the next create sends a create of the path first. */
  pathKnown = false;

  constructor(
    private readonly coordinator: CoordinatorCore,
    readonly lockPath: string,
    private readonly data: Buffer,
    private readonly acl: NativeACL[],
    readonly driver: LockDriver = MUTEX_DRIVER,
  ) {}

  private get requestTimeoutMs(): number {
    return this.coordinator.timing.requestTimeoutMs;
  }

  /**
   * Tries to take the lock until `deadline`. Resolves with the held node, or undefined on
   * timeout; rejects with AbortError on abort. Our node never outlives a failed attempt.
   */
  async attempt(options: AttemptOptions): Promise<HeldNode | undefined> {
    let own: HeldNode | undefined;
    try {
      for (;;) {
        throwIfAborted(options.signal, 'acquire()');
        let children: string[] | undefined;
        if (!own) {
          const created = await this.createNode(options);
          if (!created) return undefined;
          own = created.node;
          children = created.children;
        }
        const session = own.session;
        if (session.ended) {
          // The session (and with it our node) is gone: start over on a new one. The server
          // deletes the node when it expires the session; deleting it now is a courtesy.
          void this.deleteNode(own.nodePath);
          own = undefined;
          continue;
        }
        if (!children) {
          try {
            children = await session.getChildren(this.lockPath, { timeoutMs: this.requestTimeoutMs });
          } catch (error) {
            if (isConnectionProblem(error) || error instanceof SessionExpiredError) {
              if (monotonicNow() >= options.deadline) return await this.giveUp(own);
              await this.coordinator.nextStateChange(AbortSignal.timeout(100));
              continue;
            }
            throw error;
          }
        }
        const contenders = sortContenders(this.driver, children);
        const index = contenders.findIndex((c) => c.name === own?.nodeName);
        if (index === -1) {
          // Our node was deleted behind our back (or our session expired): create a new one.
          log('%s: our node %s vanished; contending again', this.lockPath, own.nodeName);
          own = undefined;
          continue;
        }
        const verdict = this.driver.verdict(contenders, index, children.length);
        if (verdict.holds) {
          // An abort that came while we created or listed wins: the catch below deletes our node.
          throwIfAborted(options.signal, 'acquire()');
          return own;
        }
        if (monotonicNow() >= options.deadline) return await this.giveUp(own);
        const outcome =
          'watchChildren' in verdict
            ? await waitForChange(this.coordinator, session, this.lockPath, options, children)
            : await waitForChange(
                this.coordinator,
                session,
                childPath(this.lockPath, verdict.watch.name),
                options,
              );
        switch (outcome) {
          case 'deleted':
            // Sequence numbers only grow, so nothing can appear ahead of us: when the driver says
            // the watched node was all that blocked us, we hold now, without listing again.
            if ('handoff' in verdict && verdict.handoff && !options.signal?.aborted) return own;
            break;
          case 'timeout':
            return await this.giveUp(own);
          case 'aborted':
            throw new AbortError('acquire() was aborted', options.signal?.reason);
          default:
            break;
        }
      }
    } catch (error) {
      if (own) await this.leave(own);
      throw error;
    }
  }

  private async giveUp(own: HeldNode): Promise<undefined> {
    await this.leave(own);
    return undefined;
  }

  /**
   * Leaves the lock: deletes our node and, with removeEmptyPath, the lock path if nobody else is
   * there (an exists sent right after the delete, on the same session, so answered after it).
   * Bounded like deleteNodeWithin: returns within a second even while disconnected.
   */
  async leave(own: HeldNode): Promise<void> {
    const session = own.session;
    const reaper = PathReaper.of(this.coordinator);
    const probing =
      this.removeEmptyPath && !session.ended && session.isConnected && reaper.left(this.lockPath);
    const deleting = this.deleteNode(own.nodePath, session);
    if (!probing) {
      await this.within(deleting);
      return;
    }
    const probe = session.exists(this.lockPath, { timeoutMs: this.requestTimeoutMs });
    probe.catch(() => undefined);
    const removing = deleting.then(() => reaper.removeIfEmpty(session, this.lockPath, probe));
    removing
      .then((removed) => {
        if (removed) this.pathKnown = false;
      })
      .catch(() => undefined);
    await this.within(removing);
  }

  /**
   * Deletes our node, waiting at most a second: a timed-out or aborted acquire, a stop() and a
   * release() return promptly even while disconnected; the delete goes on in the background
   * until it succeeds or the session ends (which deletes the node too).
   */
  async deleteNodeWithin(nodePath: string, session: ZkSession): Promise<void> {
    await this.within(this.deleteNode(nodePath, session));
  }

  /** Waits for `work` at most a second (it goes on in the background). */
  private async within(work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(this.requestTimeoutMs, 1000));
    });
    await Promise.race([work, bound]);
    clearTimeout(timer);
  }

  /**
   * Creates our EPHEMERAL_SEQUENTIAL node in protected mode and lists the children in the same
   * round trip. After a connection loss during the create, the server may have created the
   * node: look for our `_c_<uuid>-` prefix before creating again.
   */
  private async createNode(
    options: AttemptOptions,
  ): Promise<{ node: HeldNode; children: string[] | undefined } | undefined> {
    const prefix = newNodePrefix(this.driver);
    const state = { mayExist: false, created: undefined as HeldNode | undefined };
    try {
      return await this.createProtected(prefix, state, options);
    } catch (error) {
      // Whatever went wrong, our node must not outlive the attempt.
      if (state.created) await this.deleteNodeWithin(state.created.nodePath, state.created.session);
      else if (state.mayExist) await this.removeByPrefix(prefix);
      throw error;
    }
  }

  private async createProtected(
    prefix: string,
    state: { mayExist: boolean; created: HeldNode | undefined },
    options: AttemptOptions,
  ): Promise<{ node: HeldNode; children: string[] | undefined } | undefined> {
    const path = childPath(this.lockPath, prefix);
    for (let attempt = 0; ; attempt += 1) {
      throwIfAborted(options.signal, 'acquire()');
      let session: ZkSession;
      try {
        session = await this.coordinator.connectedSession('acquire()', {
          timeoutMs: Math.max(0, options.deadline - monotonicNow()),
          signal: options.signal,
        });
      } catch (error) {
        if (error instanceof ConnectionLossError) {
          // No session before the deadline: a timeout, not an error.
          if (state.mayExist) await this.removeByPrefix(prefix);
          state.mayExist = false;
          return undefined;
        }
        throw error;
      }
      // The wait for a session may have outlasted an abort: nothing may be created after it.
      throwIfAborted(options.signal, 'acquire()');
      if (state.mayExist) {
        const recovered = await this.recoverCreated(session, prefix).catch((error: unknown) => {
          if (isConnectionProblem(error)) return 'retry' as const;
          throw error;
        });
        if (recovered === 'retry') {
          await delay(backoffDelay(this.coordinator.retryPolicy, attempt), options.signal);
          continue;
        }
        if (recovered) {
          state.created = recovered;
          return { node: recovered, children: undefined };
        }
        state.mayExist = false;
      }
      const timeoutMs = this.requestTimeoutMs;
      // The path may have been removed when it was empty: create it in the same round trip
      // (NODE_EXISTS is fine; NO_NODE means an ancestor is missing too, see below).
      if (!this.pathKnown) {
        session
          .create(this.lockPath, Buffer.alloc(0), this.acl, native.CreateMode.PERSISTENT, { timeoutMs })
          .catch(() => undefined);
      }
      const fixed = this.driver.fixedSequence?.();
      const creating = fixed
        ? session.createSequential(
            path + fixed,
            this.data,
            this.acl,
            { timeoutMs },
            native.CreateMode.EPHEMERAL,
          )
        : session.createSequential(path, this.data, this.acl, { timeoutMs });
      // Same session, so the server answers in order: the listing includes our new node.
      const listing = session.getChildren(this.lockPath, { timeoutMs });
      listing.catch(() => undefined);
      let created: { path: string; czxid: bigint | undefined };
      try {
        created = await creating;
      } catch (error) {
        if (isZkCode(error, ZK_CODES.NO_NODE)) {
          if (this.pathKnown) {
            // Removed since we last used it (empty): the next try creates it first.
            this.pathKnown = false;
          } else if (this.lockPath !== '/' && parentOf(this.lockPath) !== '/') {
            // An ancestor is missing too: create the chain (shared by this coordinator's locks
            // below the same parent); the next try creates the lock path with its ACL.
            await ensureParent(this.coordinator, parentOf(this.lockPath), options.signal);
          } else {
            await this.coordinator.ensurePath(this.lockPath, this.acl, { signal: options.signal });
          }
          continue;
        }
        if (isConnectionProblem(error) || error instanceof SessionExpiredError) {
          log('%s: create answer lost (%s); looking for our node', this.lockPath, (error as Error).message);
          state.mayExist = true;
          continue;
        }
        throw error;
      }
      this.pathKnown = true;
      const nodeName = created.path.slice(created.path.lastIndexOf('/') + 1);
      state.created = { session, nodePath: created.path, nodeName, czxid: created.czxid ?? 0n };
      if (created.czxid === undefined) {
        const stat = await session.exists(created.path, { timeoutMs });
        state.created.czxid = stat ? stat.czxid.readBigInt64BE(0) : 0n;
      }
      const children = await listing.catch(() => undefined);
      return { node: state.created, children };
    }
  }

  /**
   * After a create whose answer was lost: our node if the server created it in the live
   * session; a node left in an older session is deleted (it would block everyone until that
   * session expires).
   */
  private async recoverCreated(session: ZkSession, prefix: string): Promise<HeldNode | undefined> {
    const timeoutMs = this.requestTimeoutMs;
    const name = findByPrefix(this.driver, await this.children(session, timeoutMs), prefix);
    if (!name) return undefined;
    const nodePath = childPath(this.lockPath, name);
    const stat = await session.exists(nodePath, { timeoutMs });
    if (!stat) return undefined;
    if (stat.ephemeralOwner.readBigInt64BE(0) === session.rawSessionId) {
      log('%s: found our node %s after a lost create', this.lockPath, name);
      return { session, nodePath, nodeName: name, czxid: stat.czxid.readBigInt64BE(0) };
    }
    await this.deleteNode(nodePath);
    return undefined;
  }

  private async removeByPrefix(prefix: string): Promise<void> {
    try {
      const session = await this.coordinator.connectedSession('cleanup', {});
      const name = findByPrefix(this.driver, await this.children(session, this.requestTimeoutMs), prefix);
      if (name) await this.deleteNode(childPath(this.lockPath, name));
    } catch (error) {
      log('%s: cleanup of prefix %s failed: %s', this.lockPath, prefix, (error as Error).message);
    }
  }

  /** Children of the lock path; none when the path does not exist yet. */
  async children(session: ZkSession, timeoutMs: number): Promise<string[]> {
    return session.getChildren(this.lockPath, { timeoutMs }).catch((error: unknown) => {
      if (isZkCode(error, ZK_CODES.NO_NODE)) return [];
      throw error;
    });
  }

  /** Contenders in lock order. */
  async contenders(session: ZkSession, timeoutMs = this.requestTimeoutMs): Promise<ContenderNode[]> {
    return sortContenders(this.driver, await this.children(session, timeoutMs));
  }

  /**
   * Deletes a node until it is gone (Curator's guaranteed delete): retries connection problems
   * while a session is available; NO_NODE counts as done. Prefers `session` (the owner) while it
   * lives, else the current session.
   */
  async deleteNode(nodePath: string, session?: ZkSession): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      let target = session && !session.ended ? session : undefined;
      try {
        target ??= await this.coordinator.connectedSession('delete', {});
        await target.remove(nodePath, -1, { timeoutMs: this.requestTimeoutMs });
        return;
      } catch (error) {
        if (isZkCode(error, ZK_CODES.NO_NODE)) return;
        if (this.coordinator.state === 'closed') return; // closing the session deletes it
        if (!isConnectionProblem(error) && !(error instanceof SessionExpiredError)) {
          log('%s: delete of %s failed: %s', this.lockPath, nodePath, (error as Error).message);
          return;
        }
        await delay(backoffDelay({ baseDelayMs: 50, maxDelayMs: 1000, maxRetries: 50 }, attempt));
      }
    }
  }
}
