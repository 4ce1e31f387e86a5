/**
 * A narrow, typed view of node-zookeeper-client 1.1.3, plus a guard against one of its crashes.
 * Nothing here is part of the public API.
 */
import type { Socket } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import { ZooKeeperError } from '../errors.js';

export interface NativeException extends Error {
  code: number;
  name: string;
  path?: string;
  getCode(): number;
}

export interface NativeState {
  name: string;
  code: number;
}

export interface NativeStat {
  czxid: Buffer;
  mzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
  pzxid: Buffer;
}

export interface NativeEvent {
  type: number;
  name: string;
  path: string;
}

export interface NativeId {
  scheme: string;
  id: string;
}

export interface NativeACL {
  permission: number;
  id: NativeId;
}

export type NativeWatcher = (event: NativeEvent) => void;

/** The parts of ConnectionManager the watchdog and close() reach into. */
export interface NativeConnectionManager {
  socket?: Socket;
  state: number;
  connect(): void;
  connectTimeoutHandler?: NodeJS.Timeout;
  /** zxid of the last reply header, set before the reply's callback runs. */
  zxid?: Buffer;
}

export interface NativeTransaction {
  create(path: string, data: Buffer | undefined, acls: NativeACL[], mode: number): NativeTransaction;
  remove(path: string, version: number): NativeTransaction;
  check(path: string, version: number): NativeTransaction;
  setData(path: string, data: Buffer, version: number): NativeTransaction;
  commit(callback: (error: NativeException | null, results: unknown[]) => void): void;
}

export interface NativeClient {
  connect(): void;
  close(): void;
  on(event: 'state', listener: (state: NativeState) => void): void;
  removeAllListeners(event?: string): void;
  getState(): NativeState;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getSessionTimeout(): number;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(
    path: string,
    data: Buffer | undefined,
    acls: NativeACL[],
    mode: number,
    callback: (error: NativeException | null, path: string) => void,
  ): void;
  remove(path: string, version: number, callback: (error: NativeException | null) => void): void;
  exists(
    path: string,
    watcher: NativeWatcher | undefined,
    callback: (error: NativeException | null, stat: NativeStat | null) => void,
  ): void;
  getChildren(
    path: string,
    watcher: NativeWatcher | undefined,
    callback: (error: NativeException | null, children: string[], stat: NativeStat) => void,
  ): void;
  getData(
    path: string,
    watcher: NativeWatcher | undefined,
    callback: (error: NativeException | null, data: Buffer | null, stat: NativeStat) => void,
  ): void;
  setData(
    path: string,
    data: Buffer,
    version: number,
    callback: (error: NativeException | null, stat: NativeStat) => void,
  ): void;
  transaction(): NativeTransaction;
  connectionManager: NativeConnectionManager;
}

interface NativeExceptionClass {
  (code: number, name: string, path: string | undefined, ctor: unknown): void;
  prototype: NativeException;
  create(code: number, path?: string): NativeException;
  [code: string]: unknown;
}

interface NativeModule {
  createClient(
    connectString: string,
    options: {
      sessionTimeout: number;
      spinDelay: number;
      retries: number;
      sessionId?: Buffer;
      sessionPassword?: Buffer;
    },
  ): NativeClient;
  ACL: { new (permission: number, id: NativeId): NativeACL; OPEN_ACL_UNSAFE: NativeACL[] };
  Id: new (scheme: string, id: string) => NativeId;
  Permission: { READ: number; WRITE: number; CREATE: number; DELETE: number; ADMIN: number; ALL: number };
  CreateMode: {
    PERSISTENT: number;
    EPHEMERAL: number;
    PERSISTENT_SEQUENTIAL: number;
    EPHEMERAL_SEQUENTIAL: number;
  };
  State: Record<
    'DISCONNECTED' | 'SYNC_CONNECTED' | 'AUTH_FAILED' | 'CONNECTED_READ_ONLY' | 'EXPIRED',
    NativeState
  >;
  Exception: NativeExceptionClass;
  Event: Record<'NODE_CREATED' | 'NODE_DELETED' | 'NODE_DATA_CHANGED' | 'NODE_CHILDREN_CHANGED', number>;
}

export const native = zookeeper as NativeModule;

/** Error codes the client knows; newer servers send more. */
export const ZK_CODES = {
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  AUTH_FAILED: -115,
} as const;

/** Names of codes node-zookeeper-client 1.1.3 does not list (ZooKeeper 3.5+ servers send them). */
const UNLISTED_CODES: Record<number, string> = {
  [-13]: 'NEW_CONFIG_NO_QUORUM',
  [-14]: 'RECONFIG_IN_PROGRESS',
  [-15]: 'UNKNOWN_SESSION',
  [-116]: 'INVALID_TTL',
  [-117]: 'NO_WATCHER',
  [-118]: 'SESSION_MOVED',
  [-119]: 'NOT_READ_ONLY',
  [-120]: 'EPHEMERAL_ON_LOCAL_SESSION',
  [-121]: 'NO_WATCHER',
  [-122]: 'REQUEST_TIMEOUT',
  [-123]: 'RECONFIG_DISABLED',
  [-124]: 'SESSION_CLOSED_REQUIRE_SASL_AUTH',
  [-125]: 'QUOTA_EXCEEDED',
  [-127]: 'THROTTLED_OP',
};

/** True when `error` is the ZooKeeper error `code` (one of ZK_CODES) answered by the server. */
export function isZkCode(error: unknown, code: number): boolean {
  return error instanceof ZooKeeperError && error.zkCode === code;
}

let patched = false;

/**
 * node-zookeeper-client's Exception.create throws "Unknown code" for codes it does not list, and
 * it does so inside the socket's data handler: an uncaught exception that kills the process.
 * Replace it with a version that builds a regular Exception-shaped error for any code.
 */
export function guardUnknownErrorCodes(): void {
  if (patched) return;
  patched = true;
  const Exception = native.Exception;
  const original = Exception.create.bind(Exception);
  Exception.create = (code: number, path?: string): NativeException => {
    try {
      return original(code, path);
    } catch {
      const error = Object.create(Exception.prototype) as NativeException;
      Error.captureStackTrace(error);
      error.code = code;
      error.name = UNLISTED_CODES[code] ?? `UNKNOWN_${code}`;
      error.path = path;
      error.message = `Exception: ${error.name}[${code}]${path ? `@${path}` : ''}`;
      return error;
    }
  };
}

guardUnknownErrorCodes();

/** ZooKeeper zxids and session ids travel as 8-byte big-endian Buffers. */
export function int64(buffer: Buffer): bigint {
  return buffer.readBigInt64BE(0);
}

export function sessionIdHex(buffer: Buffer): string {
  return buffer.toString('hex');
}
