/**
 * What "owned" means for a hold (DESIGN.md, "Session, lease and what owned means"), shared by
 * every recipe: held, verified, on the live session, inside its lease, and under 'strict' not
 * suspended and checked since the last suspension.
 */
import type { CoordinatorCore } from '../session/coordinator-core.js';
import type { ConnectionLossPolicy } from '../session/options.js';
import { monotonicNow, monotonicToEpoch } from '../util/clock.js';
import type { Acquisition } from './acquisition.js';

export function ownedNow(
  coordinator: CoordinatorCore,
  acquisition: Acquisition,
  policy: ConnectionLossPolicy,
): boolean {
  if (acquisition.status !== 'held' || !acquisition.verifiedOk) return false;
  const session = acquisition.node.session;
  if (session.ended || coordinator.session !== session) return false;
  // 'strict': a suspension is treated as loss until the same session answers again and a check
  // sent after the suspension found our node (a session closed by someone else while we were
  // away fails that check).
  if (
    policy === 'strict' &&
    (coordinator.state === 'suspended' || acquisition.checkedAt < coordinator.lastSuspendedAt)
  )
    return false;
  return monotonicNow() < coordinator.leaseDeadline(session);
}

/** Epoch ms until which the hold's ownership is guaranteed (0 when not owned). */
export function ownedUntil(
  coordinator: CoordinatorCore,
  acquisition: Acquisition,
  policy: ConnectionLossPolicy,
): number {
  if (!ownedNow(coordinator, acquisition, policy)) return 0;
  return monotonicToEpoch(coordinator.leaseDeadline(acquisition.node.session));
}
