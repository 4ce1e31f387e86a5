/** Types of a task group's events and state. */
import type { LeadershipLossReason } from '../leader/control.js';

/** Why a task's term ended: a leader's reasons, plus 'rebalance' and 'taskRemoved'. */
export type TaskStopReason = LeadershipLossReason;

/** State of a {@link TaskGroup}. */
export type TaskGroupState = 'idle' | 'running' | 'stopping' | 'stopped';

/** What 'rebalanced' reports: this member's view once its plan has settled. */
export interface RebalanceInfo {
  /** Tasks this member runs, sorted. */
  owned: string[];
  /** Members in this member's view (itself included). */
  members: number;
  /** Tasks counted for the share (known here or held by someone). */
  tasks: number;
  /** The fair share ceil(tasks / members); every member settles between floor and ceil. */
  share: number;
}

/** Events of a {@link TaskGroup} (eventemitter3). */
export interface TaskGroupEvents {
  /** A term of a task started on this member. */
  taskStarted: (info: { task: string; term: number; fencingToken: bigint }) => void;
  /** A term of a task ended on this member (its callback returned), with the reason. */
  taskStopped: (info: { task: string; term: number; reason: TaskStopReason }) => void;
  /** This member's share settled after a change (members, tasks or ownership). */
  rebalanced: (info: RebalanceInfo) => void;
  /** A throwing run, a failed wait or release, an invalid task list from the function; the group keeps running. */
  error: (error: unknown) => void;
  /** The group stopped (stop(), or its coordinator closed). */
  stopped: () => void;
}
