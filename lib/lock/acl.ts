import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import { native, type NativeACL } from '../zk/native.js';

/** Permission names of a ZooKeeper ACL entry. */
export type AclPermission = 'read' | 'write' | 'create' | 'delete' | 'admin';

/** One ACL entry for lock nodes, e.g. `{ scheme: 'digest', id: digestId('app', 'secret'), permissions: 'all' }`. */
export interface AclEntry {
  /** `world`, `auth`, `digest`, `ip`, ... */
  scheme: string;
  /** `anyone` for world, `user:base64(sha1(user:password))` for digest, an address for ip. */
  id: string;
  /** `all`, or a list of permissions. */
  permissions: 'all' | readonly AclPermission[];
}

/** The digest id ZooKeeper stores for `user:password` (use it in an AclEntry). */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

const BITS: Record<AclPermission, number> = { read: 1, write: 2, create: 4, delete: 8, admin: 16 };

export function toNativeAcl(entries: readonly AclEntry[] | undefined, option = 'acl'): NativeACL[] {
  if (entries === undefined) return native.ACL.OPEN_ACL_UNSAFE;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new InvalidOptionError(option, 'must be a non-empty array of { scheme, id, permissions }');
  }
  return entries.map((entry: AclEntry) => {
    if (typeof entry?.scheme !== 'string' || typeof entry.id !== 'string') {
      throw new InvalidOptionError(option, 'each entry needs string scheme and id');
    }
    let bits = 0;
    if (entry.permissions === 'all') bits = 31;
    else if (Array.isArray(entry.permissions)) {
      for (const permission of entry.permissions as readonly AclPermission[]) {
        const bit = BITS[permission] as number | undefined;
        if (bit === undefined)
          throw new InvalidOptionError(option, `unknown permission ${JSON.stringify(permission)}`);
        bits |= bit;
      }
    }
    if (bits === 0) throw new InvalidOptionError(option, 'permissions must be "all" or a non-empty list');
    return new native.ACL(bits, new native.Id(entry.scheme, entry.id));
  });
}
