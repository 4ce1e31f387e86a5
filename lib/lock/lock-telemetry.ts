/**
 * What a lock tells its coordinator's observability (metrics, diagnostics channels, status()):
 * kept here so the lock reads as the recipe it is.
 */
import { AbortError } from '../errors.js';
import type { AcquireOutcome } from '../ops/channels.js';
import type { Observability } from '../session/observability.js';
import { monotonicNow } from '../util/clock.js';
import type { Acquisition } from './acquisition.js';

/** Runs a (non-reentrant) acquire, recording its duration and outcome. */
export async function observedAcquire(
  observability: Observability,
  path: string,
  id: string,
  take: () => Promise<Acquisition | undefined>,
): Promise<Acquisition | undefined> {
  const startedAt = monotonicNow();
  observability.acquireStarted(path, id);
  let outcome: AcquireOutcome = 'error';
  let acquisition: Acquisition | undefined;
  let failure: unknown;
  try {
    acquisition = await take();
    outcome = acquisition ? 'acquired' : 'timeout';
    return acquisition;
  } catch (error) {
    outcome = error instanceof AbortError ? 'aborted' : 'error';
    failure = error;
    throw error;
  } finally {
    observability.acquireEnded(
      path,
      id,
      outcome,
      monotonicNow() - startedAt,
      acquisition?.node.czxid,
      failure,
    );
  }
}

/** Lists a fresh hold in status() and the held-locks gauge; returns what to call at its release. */
export function trackHold(
  observability: Observability,
  path: string,
  acquisition: Acquisition,
  owned: () => boolean,
): () => void {
  const acquiredAt = monotonicNow();
  const untrack = observability.registerHeldLock({
    status: () => ({
      path,
      node: acquisition.node.nodeName,
      fencingToken: String(acquisition.node.czxid),
      heldForMs: Math.round(monotonicNow() - acquiredAt),
      owned: owned(),
    }),
  });
  return () => {
    untrack();
    observability.released(path, acquisition.node.nodeName, monotonicNow() - acquiredAt);
  };
}
