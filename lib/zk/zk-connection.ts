/**
 * One ZooKeeper session's connection: one node-zookeeper-client instance, from connect until it
 * expires, is given up or closed (the client cannot outlive its session). It turns callbacks into
 * promises with timeouts and AbortSignals, and records the send time of every answered request:
 * the evidence the lease is computed from. The typed operations are in zk-session.ts.
 */
import { EventEmitter } from 'eventemitter3';
import {
  AbortError,
  AuthFailedError,
  ConnectionLossError,
  CoordinatorClosedError,
  InvalidArgumentError,
  RequestTimeoutError,
  SessionExpiredError,
  ZooKeeperError,
  type ZkLeaderSelectorError,
} from '../errors.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { native, sessionIdHex, ZK_CODES, type NativeClient, type NativeException } from './native.js';
import { frameReplies } from './reply-framing.js';
import { batchWrites } from './write-batching.js';
import { FifoQueue } from './fifo-queue.js';
import { useTlsTransport, type TlsOptions } from './tls.js';
import { WatchRegistry } from './watch-registry.js';

const log = logger('session');

/** Credentials sent on every connection (ZooKeeper's addAuthInfo). */
export interface AuthInfo {
  /** Auth scheme, e.g. `digest`. */
  scheme: string;
  /** Credentials, e.g. `user:password` for digest. */
  credentials: string;
}

export interface ZkSessionOptions {
  connectString: string;
  sessionTimeoutMs: number;
  auth: readonly AuthInfo[];
  /** Connect over TLS (undefined: plain TCP). */
  tls?: TlsOptions | undefined;
  /** Hears the latency of every request the client answered (for the metrics). */
  onAnswer?: ((operation: string, ms: number, ok: boolean) => void) | undefined;
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export type SessionEnd = 'expired' | 'gave-up' | 'closed' | 'auth-failed';

interface SessionEvents {
  /** The native client has a live connection for this session (first time or again). */
  connected: () => void;
  /** The native client lost its connection (the session may still be alive). */
  disconnected: () => void;
  /** The session is over for good. */
  ended: (reason: SessionEnd) => void;
  /** A TLS handshake failed (the client goes on to the next server). */
  tlsError: (error: Error) => void;
}

interface Pending {
  fail(error: ZkLeaderSelectorError): void;
}

export class ZkConnection extends EventEmitter<SessionEvents> {
  readonly client: NativeClient;
  /** Monotonic send time of the newest request that got an answer (-Infinity: none yet). */
  lastAnsweredSendTime = Number.NEGATIVE_INFINITY;
  /** True while the native client reports SYNC_CONNECTED. */
  isConnected = false;
  /** Set once the session ended; requests then fail at once. */
  ended: SessionEnd | undefined;
  /** Monotonic time of the last connect or disconnect, for the watchdog. */
  lastTransitionTime = monotonicNow();
  private everConnected = false;
  /** Monotonic time after which the current connect attempt's ConnectRequest was sent. */
  private connectAttemptStart = monotonicNow();
  private readonly pending = new Set<Pending>();
  private readonly requestedTimeoutMs: number;
  private readonly onAnswer: ZkSessionOptions['onAnswer'];
  /** Our listeners of this session's data watches, behind one native watcher function. */
  readonly watches = new WatchRegistry();

  constructor(options: ZkSessionOptions) {
    super();
    this.requestedTimeoutMs = options.sessionTimeoutMs;
    this.onAnswer = options.onAnswer;
    // retries: 0: the client's own retry can duplicate an EPHEMERAL_SEQUENTIAL create.
    this.client = native.createClient(options.connectString, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    // node-zookeeper-client's socket handling, made linear in the number of pipelined requests.
    frameReplies(this.client.connectionManager as unknown as Parameters<typeof frameReplies>[0]);
    batchWrites(this.client.connectionManager as unknown as Parameters<typeof batchWrites>[0]);
    (this.client.connectionManager as unknown as { pendingQueue: FifoQueue<unknown> }).pendingQueue =
      new FifoQueue();
    if (options.tls) useTlsTransport(this.client, options.tls, (error) => this.emit('tlsError', error));
    for (const { scheme, credentials } of options.auth) {
      this.client.addAuthInfo(scheme, Buffer.from(credentials));
    }
    this.client.on('state', (state) => this.onNativeState(state.name));
  }

  connect(): void {
    this.client.connect();
  }

  /** Session id as 16 hex digits (undefined before the first connect). */
  get sessionId(): string | undefined {
    return this.everConnected ? sessionIdHex(this.client.getSessionId()) : undefined;
  }

  /** Raw session id, as ZooKeeper stores it in a node's ephemeralOwner. */
  get rawSessionId(): bigint | undefined {
    return this.everConnected ? this.client.getSessionId().readBigInt64BE(0) : undefined;
  }

  /** The session timeout the server granted (the requested one before the first connect). */
  get timeoutMs(): number {
    return this.everConnected ? this.client.getSessionTimeout() : this.requestedTimeoutMs;
  }

  get wasConnected(): boolean {
    return this.everConnected;
  }

  private onNativeState(name: string): void {
    if (this.ended) return;
    log('native state %s (session %s)', name, this.sessionId ?? 'none');
    switch (name) {
      case 'SYNC_CONNECTED':
      case 'CONNECTED_READ_ONLY':
        this.isConnected = true;
        this.everConnected = true;
        // The server accepted (or resumed) the session: that answers a ConnectRequest sent
        // after this attempt began, so the session is alive until at least then + S.
        this.markAnswered(this.connectAttemptStart);
        this.lastTransitionTime = monotonicNow();
        this.emit('connected');
        break;
      case 'DISCONNECTED':
        this.connectAttemptStart = monotonicNow();
        if (this.isConnected) {
          this.isConnected = false;
          this.lastTransitionTime = monotonicNow();
          this.emit('disconnected');
        }
        break;
      case 'EXPIRED':
        void this.end('expired');
        break;
      case 'AUTH_FAILED':
        void this.end('auth-failed');
        break;
      default:
        break;
    }
  }

  /**
   * Drops the TCP connection so the client reconnects (to the next server of the connect
   * string). Used when the watchdog sees no answers: the client itself never notices.
   */
  dropConnection(): void {
    const socket = this.client.connectionManager.socket;
    if (socket && !socket.destroyed) {
      log('dropping the connection of session %s', this.sessionId ?? 'none');
      socket.destroy();
    }
    this.connectAttemptStart = monotonicNow();
    this.lastTransitionTime = monotonicNow();
  }

  /**
   * Ends the session for good. With `closeGracefully` a CLOSE_SESSION request is sent first
   * (the server then deletes our ephemeral nodes at once); either way no reconnect happens
   * afterwards and no socket or timer is left behind.
   */
  async end(reason: SessionEnd, closeGracefully = false, graceMs = 1000): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    this.isConnected = false;
    log('session %s ended: %s', this.sessionId ?? 'none', reason);
    const error =
      reason === 'closed'
        ? new CoordinatorClosedError('The request')
        : reason === 'auth-failed'
          ? new AuthFailedError()
          : new SessionExpiredError('The request');
    for (const request of [...this.pending]) request.fail(error);
    this.pending.clear();
    this.emit('ended', reason);
    const manager = this.client.connectionManager;
    if (
      closeGracefully &&
      manager.socket &&
      !manager.socket.destroyed &&
      this.client.getState().name === 'SYNC_CONNECTED'
    ) {
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        manager.socket?.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      // A reconnect must not follow the close.
      manager.connect = () => undefined;
      this.client.close();
      await closed;
    }
    this.forceShutdown();
  }

