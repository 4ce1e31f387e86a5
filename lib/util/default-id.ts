import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** Read once: os.hostname() is a system call, and locks are created by the thousand. */
let host: string | undefined;

/** The id of a recipe created without one: `<hostname>:<pid>:<8 random hex digits>`. */
export function defaultId(): string {
  host ??= hostname();
  return `${host}:${process.pid}:${randomUUID().slice(0, 8)}`;
}
