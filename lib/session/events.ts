/** The Coordinator's states, events and wait options (kept apart from its logic). */
/** Connection state of a {@link Coordinator}. */
export type CoordinatorState = 'idle' | 'connecting' | 'connected' | 'suspended' | 'closed' | 'disabled';

/** Why a session was lost. */
export type SessionLossReason = 'expired' | 'timeout' | 'auth-failed';

/** Events of a {@link Coordinator} (eventemitter3). */
export interface CoordinatorEvents {
  /** A session was established: the first one, or a new one after `lost`. */
  connected: (info: { sessionId: string; sessionTimeoutMs: number }) => void;
  /** No answer for suspendAfterMs, or the connection dropped: ownership may be lost. */
  suspended: (info: { sessionId: string }) => void;
  /** The same session is answering again after `suspended`. */
  reconnected: (info: { sessionId: string }) => void;
  /** The session is gone (expired, or unanswered for longer than S); its locks are lost for good. */
  lost: (info: { sessionId: string | undefined; reason: SessionLossReason }) => void;
  /** close() completed. */
  closed: () => void;
}

/** Options of calls that wait. */
export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}
