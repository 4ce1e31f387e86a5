/**
 * Async flows: the Node analogue of Curator's per-thread lock ownership. A flow is the async
 * context an acquire() was called in, plus everything started from it afterwards
 * (AsyncLocalStorage propagation).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class Flow {
  private static counter = 0;
  readonly id = ++Flow.counter;
}

const storage = new AsyncLocalStorage<Flow>();

export function currentFlow(): Flow | undefined {
  return storage.getStore();
}

/**
 * The flow an acquire() belongs to. A caller without a flow, or whose flow already has an
 * acquire in progress on this lock (concurrent workers started from one context), gets a new
 * flow; enterWith makes it stick to the caller's continuation, so the later release() in the
 * same async function finds it.
 */
export function flowForAcquire(isContending: (flow: Flow) => boolean): Flow {
  const existing = storage.getStore();
  if (existing && !isContending(existing)) return existing;
  const flow = new Flow();
  storage.enterWith(flow);
  return flow;
}

/** Runs `fn` in `flow` (nested acquires in it are reentrant). */
export function runInFlow<T>(flow: Flow, fn: () => T): T {
  return storage.run(flow, fn);
}
