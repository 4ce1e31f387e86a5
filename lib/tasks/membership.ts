/**
 * Group membership: this member's ephemeral node `<path>/_members/<id>`, whose data is its
 * published state (`{"owned":[...],"wants":[...]}`), and a view of the other members kept by one
 * children watch on `_members` and one data watch per member node. Event-driven: nothing is sent
 * while nothing changes. A new session registers again and lists again.
 */
import { EventEmitter } from 'eventemitter3';
import { ConnectionLossError, InvalidOptionError, RequestTimeoutError } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { delay } from '../util/abort.js';
import { backoffDelay } from '../util/backoff.js';
import { logger } from '../util/log.js';
import { childPath } from '../util/paths.js';
import { isZkCode, native, ZK_CODES, type NativeACL, type NativeEvent } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';
import type { MemberState } from './balancer.js';

const log = logger('tasks');

const EMPTY: MemberState = { owned: [], wants: [] };

/** Leaving retries a lost delete of the member node like a lock node's (about 45 s at most). */
const LEAVE_RETRY = { baseDelayMs: 50, maxDelayMs: 1000, maxRetries: 50 };
/** A failed read (listing, a member's state) is tried again after this backoff, while we run. */
const REREAD_RETRY = { baseDelayMs: 50, maxDelayMs: 1000, maxRetries: 8 };

export interface MembershipEvents {
  /** The view changed (a member joined, left, or published a new state), or we registered. */
  changed: () => void;
  /** A problem worth telling the user (a duplicate member id); membership keeps trying. */
  error: (error: unknown) => void;
}

function parseState(data: Buffer): MemberState {
  try {
    const value = JSON.parse(data.toString('utf8')) as { owned?: unknown; wants?: unknown };
    const strings = (list: unknown): string[] =>
      Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
    return { owned: strings(value.owned), wants: strings(value.wants) };
  } catch {
    return EMPTY;
  }
}

export class Membership extends EventEmitter<MembershipEvents> {
  readonly membersPath: string;
  readonly nodePath: string;
  /** Other members' published states (ours is not in it). */
  readonly others = new Map<string, MemberState>();
  /** Our node exists in the current session and the members were listed at least once in it. */
  ready = false;
  private session: ZkSession | undefined;
  private registered = false;
  /** A create of our node was sent in this session and may have been applied. */
  private createSent = false;
  private stopped = false;
  private published: MemberState = EMPTY;
  private written: string | undefined;
  private writing = false;
  private readonly abort = new AbortController();
  private readonly onConnected = (): void => this.sessionChanged();
  private readonly onReconnected = (): void => {
    this.relist = true;
    this.reread();
  };
  /**
   * Members whose last read failed, and whether the last listing failed: a watch is set only by a
   * read that was answered, so until read again we would hear of no change there (a stale view:
   * tasks that look owned or wants no one sees). Read again with backoff, and on reconnection.
   */
  private readonly unread = new Set<string>();
  private relist = false;
  private rereadTimer: NodeJS.Timeout | undefined;
  private rereadAttempt = 0;
  /** One watcher function per kind: node-zookeeper-client registers a function once per path. */
  private readonly childWatcher = (event: NativeEvent): void => {
    if (event.name !== 'NODE_CHILDREN_CHANGED' && event.name !== 'NODE_DELETED') return;
    void this.list();
  };
  private readonly dataWatcher = (event: NativeEvent): void => {
    const id = event.path.slice(this.membersPath.length + 1);
    if (event.name === 'NODE_DELETED') {
      if (this.others.delete(id)) this.emit('changed');
    } else if (event.name === 'NODE_DATA_CHANGED') void this.fetch(id);
  };

  constructor(
    private readonly coordinator: CoordinatorCore,
    groupPath: string,
    readonly id: string,
    private readonly acl: NativeACL[],
  ) {
    super();
    this.membersPath = childPath(groupPath, '_members');
    this.nodePath = childPath(this.membersPath, id);
  }

  start(): void {
    this.coordinator.on('connected', this.onConnected);
    this.coordinator.on('reconnected', this.onReconnected);
    if (this.coordinator.state === 'connected') this.sessionChanged();
  }

