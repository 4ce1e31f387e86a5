/**
 * Lifecycle events on `node:diagnostics_channel` (the convention of undici and other core-adjacent
 * libraries), so APM tools can subscribe without a dependency on us. Nothing is built or sent
 * while a channel has no subscriber.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** The channel names, stable: subscribe with `diagnostics_channel.subscribe(name, fn)`. */
export const CHANNELS = {
  /** Coordinator session events: { event, sessionId, state, reason? }. */
  session: 'zk-leader-selector:session',
  /** An acquire() began: { path, id }. */
  acquireStart: 'zk-leader-selector:lock.acquire.start',
  /** An acquire() ended: { path, id, outcome, durationMs, fencingToken?, error? }. */
  acquireEnd: 'zk-leader-selector:lock.acquire.end',
  /** A hold was released (its last level): { path, node, heldMs }. */
  release: 'zk-leader-selector:lock.release',
  /** A held lock was lost for good: { path, node, reason }. */
  lockLost: 'zk-leader-selector:lock.lost',
  /** A leader's term started: { path, id, term, fencingToken }. */
  leadershipAcquired: 'zk-leader-selector:leader.acquired',
  /** A leader's term ended: { path, id, term, reason, durationMs }. */
  leadershipLost: 'zk-leader-selector:leader.lost',
} as const;

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

/** What an acquire() ended with. */
export type AcquireOutcome = 'acquired' | 'timeout' | 'aborted' | 'error';

/** Messages per channel. */
export interface ChannelMessages {
  [CHANNELS.session]: {
    event: 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed';
    sessionId: string | undefined;
    state: string;
    reason?: string;
  };
  [CHANNELS.acquireStart]: { path: string; id: string };
  [CHANNELS.acquireEnd]: {
    path: string;
    id: string;
    outcome: AcquireOutcome;
    durationMs: number;
    fencingToken?: bigint;
    error?: unknown;
  };
  [CHANNELS.release]: { path: string; node: string; heldMs: number };
  [CHANNELS.lockLost]: { path: string; node: string; reason: string };
  [CHANNELS.leadershipAcquired]: { path: string; id: string; term: number; fencingToken: bigint };
  [CHANNELS.leadershipLost]: { path: string; id: string; term: number; reason: string; durationMs: number };
}

const channels = new Map<string, diagnosticsChannel.Channel>();

function channelOf(name: ChannelName): diagnosticsChannel.Channel {
  let channel = channels.get(name);
  if (!channel) {
    channel = diagnosticsChannel.channel(name);
    channels.set(name, channel);
  }
  return channel;
}

/** True when someone listens on `name` (check before building an expensive message). */
export function hasSubscribers(name: ChannelName): boolean {
  return channelOf(name).hasSubscribers;
}

/** Publishes `message()` on `name` if anyone subscribed; the message is built only then. */
export function publish<N extends ChannelName>(name: N, message: () => ChannelMessages[N]): void {
  const channel = channelOf(name);
  if (channel.hasSubscribers) channel.publish(message());
}
