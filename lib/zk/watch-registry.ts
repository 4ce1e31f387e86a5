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

type Listeners = Map<string, Set<WatchListener> | WatchListener>;

export class WatchRegistry {
  private readonly listeners: Listeners = new Map();
  /** Listeners of children watches (getChildren with the native watcher), apart from data ones. */
  private readonly childListeners: Listeners = new Map();

  /** The one function this session passes as a watcher to the native client. */
  readonly native: NativeWatcher = (event) => this.dispatch(event);

  /** Listens for the next data event (changed, deleted, created) on `path`; returns the remover. */
  add(path: string, listener: WatchListener): () => void {
    addTo(this.listeners, path, listener);
    return () => this.remove(path, listener);
  }

  remove(path: string, listener: WatchListener): void {
    removeFrom(this.listeners, path, listener);
  }

  /** Listens for the next children event (a child added or removed, or `path` deleted). */
  addChildren(path: string, listener: WatchListener): () => void {
    addTo(this.childListeners, path, listener);
    return () => this.removeChildren(path, listener);
  }

  removeChildren(path: string, listener: WatchListener): void {
    removeFrom(this.childListeners, path, listener);
  }

  /** Paths with at least one listener (for tests and leak checks). */
  get size(): number {
    return this.listeners.size + this.childListeners.size;
  }

  /** Listeners on `path`. */
  count(path: string): number {
    return countOf(this.listeners, path) + countOf(this.childListeners, path);
  }

  /**
   * A native watch fires once: every listener of the path hears it and is dropped. A deletion
   * fires both kinds of watch of the path; a children change only children watches.
   */
  private dispatch(event: NativeEvent): void {
    if (event.name === 'NODE_CHILDREN_CHANGED' || event.name === 'NODE_DELETED') {
      fire(this.childListeners, event);
    }
    if (event.name !== 'NODE_CHILDREN_CHANGED') fire(this.listeners, event);
  }
}

function addTo(map: Listeners, path: string, listener: WatchListener): void {
  const current = map.get(path);
  if (current === undefined) map.set(path, listener);
  else if (typeof current === 'function') {
    if (current !== listener) map.set(path, new Set([current, listener]));
  } else current.add(listener);
}

function removeFrom(map: Listeners, path: string, listener: WatchListener): void {
  const current = map.get(path);
  if (current === listener) map.delete(path);
  else if (current !== undefined && typeof current !== 'function') {
    current.delete(listener);
    if (current.size === 0) map.delete(path);
  }
}

function countOf(map: Listeners, path: string): number {
  const current = map.get(path);
  if (current === undefined) return 0;
  return typeof current === 'function' ? 1 : current.size;
}

function fire(map: Listeners, event: NativeEvent): void {
  const current = map.get(event.path);
  if (current === undefined) return;
  map.delete(event.path);
  if (typeof current === 'function') current(event);
  else for (const listener of current) listener(event);
}
