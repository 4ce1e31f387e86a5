/**
 * Typed errors. Every error thrown by the SDK is a {@link ZkLeaderSelectorError} with a stable
 * `code` that callers can switch on; messages say what to do about it.
 */

/** Stable codes of {@link ZkLeaderSelectorError}. */
export type ErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_PATH'
  | 'INVALID_ARGUMENT'
  | 'CONNECT_TIMEOUT'
  | 'TLS_ERROR'
  | 'NOT_STARTED'
  | 'COORDINATOR_CLOSED'
  | 'CONNECTION_LOSS'
  | 'SESSION_EXPIRED'
  | 'REQUEST_TIMEOUT'
  | 'AUTH_FAILED'
  | 'ZOOKEEPER_ERROR'
  | 'ABORTED'
  | 'LOCK_NOT_HELD'
  | 'LOCK_TIMEOUT'
  | 'OWNERSHIP_LOST'
  | 'SELECTOR_RUNNING'
  | 'STOP_TIMEOUT'
  | 'ZOOKEEPER_DISABLED'
  | 'LOCK_UPGRADE'
  | 'RECIPE_CLOSED';

/** Base class of every error raised by zk-leader-selector. */
export class ZkLeaderSelectorError extends Error {
  /** Stable error code to switch on (the class name may change, the code does not). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option passed to a constructor or method is missing, of the wrong type or out of range. */
export class InvalidOptionError extends ZkLeaderSelectorError {
  constructor(
    /** Name of the offending option (or environment variable). */
    readonly option: string,
    message: string,
  ) {
    super('INVALID_OPTION', `Invalid option "${option}": ${message}`);
  }
}

/** A ZooKeeper path is malformed (relative, empty, trailing slash, `//`, `.` segments...). */
export class InvalidPathError extends ZkLeaderSelectorError {
  constructor(
    /** The rejected path. */
    readonly path: string,
    reason: string,
  ) {
    super('INVALID_PATH', `Invalid ZooKeeper path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** An argument to a method is invalid (negative wait, data too large...). */
export class InvalidArgumentError extends ZkLeaderSelectorError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** start() did not establish a session within `connectTimeoutMs`. */
export class ConnectTimeoutError extends ZkLeaderSelectorError {
  constructor(connectString: string, timeoutMs: number) {
    super(
      'CONNECT_TIMEOUT',
      `Could not establish a ZooKeeper session with ${connectString} within ${timeoutMs} ms: ` +
        'check that the servers are running and reachable, or raise connectTimeoutMs',
    );
  }
}

/** The TLS handshake with a ZooKeeper server failed (unknown CA, hostname mismatch, certificate refused...). */
export class TlsError extends ZkLeaderSelectorError {
  constructor(server: string, cause: Error) {
    super(
      'TLS_ERROR',
      `TLS handshake with ZooKeeper at ${server} failed: ${cause.message}` +
        ((cause as NodeJS.ErrnoException).code ? ` (${(cause as NodeJS.ErrnoException).code})` : '') +
        ': check tls.ca (the CA that signed the server certificate), tls.servername (a name in it), ' +
        'the client certificate (tls.cert / tls.key, signed by a CA the server trusts), and that the port is the secureClientPort',
      { cause },
    );
  }
}

/** The coordinator was used before start() or after close(). */
export class NotStartedError extends ZkLeaderSelectorError {
  constructor(what: string) {
    super('NOT_STARTED', `${what} needs a started Coordinator: call and await coordinator.start() first`);
  }
}

/** The coordinator was closed; create a new one to continue. */
export class CoordinatorClosedError extends ZkLeaderSelectorError {
  constructor(what = 'The operation') {
    super('COORDINATOR_CLOSED', `${what} failed: the Coordinator is closed; create a new Coordinator`);
  }
}

/** The connection to ZooKeeper was lost before the request was answered; it may or may not have been applied. */
export class ConnectionLossError extends ZkLeaderSelectorError {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(
      'CONNECTION_LOSS',
      `${operation}: the connection to ZooKeeper was lost before an answer came`,
      options,
    );
  }
}

/** The ZooKeeper session that the operation belonged to has expired (or was given up after S). */
export class SessionExpiredError extends ZkLeaderSelectorError {
  constructor(operation: string) {
    super(
      'SESSION_EXPIRED',
      `${operation}: the ZooKeeper session expired; its ephemeral nodes (and locks) are gone`,
    );
  }
}

/** A request was not answered in time (node-zookeeper-client has no request timeout of its own). */
export class RequestTimeoutError extends ZkLeaderSelectorError {
  constructor(operation: string, timeoutMs: number) {
    super('REQUEST_TIMEOUT', `${operation}: no answer from ZooKeeper within ${timeoutMs} ms`);
  }
}

/** The server rejected our credentials. */
export class AuthFailedError extends ZkLeaderSelectorError {
  constructor() {
    super('AUTH_FAILED', 'ZooKeeper rejected the authentication: check the auth option of the Coordinator');
  }
}

/** Any other error answered by ZooKeeper (NO_NODE, NODE_EXISTS, NO_AUTH, BAD_VERSION, ...). */
export class ZooKeeperError extends ZkLeaderSelectorError {
  constructor(
    /** ZooKeeper's numeric error code, e.g. -101 for NO_NODE. */
    readonly zkCode: number,
    /** ZooKeeper's error name, e.g. `NO_NODE`. */
    readonly zkName: string,
    /** The path of the failed request, if it had one. */
    readonly path: string | undefined,
    operation: string,
  ) {
    super(
      'ZOOKEEPER_ERROR',
      `${operation}: ZooKeeper answered ${zkName} (${zkCode})${path ? ` for ${path}` : ''}`,
    );
  }
}

/** The operation was aborted through its AbortSignal. */
export class AbortError extends ZkLeaderSelectorError {
  constructor(
    message = 'The operation was aborted',
    /** The AbortSignal's reason. */
    readonly reason?: unknown,
  ) {
    super('ABORTED', message);
    this.name = 'AbortError';
  }
}

/** release() (or another holder-only call) on a lock instance (or scope) that does not hold the lock. */
export class LockNotHeldError extends ZkLeaderSelectorError {
  constructor(path: string) {
    super(
      'LOCK_NOT_HELD',
      `The lock ${path} is not held by this lock instance (or by this runExclusive/leader scope): ` +
        'call release() once per acquire() that resolved true, on the same instance',
    );
  }
}

/** hold() or runExclusive() did not get the lock in time. */
export class LockTimeoutError extends ZkLeaderSelectorError {
  constructor(path: string, timeoutMs: number) {
    super(
      'LOCK_TIMEOUT',
      `Could not acquire ${path} within ${timeoutMs} ms: raise the max wait or check who holds it`,
    );
  }
}

/** Why {@link OwnershipError} was raised by verifyOwnership(). */
export type OwnershipStatus = 'CONNECTION_LOST' | 'SERVER_SIDE_ID_DIFFERENT' | 'NOT_ACQUIRED';

/** Ownership of a lock could not be confirmed. */
export class OwnershipError extends ZkLeaderSelectorError {
  constructor(
    /** Why ownership cannot be confirmed: `CONNECTION_LOST`, `SERVER_SIDE_ID_DIFFERENT` or `NOT_ACQUIRED`. */
    readonly status: OwnershipStatus,
    message: string,
  ) {
    super('OWNERSHIP_LOST', message);
  }
}

/** start() on a LeaderSelector that is running or still stopping. */
export class SelectorRunningError extends ZkLeaderSelectorError {
  constructor(state: string, what = 'LeaderSelector') {
    super(
      'SELECTOR_RUNNING',
      `${what}.start() called while it is ${state}: await stop() (or waitUntilStopped()) first`,
    );
  }
}

/** stop({ timeoutMs }) gave up waiting for the leader callback to return. */
export class StopTimeoutError extends ZkLeaderSelectorError {
  constructor(timeoutMs: number, what = 'LeaderSelector') {
    super(
      'STOP_TIMEOUT',
      `${what}.stop() timed out after ${timeoutMs} ms: the ${what === 'LeaderSelector' ? 'leader callback has' : 'callbacks have'} not returned; ` +
        'make it check control.shouldStop() or control.signal',
    );
  }
}

/** ZooKeeper is disabled by configuration (ZOOKEEPER_DISABLED). */
export class ZooKeeperDisabledError extends ZkLeaderSelectorError {
  constructor(what: string) {
    super(
      'ZOOKEEPER_DISABLED',
      `${what} is not available: ZooKeeper is disabled (ZOOKEEPER_DISABLED=true); unset it to use locks`,
    );
  }
}

/** writeLock.acquire() while the same read-write lock holds its read lock: that would wait forever. */
export class LockUpgradeError extends ZkLeaderSelectorError {
  constructor(path: string) {
    super(
      'LOCK_UPGRADE',
      `Cannot take the write lock of ${path} while this read-write lock holds its read lock (an upgrade ` +
        'would wait for itself forever): release the read lock first, or take the write lock first and ' +
        'then the read lock (a downgrade)',
    );
  }
}

/** A call on a recipe that was closed for good (a closed LeaderLatch cannot start again). */
export class RecipeClosedError extends ZkLeaderSelectorError {
  constructor(what: string) {
    super('RECIPE_CLOSED', `${what} was called after close(): create a new one instead`);
  }
}
