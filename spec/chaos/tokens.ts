// The token oracle: a second check of a chaos run, independent of the interval timestamps' overlap test
// and of the lock's own bookkeeping. Its truth is ZooKeeper's transaction log (txnlog.ts):
// - per path, the owners' fencing tokens increase in grant order (intervals by start);
// - each token is the czxid of a node under that path whose data is the owner's id, created by one of the
//   owner process's sessions, and that node was at some moment the first contender (replaying creates,
//   deletes and session closes in zxid order).
// A grant that arrives stale (the owner was paused or stalled between the grant and the moment it could
// look at it, and its first check said "not owned") has a late start: its token is compared with the
// others but counted apart ("stale grants"), since its owner never acted on it. An inversion is a
// confirmed owner (some check said "owned") whose token is not above every earlier confirmed owner's.
// Read-write lock writers are lock holders here (on the lock's path, `__WRIT__` nodes, readers' nodes
// count in "the first"); readers and semaphore leases are shared holds: their tokens are checked
// against the log (node, id, session) but not ordered, and their nodes need not have been first.
import type { TxnRecord } from './txnlog.js';

/** What the token oracle needs of an ownership interval. */
export interface TokenedInterval {
  path: string;
  who: string;
  w: number;
  inc: number;
  n: number;
  start: number;
  token?: string | undefined;
  /** False: no check after the grant said "owned". Undefined counts as confirmed. */
  confirmed?: boolean | undefined;
  /**
   * A shared hold (a read-write lock's reader, a semaphore lease): others hold beside it, so its
   * token is not ordered against theirs and its node need not have been the first; the rest holds.
   */
  shared?: boolean | undefined;
}

export interface TokenInversion {
  path: string;
  first: string;
  second: string;
  firstToken: string;
  secondToken: string;
}

export interface TokenMismatch {
  interval: string;
  token: string;
  reason: string;
}

export interface TokenReport {
  /** False when the run has no transaction log (txns.jsonl). */
  checked: boolean;
  txns: number;
  intervals: number;
  inversions: TokenInversion[];
  mismatches: TokenMismatch[];
  /** Grants whose first check said "not owned" (never acted on). */
  staleGrants: number;
  /** Of those, grants whose token was below an earlier confirmed owner's (late, not out of order). */
  staleGrantsBehind: TokenInversion[];
}

const SEQUENCE = /(?:lock-|__lock__|__WRIT__|__READ__|lease-)(\d{10})$/;
const describe = (i: TokenedInterval): string => `${i.who} #${i.n} ${i.path}`;

interface NodeInfo {
  path: string;
  parent: string;
  seq: number;
  data: string;
  session: string;
  ephemeral: boolean;
  wasFirst: boolean;
}

/** Replays the log: every contender node by czxid, and whether it ever was the first contender. */
function replay(txns: TxnRecord[], paths: ReadonlySet<string>): Map<bigint, NodeInfo> {
  const byCzxid = new Map<bigint, NodeInfo>();
  const live = new Map<string, Map<string, NodeInfo>>(); // parent -> node path -> info
  const markFirst = (parent: string): void => {
    let first: NodeInfo | undefined;
    for (const node of live.get(parent)?.values() ?? []) if (!first || node.seq < first.seq) first = node;
    if (first) first.wasFirst = true;
  };
  for (const t of txns) {
    if (t.op === 'closeSession') {
      for (const [parent, nodes] of live) {
        let changed = false;
        for (const [p, node] of nodes) {
          if (node.ephemeral && node.session === t.session) {
            nodes.delete(p);
            changed = true;
          }
        }
        if (changed) markFirst(parent);
      }
      continue;
    }
    const cut = t.path.lastIndexOf('/');
    const parent = t.path.slice(0, cut);
    if (!paths.has(parent)) continue;
    const seq = SEQUENCE.exec(t.path.slice(cut + 1));
    if (!seq) continue;
    const nodes = live.get(parent) ?? new Map<string, NodeInfo>();
    live.set(parent, nodes);
    if (t.op === 'create') {
      const info: NodeInfo = {
        path: t.path,
        parent,
        seq: Number(seq[1]),
        data: t.data,
        session: t.session,
        ephemeral: t.ephemeral,
        wasFirst: false,
      };
      nodes.set(t.path, info);
      byCzxid.set(BigInt(`0x${t.zxid}`), info);
    } else {
      nodes.delete(t.path);
    }
    markFirst(parent);
  }
  return byCzxid;
}

