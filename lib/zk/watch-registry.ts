/**
 * One native watcher per session, dispatching by path to our own listeners.
 *
 * node-zookeeper-client keeps an EventEmitter per watched path and adds the function passed to
 * getData/exists unless that very function is already there; it cannot remove a watcher. Passing
 * a new closure per wait left one listener per timed-out wait behind (and a
 * MaxListenersExceededWarning on stderr). Every request of a session passes the registry's one
 * function instead, so the client holds at most one listener per watched path, and our listeners
 * live here, where a finished wait removes its own.
 */
import type { NativeEvent, NativeWatcher } from './native.js';

export type WatchListener = (event: NativeEvent) => void;

export class WatchRegistry {
  private readonly listeners = new Map<string, Set<WatchListener> | WatchListener>();

  /** The one function this session passes as a watcher to the native client. */
  readonly native: NativeWatcher = (event) => this.dispatch(event);

  /** Listens for the next data event (changed, deleted, created) on `path`; returns the remover. */
  add(path: string, listener: WatchListener): () => void {
    const current = this.listeners.get(path);
    if (current === undefined) this.listeners.set(path, listener);
    else if (typeof current === 'function') {
      if (current !== listener) this.listeners.set(path, new Set([current, listener]));
    } else current.add(listener);
    return () => this.remove(path, listener);
  }

  remove(path: string, listener: WatchListener): void {
    const current = this.listeners.get(path);
    if (current === listener) this.listeners.delete(path);
    else if (current !== undefined && typeof current !== 'function') {
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(path);
    }
  }

  /** Paths with at least one listener (for tests and leak checks). */
  get size(): number {
    return this.listeners.size;
  }

  /** Listeners on `path`. */
  count(path: string): number {
    const current = this.listeners.get(path);
    if (current === undefined) return 0;
    return typeof current === 'function' ? 1 : current.size;
  }

  /** A native watch fires once: every listener of the path hears it and is dropped. */
  private dispatch(event: NativeEvent): void {
    if (event.name === 'NODE_CHILDREN_CHANGED') return;
    const current = this.listeners.get(event.path);
    if (current === undefined) return;
    this.listeners.delete(event.path);
    if (typeof current === 'function') current(event);
    else for (const listener of current) listener(event);
  }
}
