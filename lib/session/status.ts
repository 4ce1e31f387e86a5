/** coordinator.status(): a plain object for health endpoints (README, "Operations"). */

/** One lock held by this coordinator's session. */
export interface HeldLockStatus {
  path: string;
  /** Our node's name. */
  node: string;
  /** The node's czxid, as a decimal string (JSON has no bigint). */
  fencingToken: string;
  /** How long it has been held, in ms. */
  heldForMs: number;
  /** considerAsOwned() right now. */
  owned: boolean;
}

/** One leader selector of this coordinator. */
export interface LeaderStatus {
  path: string;
  id: string;
  /** idle, contending, leading, releasing or stopped. */
  state: string;
  leading: boolean;
  /** The current term (while leading). */
  term?: number;
  /** Epoch ms the current term started (while leading). */
  since?: number;
  fencingToken?: string;
}

/** What coordinator.status() returns. */
export interface CoordinatorStatus {
  state: string;
  connectString: string;
  /** 16 hex digits; undefined before the first session. */
  sessionId: string | undefined;
  /** The negotiated session timeout S (the requested one before the first session). */
  sessionTimeoutMs: number;
  connectionLossPolicy: string;
  /** Epoch ms until which the session is guaranteed alive (0: no live session). */
  ownershipDeadline: number;
  /** ms until then (0: none). */
  leaseRemainingMs: number;
  heldLocks: HeldLockStatus[];
  leaders: LeaderStatus[];
}

/** Something that reports its status while registered. */
export interface StatusSource<T> {
  status(): T;
}