  /** Publishes our state (written at once, or after the write in flight). */
  publish(state: MemberState): void {
    this.published = state;
    void this.write();
  }

  /**
   * Deletes our node and stops watching. Idempotent. The delete is retried through connection
   * loss while the session lives (Curator's guaranteed delete): a member node left behind would
   * keep counting as a member whose last published tasks look owned, and nobody would take them.
   * Also sent when a create was sent but not answered: the server applies that create first.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ready = false;
    this.abort.abort();
    clearTimeout(this.rereadTimer);
    this.rereadTimer = undefined;
    this.coordinator.off('connected', this.onConnected);
    this.coordinator.off('reconnected', this.onReconnected);
    const session = this.session;
    const ours = this.registered || this.createSent;
    this.registered = false;
    if (session && ours) await this.leave(session);
  }

  private async leave(session: ZkSession): Promise<void> {
    for (let attempt = 0; attempt <= LEAVE_RETRY.maxRetries && !session.ended; attempt += 1) {
      try {
        await session.remove(this.nodePath, -1, { timeoutMs: this.coordinator.timing.requestTimeoutMs });
        return;
      } catch (error) {
        if (isZkCode(error, ZK_CODES.NO_NODE)) return;
        log('%s: removing the member node failed: %s', this.nodePath, (error as Error).message);
        // The session's end (or the coordinator's close) deletes it; other errors will not pass.
        const lost = error instanceof ConnectionLossError || error instanceof RequestTimeoutError;
        if (!lost || session.ended || this.coordinator.state === 'closed') return;
        await delay(backoffDelay(LEAVE_RETRY, attempt));
      }
    }
  }

  private sessionChanged(): void {
    const session = this.coordinator.session;
    if (this.stopped || !session || session === this.session) return;
    this.session = session;
    this.registered = false;
    this.createSent = false;
    this.ready = false;
    this.written = undefined;
    this.others.clear();
    this.unread.clear();
    this.relist = false;
    void this.register(session);
  }

  private current(session: ZkSession): boolean {
    return !this.stopped && this.session === session && !session.ended;
  }

  private async register(session: ZkSession): Promise<void> {
    for (let attempt = 0; this.current(session); attempt += 1) {
      try {
        await this.coordinator.ensurePath(this.membersPath, native.ACL.OPEN_ACL_UNSAFE, {
          signal: this.abort.signal,
        });
        if (!this.current(session)) return; // stopped meanwhile: no node after the leave
        this.createSent = true;
        await session.create(
          this.nodePath,
          Buffer.from(JSON.stringify(this.published)),
          this.acl,
          native.CreateMode.EPHEMERAL,
          { timeoutMs: this.coordinator.timing.requestTimeoutMs },
        );
        this.written = JSON.stringify(this.published);
        break;
      } catch (error) {
        if (!this.current(session)) return;
        if (isZkCode(error, ZK_CODES.NODE_EXISTS)) {
          if (await this.ownNode(session)) break;
          this.createSent = false; // the node is another session's: leaving must not delete it
          // Another session holds our id: a restart before the old session expired, or a duplicate id.
          this.emit(
            'error',
            new InvalidOptionError(
              'id',
              `member node ${this.nodePath} belongs to another session; waiting for it to go`,
            ),
          );
          await this.untilDeleted(session);
          continue;
        }
        log('%s: registering failed: %s', this.nodePath, (error as Error).message);
        await delay(backoffDelay(this.coordinator.retryPolicy, Math.min(attempt, 8)), this.abort.signal);
      }
    }
    if (!this.current(session)) return;
    this.registered = true;
    log('%s: registered', this.nodePath);
    await this.list();
    void this.write();
  }

  /** True if the existing node at our path is our session's (a create answered after a connection loss). */
  private async ownNode(session: ZkSession): Promise<boolean> {
    try {
      const { stat } = await session.getData(this.nodePath, {
        timeoutMs: this.coordinator.timing.requestTimeoutMs,
      });
      return stat.ephemeralOwner.readBigInt64BE(0) === session.rawSessionId;
    } catch {
      return false;
    }
  }