/**
 * Checks the intervals' tokens. `sessions` lists the session ids (16 hex digits) each worker incarnation
 * ("w-inc") reported; an incarnation with none listed is not checked for the creating session.
 */
export function checkTokens(
  intervals: readonly TokenedInterval[],
  txns: TxnRecord[] | undefined,
  sessions: ReadonlyMap<string, ReadonlySet<string>>,
): TokenReport {
  const inversions: TokenInversion[] = [];
  const staleGrantsBehind: TokenInversion[] = [];
  const mismatches: TokenMismatch[] = [];
  const staleGrants = intervals.filter((i) => i.confirmed === false).length;
  const tokenOf = (i: TokenedInterval): bigint | undefined => {
    if (i.token === undefined || !/^\d+$/.test(i.token)) return undefined;
    return BigInt(i.token);
  };

  // Grant order: per path, by start; each token above the one before.
  const byPath = new Map<string, TokenedInterval[]>();
  for (const i of intervals) {
    const list = byPath.get(i.path) ?? [];
    list.push(i);
    byPath.set(i.path, list);
  }
  for (const [path, list] of byPath) {
    const sorted = list
      .filter((i) => !i.shared && tokenOf(i) !== undefined)
      .sort((a, b) => a.start - b.start);
    let last: TokenedInterval | undefined; // the latest confirmed owner
    for (const b of sorted) {
      if (last && tokenOf(b)! <= tokenOf(last)!) {
        const pair = {
          path,
          first: describe(last),
          second: describe(b),
          firstToken: last.token!,
          secondToken: b.token!,
        };
        (b.confirmed === false ? staleGrantsBehind : inversions).push(pair);
      }
      if (b.confirmed !== false) last = b;
    }
  }

  if (txns === undefined) {
    return {
      checked: false,
      txns: 0,
      intervals: intervals.length,
      inversions,
      mismatches,
      staleGrants,
      staleGrantsBehind,
    };
  }
  const nodes = replay(txns, new Set(byPath.keys()));
  for (const i of intervals) {
    const token = tokenOf(i);
    const mismatch = (reason: string): void => {
      mismatches.push({ interval: describe(i), token: i.token ?? '-', reason });
    };
    if (token === undefined) {
      mismatch('no fencing token');
      continue;
    }
    const node = nodes.get(token);
    if (!node) mismatch(`no contender node under ${i.path} was created at zxid ${token}`);
    else if (node.parent !== i.path) mismatch(`the node with this czxid is under ${node.parent}`);
    else if (node.data !== i.who) mismatch(`the node ${node.path} holds ${JSON.stringify(node.data)}`);
    else if (!node.ephemeral) mismatch(`the node ${node.path} is not ephemeral`);
    else if (
      (sessions.get(`${i.w}-${i.inc}`)?.size ?? 0) > 0 &&
      !sessions.get(`${i.w}-${i.inc}`)!.has(node.session)
    )
      mismatch(`the node ${node.path} was created by session ${node.session}, not by w${i.w}.${i.inc}`);
    else if (!i.shared && !node.wasFirst) mismatch(`the node ${node.path} was never the first contender`);
  }
  return {
    checked: true,
    txns: txns.length,
    intervals: intervals.length,
    inversions,
    mismatches,
    staleGrants,
    staleGrantsBehind,
  };
}
