/** Creates a path and its missing ancestors (CONTAINER nodes are not available in this client). */
import { parentOf, validatePath } from '../util/paths.js';
import { isZkCode, native, ZK_CODES, type NativeACL } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';
import type { WaitOptions } from './events.js';

/** What ensurePath needs of its coordinator. */
export interface RetryingRunner {
  retrying<T>(
    operation: string,
    options: WaitOptions,
    run: (session: ZkSession, requestTimeoutMs: number) => Promise<T>,
  ): Promise<T>;
}

/**
 * Creates `path` and its missing ancestors as persistent nodes. Existing nodes are fine. Only
 * `path` itself gets `acl` (deleting a child needs DELETE on it); ancestors are open.
 */
export async function ensurePath(
  runner: RetryingRunner,
  path: string,
  acl: NativeACL[],
  options: WaitOptions,
): Promise<void> {
  validatePath(path);
  const missing: string[] = [];
  for (let p = path; p !== '/'; p = parentOf(p)) missing.unshift(p);
  for (const node of missing) {
    const nodeAcl = node === path ? acl : native.ACL.OPEN_ACL_UNSAFE;
    await runner.retrying('ensurePath', options, async (session, timeoutMs) => {
      try {
        await session.create(node, Buffer.alloc(0), nodeAcl, native.CreateMode.PERSISTENT, {
          timeoutMs,
          signal: options.signal,
        });
      } catch (error) {
        if (!isZkCode(error, ZK_CODES.NODE_EXISTS)) throw error;
      }
    });
  }
}