  private untilDeleted(session: ZkSession): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      this.abort.signal.addEventListener('abort', done, { once: true });
      session
        .exists(this.nodePath, { timeoutMs: this.coordinator.timing.requestTimeoutMs }, () => done())
        .then((stat) => (stat ? undefined : done()), done);
    });
  }

  /** Lists the members (re-arming the children watch) and fetches the ones not known yet. */
  private async list(): Promise<void> {
    const session = this.session;
    if (!session || !this.registered || !this.current(session)) return;
    let children: string[];
    try {
      children = await session.getChildren(
        this.membersPath,
        { timeoutMs: this.coordinator.timing.requestTimeoutMs },
        this.childWatcher,
      );
    } catch (error) {
      log('%s: listing failed: %s', this.membersPath, (error as Error).message);
      this.relist = true;
      this.rereadLater();
      return;
    }
    if (!this.current(session)) return;
    this.rereadAttempt = 0;
    const present = new Set(children.filter((c) => c !== this.id));
    let changed = !this.ready;
    for (const id of [...this.others.keys()]) {
      if (!present.has(id)) changed = this.others.delete(id) || changed;
    }
    for (const id of this.unread) if (!present.has(id)) this.unread.delete(id);
    const fetches = [...present].filter((id) => !this.others.has(id)).map((id) => this.fetch(id, false));
    await Promise.all(fetches);
    if (!this.current(session)) return;
    if (!children.includes(this.id)) {
      // Our node is gone while the session lives (deleted by someone): register it again.
      log('%s: our member node vanished; registering again', this.nodePath);
      this.registered = false;
      void this.register(session);
      return;
    }
    this.ready = true;
    if (changed || fetches.length > 0) this.emit('changed');
  }

  /** Reads one member's state (re-arming its data watch). */
  private async fetch(id: string, announce = true): Promise<void> {
    const session = this.session;
    if (!session || !this.current(session)) return;
    try {
      const { data } = await session.getData(
        childPath(this.membersPath, id),
        { timeoutMs: this.coordinator.timing.requestTimeoutMs },
        this.dataWatcher,
      );
      if (!this.current(session)) return;
      this.others.set(id, parseState(data));
      this.unread.delete(id);
      this.rereadAttempt = 0;
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NO_NODE)) {
        this.others.delete(id);
        this.unread.delete(id);
      } else {
        log('%s: reading member %s failed: %s', this.membersPath, id, (error as Error).message);
        this.unread.add(id);
        this.rereadLater();
      }
    }
    if (announce && this.ready) this.emit('changed');
  }

  private rereadLater(): void {
    if (this.rereadTimer || this.stopped) return;
    const inMs = backoffDelay(REREAD_RETRY, Math.min(this.rereadAttempt, REREAD_RETRY.maxRetries));
    this.rereadAttempt += 1;
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = undefined;
      this.reread();
    }, inMs);
  }

  /** Lists again if the last listing failed, and reads again every member whose read failed. */
  private reread(): void {
    if (this.stopped) return;
    if (this.relist) {
      this.relist = false;
      void this.list();
    }
    for (const id of [...this.unread]) void this.fetch(id);
  }

  private async write(): Promise<void> {
    const session = this.session;
    if (this.writing || !session || !this.registered || !this.current(session)) return;
    const text = JSON.stringify(this.published);
    if (text === this.written) return;
    this.writing = true;
    try {
      await session.setData(this.nodePath, Buffer.from(text), -1, {
        timeoutMs: this.coordinator.timing.requestTimeoutMs,
      });
      if (this.session === session) this.written = text;
    } catch (error) {
      log('%s: publishing failed: %s', this.nodePath, (error as Error).message);
      if (isZkCode(error, ZK_CODES.NO_NODE) && this.registered) {
        // Our node was deleted behind our back: register again (with the latest state).
        this.registered = false;
        this.writing = false;
        void this.register(session);
        return;
      }
      if (this.current(session)) await delay(100, this.abort.signal);
    } finally {
      this.writing = false;
    }
    if (this.current(session)) void this.write();
  }
}