  /** Leaves nothing running: no reconnect loop, no socket, no connect timer. */
  private forceShutdown(): void {
    const manager = this.client.connectionManager;
    manager.connect = () => undefined;
    if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
    const socket = manager.socket;
    if (socket && !socket.destroyed) socket.destroy();
    this.client.removeAllListeners('state');
    this.removeAllListeners('connected');
    this.removeAllListeners('disconnected');
  }

  /** Marks the session as alive up to `sendTime + S` (by the server's clock). */
  private markAnswered(sendTime: number): void {
    if (sendTime > this.lastAnsweredSendTime) this.lastAnsweredSendTime = sendTime;
  }

  /**
   * Sends one request. `call` invokes the native method with the callback it is given;
   * `answer` turns the callback's arguments into the result.
   */
  request<T>(
    operation: string,
    path: string | undefined,
    options: RequestOptions,
    call: (
      client: NativeClient,
      callback: (error: NativeException | null, ...results: unknown[]) => void,
    ) => void,
    answer: (...results: unknown[]) => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.ended) {
        reject(
          this.ended === 'closed'
            ? new CoordinatorClosedError(operation)
            : new SessionExpiredError(operation),
        );
        return;
      }
      if (options.signal?.aborted) {
        reject(new AbortError(`${operation} was aborted`, options.signal.reason));
        return;
      }
      let settled = false;
      const sendTime = monotonicNow();
      const entry: Pending = {
        fail: (error) => finish(error),
      };
      const onAbort = (): void => finish(new AbortError(`${operation} was aborted`, options.signal?.reason));
      const timer = setTimeout(
        () => finish(new RequestTimeoutError(operation, options.timeoutMs)),
        options.timeoutMs,
      );
      const finish = (error: ZkLeaderSelectorError | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(entry);
        if (error) reject(error);
        else resolve(value as T);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.add(entry);
      try {
        call(this.client, (error, ...results) => {
          this.onAnswer?.(operation, monotonicNow() - sendTime, error === null || error === undefined);
          if (error === null || error === undefined) {
            this.markAnswered(sendTime);
            let value: T;
            try {
              value = answer(...results);
            } catch (cause) {
              finish(new InvalidArgumentError(`${operation}: unexpected answer (${String(cause)})`));
              return;
            }
            finish(undefined, value);
            return;
          }
          const code = error.code;
          const answeredByServer =
            code !== ZK_CODES.CONNECTION_LOSS &&
            code !== ZK_CODES.SESSION_EXPIRED &&
            code !== ZK_CODES.AUTH_FAILED;
          if (answeredByServer) this.markAnswered(sendTime);
          finish(this.translate(error, operation, path));
        });
      } catch (cause) {
        // node-zookeeper-client asserts synchronously on bad paths and oversized data.
        finish(
          new InvalidArgumentError(`${operation}: ${cause instanceof Error ? cause.message : String(cause)}`),
        );
      }
    });
  }

  private translate(
    error: NativeException,
    operation: string,
    path: string | undefined,
  ): ZkLeaderSelectorError {
    switch (error.code) {
      case ZK_CODES.CONNECTION_LOSS:
        // A dead client answers everything with CONNECTION_LOSS.
        if (this.ended === 'closed') return new CoordinatorClosedError(operation);
        if (this.ended) return new SessionExpiredError(operation);
        return new ConnectionLossError(operation);
      case ZK_CODES.SESSION_EXPIRED:
        return new SessionExpiredError(operation);
      case ZK_CODES.AUTH_FAILED:
        return new AuthFailedError();
      default:
        return new ZooKeeperError(error.code, error.name, path, operation);
    }
  }
}
