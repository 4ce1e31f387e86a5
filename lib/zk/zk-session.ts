/**
 * ZkSession: a ZkConnection (zk-connection.ts) with the typed ZooKeeper operations the SDK uses.
 */
import { isZkCode, native, ZK_CODES, type NativeACL, type NativeStat, type NativeWatcher } from './native.js';
import { ZkConnection, type RequestOptions } from './zk-connection.js';

export {
  type AuthInfo,
  type RequestOptions,
  type SessionEnd,
  type ZkSessionOptions,
} from './zk-connection.js';

export class ZkSession extends ZkConnection {
  // ---- typed operations -------------------------------------------------------------------

  create(
    path: string,
    data: Buffer,
    acl: NativeACL[],
    mode: number,
    options: RequestOptions,
  ): Promise<string> {
    return this.request(
      'create',
      path,
      options,
      (client, callback) => client.create(path, data, acl, mode, callback),
      (created) => created as string,
    );
  }

  /**
   * Creates an EPHEMERAL_SEQUENTIAL node and returns its path and czxid. The czxid is the zxid of
   * the create's reply header: the client stores it just before running the callback (checked
   * against the node's stat at every verification).
   */
  createSequential(
    path: string,
    data: Buffer,
    acl: NativeACL[],
    options: RequestOptions,
    /** EPHEMERAL for a node whose name already carries its sequence (a downgrading reader). */
    mode: number = native.CreateMode.EPHEMERAL_SEQUENTIAL,
  ): Promise<{ path: string; czxid: bigint | undefined }> {
    return this.request(
      'create',
      path,
      options,
      (client, callback) => client.create(path, data, acl, mode, callback),
      (created) => {
        const zxid = this.client.connectionManager.zxid;
        return { path: created as string, czxid: zxid ? zxid.readBigInt64BE(0) : undefined };
      },
    );
  }

  remove(path: string, version: number, options: RequestOptions): Promise<void> {
    return this.request(
      'delete',
      path,
      options,
      (client, callback) => client.remove(path, version, callback),
      () => undefined,
    );
  }

  exists(path: string, options: RequestOptions, watcher?: NativeWatcher): Promise<NativeStat | null> {
    return this.request(
      'exists',
      path,
      options,
      (client, callback) => client.exists(path, watcher, callback),
      (stat) => (stat ?? null) as NativeStat | null,
    );
  }

  getChildren(path: string, options: RequestOptions, watcher?: NativeWatcher): Promise<string[]> {
    return this.request(
      'getChildren',
      path,
      options,
      (client, callback) => client.getChildren(path, watcher, callback),
      (children) => children as string[],
    );
  }

  getData(
    path: string,
    options: RequestOptions,
    watcher?: NativeWatcher,
  ): Promise<{ data: Buffer; stat: NativeStat }> {
    return this.request(
      'getData',
      path,
      options,
      (client, callback) => client.getData(path, watcher, callback),
      (data, stat) => ({ data: (data as Buffer | null) ?? Buffer.alloc(0), stat: stat as NativeStat }),
    );
  }

  /** getData, or undefined when the node is gone (NO_NODE): for listings whose nodes may vanish. */
  async getDataIfExists(
    path: string,
    options: RequestOptions,
  ): Promise<{ data: Buffer; stat: NativeStat } | undefined> {
    try {
      return await this.getData(path, options);
    } catch (error) {
      if (isZkCode(error, ZK_CODES.NO_NODE)) return undefined;
      throw error;
    }
  }

  /**
   * One `multi` of existence checks (version -1: any version). Resolves with one code per path,
   * 0 for a node that exists. ZooKeeper stops at the first failing op: it gets its own code (e.g.
   * NO_NODE), the ops before it 0 and the ops after it RUNTIME_INCONSISTENCY (-2), unchecked.
   */
  checkExist(paths: readonly string[], options: RequestOptions): Promise<number[]> {
    return this.request(
      'multi',
      undefined,
      options,
      (client, callback) => {
        const transaction = client.transaction();
        for (const path of paths) transaction.check(path, -1);
        // A failed op fails the whole multi, with the per-op results: an answer, not an error.
        transaction.commit((error, results) =>
          error && Array.isArray(results) ? callback(null, results) : callback(error, results),
        );
      },
      (results) => (results as Array<{ err?: number }>).map((result) => result.err ?? 0),
    );
  }

  setData(path: string, data: Buffer, version: number, options: RequestOptions): Promise<NativeStat> {
    return this.request(
      'setData',
      path,
      options,
      (client, callback) => client.setData(path, data, version, callback),
      (stat) => stat as NativeStat,
    );
  }
}
