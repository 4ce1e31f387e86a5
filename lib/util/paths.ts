import { InvalidPathError } from '../errors.js';

/**
 * Validates a ZooKeeper node path the way the server does, but synchronously and with a typed
 * error (node-zookeeper-client throws an AssertionError for some of these).
 */
export function validatePath(path: unknown): string {
  if (typeof path !== 'string') throw new InvalidPathError(String(path), 'must be a string');
  if (path.length === 0)
    throw new InvalidPathError(path, 'must not be empty; use an absolute path like /app/locks/job');
  if (!path.startsWith('/')) throw new InvalidPathError(path, `must be absolute: use "/${path}"`);
  if (path === '/') throw new InvalidPathError(path, 'the root cannot be a lock path; use a path below it');
  if (path.endsWith('/'))
    throw new InvalidPathError(path, `must not end with "/": use "${path.replace(/\/+$/, '')}"`);
  if (path.includes('//')) throw new InvalidPathError(path, 'must not contain an empty segment ("//")');
  for (const segment of path.split('/').slice(1)) {
    if (segment === '.' || segment === '..')
      throw new InvalidPathError(path, 'relative segments "." and ".." are not allowed');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/u.test(path)) {
    throw new InvalidPathError(path, 'contains a character ZooKeeper does not allow');
  }
  if (path === '/zookeeper' || path.startsWith('/zookeeper/')) {
    throw new InvalidPathError(path, '/zookeeper is reserved by the server');
  }
  return path;
}

/** The parent of an absolute path ("/" for top-level nodes). */
export function parentOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? '/' : path.slice(0, index);
}

/** Joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
