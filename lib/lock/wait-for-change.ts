/**
 * The wait of a contender that does not hold yet: until the node it watches goes away or
 * changes, or (the semaphore) until the children of the path change. Our listener sits in the
 * session's WatchRegistry, so a wait that ends by timeout or abort leaves nothing behind.
 */
import { SessionExpiredError } from '../errors.js';
import type { CoordinatorCore } from '../session/coordinator-core.js';
import { monotonicNow } from '../util/clock.js';
import { logger } from '../util/log.js';
import { isZkCode, ZK_CODES, type NativeEvent } from '../zk/native.js';
import type { ZkSession } from '../zk/zk-session.js';

const log = logger('lock');

export type WaitOutcome = 'deleted' | 'changed' | 'gone' | 'retry' | 'timeout' | 'aborted' | 'session-ended';

export interface WaitOptions {
  /** Monotonic instant after which waiting stops (Infinity: wait forever). */
  deadline: number;
  signal?: AbortSignal | undefined;
}

function sameChildren(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((child) => set.has(child));
}

/**
 * Waits until the watched predecessor goes away or changes. getData with a watch (as Curator
 * does) leaves no watch behind when the node is already gone. With `listed` (the children the
 * verdict was made on), waits for a change of the children of `path` instead: a listing with a
 * watch that already differs counts as a change.
 */
export function waitForChange(
  coordinator: CoordinatorCore,
  session: ZkSession,
  path: string,
  options: WaitOptions,
  listed?: readonly string[],
): Promise<WaitOutcome> {
  return new Promise<WaitOutcome>((resolve) => {
    let done = false;
    let removeWatcher = (): void => undefined;
    const finish = (outcome: WaitOutcome): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      session.off('ended', onEnded);
      removeWatcher();
      resolve(outcome);
    };
    const onAbort = (): void => finish('aborted');
    const onEnded = (): void => finish('session-ended');
    const watcher = (event: NativeEvent): void =>
      finish(event.name === 'NODE_DELETED' ? 'deleted' : 'changed');
    const remaining = options.deadline - monotonicNow();
    const timer = Number.isFinite(remaining)
      ? setTimeout(() => finish('timeout'), Math.max(0, remaining))
      : undefined;
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // An abort that came while we listed the children fires no event any more.
    if (options.signal?.aborted) {
      finish('aborted');
      return;
    }
    session.once('ended', onEnded);
    // The session's one native watcher dispatches to ours: a finished wait leaves nothing behind.
    removeWatcher = listed ? session.watches.addChildren(path, watcher) : session.watches.add(path, watcher);
    const watching = listed
      ? session
          .getChildren(path, { timeoutMs: coordinator.timing.requestTimeoutMs }, session.watches.native)
          .then((now) => {
            if (!sameChildren(now, listed)) finish('changed');
          })
      : session.getData(path, { timeoutMs: coordinator.timing.requestTimeoutMs }, session.watches.native);
    watching.then(
      () => undefined,
      (error: unknown) => {
        if (isZkCode(error, ZK_CODES.NO_NODE)) finish('gone');
        else if (error instanceof SessionExpiredError) finish('session-ended');
        else {
          log('watching %s failed: %s', path, (error as Error).message);
          // Connection problems: list again once the connection is back.
          void coordinator.nextStateChange(AbortSignal.timeout(250)).then(() => finish('retry'));
        }
      },
    );
  });
}
