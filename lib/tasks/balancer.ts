/**
 * The balancing rules of a task group, as a pure function of one member's view: which tasks to
 * wait for and which to hand over. Every member runs the same rules on its own view (published
 * member states can be a little stale); the locks, not this plan, guarantee one owner per task.
 *
 * With T tasks and M members, lower = floor(T / M) and upper = ceil(T / M) (the fair share):
 * - a member with fewer than `upper` tasks waits for unowned tasks it knows (first), in its own
 *   rendezvous-hash order so that members short at the same time pick different tasks;
 * - a member below `lower` also queues behind members above `lower` (most loaded first) for as
 *   many tasks as it lacks, and publishes those waits as its "wants";
 * - a member above `lower` hands a wanted task over (ends its term with reason 'rebalance') when it
 *   is above `upper` and the requester below `upper`, or the requester is below `lower`;
 *   a member never hands over a task nobody waits for.
 */
import { createHash } from 'node:crypto';

/** What a member published: the tasks it holds and the tasks it waits for. */
export interface MemberState {
  owned: readonly string[];
  wants: readonly string[];
}

/** A task handed to a requester and not yet seen in its published state. */
export interface Gift {
  to: string;
  task: string;
}

export interface BalanceInput {
  self: string;
  /** Every member's published state, ours excluded (ours is `owned` / `waiting`). */
  others: ReadonlyMap<string, MemberState>;
  /** Tasks this member knows (validated, sorted). */
  known: readonly string[];
  /** Tasks whose term runs here and is not ending. */
  owned: ReadonlySet<string>;
  /** Tasks this member waits for now. */
  waiting: ReadonlySet<string>;
  /** Hand-overs in flight. */
  gifts: readonly Gift[];
}

export interface BalancePlan {
  /** T: tasks known here or held by someone. */
  total: number;
  /** floor(T / M) and ceil(T / M), T counting every task known here or held by someone. */
  lower: number;
  upper: number;
  /** Tasks to wait for (keep or start waiting); every other wait is withdrawn. */
  wait: string[];
  /** Held tasks to hand over, with the member they go to. */
  handOver: Gift[];
}

/** Rendezvous hash of (member, task): a stable, member-specific order over tasks. */
export function rank(member: string, task: string): string {
  return createHash('sha1').update(member).update('\0').update(task).digest('hex').slice(0, 12);
}

function byRank(self: string): (a: string, b: string) => number {
  const cache = new Map<string, string>();
  const of = (task: string): string => {
    let value = cache.get(task);
    if (value === undefined) cache.set(task, (value = rank(self, task)));
    return value;
  };
  return (a, b) => (of(a) < of(b) ? -1 : of(a) > of(b) ? 1 : 0);
}

export function balance(input: BalanceInput): BalancePlan {
  const { self, others, known, owned, waiting } = input;
  const ownerOf = new Map<string, string>();
  const all = new Set(known);
  for (const [id, state] of others) {
    for (const task of state.owned) {
      ownerOf.set(task, id);
      all.add(task);
    }
  }
  for (const task of owned) {
    ownerOf.set(task, self);
    all.add(task);
  }
  const members = others.size + 1;
  const lower = Math.floor(all.size / members);
  const upper = Math.ceil(all.size / members);

  // Loads: published counts, plus hand-overs in flight: the requester still waits for the task and
  // nobody shows it owned. Once anyone shows it (the requester, or another member queued ahead of
  // it that won it), or the requester stopped waiting, the gift no longer counts.
  const load = new Map<string, number>();
  for (const [id, state] of others) load.set(id, state.owned.length);
  for (const gift of input.gifts) {
    const state = others.get(gift.to);
    if (state && !ownerOf.has(gift.task) && state.wants.includes(gift.task))
      load.set(gift.to, (load.get(gift.to) ?? 0) + 1);
  }

  // Donor side: hand over wanted tasks.
  const handOver: Gift[] = [];
  let mine = owned.size;
  for (const id of [...others.keys()].sort()) {
    const wants = (others.get(id)?.wants ?? []).filter((t) => owned.has(t)).sort();
    for (const task of wants) {
      const theirs = load.get(id) ?? 0;
      if ((mine > upper && theirs < upper) || (mine > lower && theirs < lower)) {
        handOver.push({ to: id, task });
        mine -= 1;
        load.set(id, theirs + 1);
      }
    }
  }

  // Requester side. Waits already running come first (no churn), then rendezvous order.
  const order = byRank(self);
  const preferWaiting = (a: string, b: string): number =>
    Number(waiting.has(b)) - Number(waiting.has(a)) || order(a, b);
  const wait: string[] = [];
  const capacity = upper - mine;
  const unowned = known.filter((t) => !ownerOf.has(t)).sort(preferWaiting);
  for (const task of unowned) {
    if (wait.length >= capacity) break;
    wait.push(task);
  }
  let lacking = lower - mine - wait.length;
  let spare = capacity - wait.length;
  if (spare > 0) {
    // Candidates per donor: its tasks that we know, in our order.
    const knownSet = new Set(known);
    const candidates = new Map<string, string[]>();
    for (const [id, state] of others) {
      candidates.set(id, state.owned.filter((t) => knownSet.has(t)).sort(preferWaiting));
    }
    const remaining = new Map(load);
    while (spare > 0) {
      // Below lower: take from anyone above lower; else only from members above upper.
      const floor = lacking > 0 ? lower : upper;
      let donor: string | undefined;
      for (const id of [...others.keys()].sort()) {
        const left = remaining.get(id) ?? 0;
        if (left > floor && (candidates.get(id)?.length ?? 0) > 0) {
          if (donor === undefined || left > (remaining.get(donor) ?? 0)) donor = id;
        }
      }
      if (donor === undefined) break;
      const task = candidates.get(donor)?.shift();
      if (task === undefined) break;
      wait.push(task);
      remaining.set(donor, (remaining.get(donor) ?? 0) - 1);
      lacking -= 1;
      spare -= 1;
    }
  }
  return { total: all.size, lower, upper, wait, handOver };
}
