/**
 * The drivers of the read-write lock (Curator's InterProcessReadWriteLock): readers
 * `_c_<uuid>-__READ__<seq>`, writers `_c_<uuid>-__WRIT__<seq>`, one sequence counter for both.
 * kazoo's ReadLock (`__rlock__`) and WriteLock (`__lock__`) nodes are honoured as readers and
 * writers (kazoo honours ours only with extra_lock_patterns; README, "Read-write lock").
 */
import type { ContenderNode, LockDriver, Verdict } from '../lock/lock-driver.js';

const READ_WRITE_NODE = /(__READ__|__WRIT__|__rlock__|__lock__)(\d{10})$/;

function parseReadWrite(name: string): ContenderNode | undefined {
  const match = READ_WRITE_NODE.exec(name);
  if (!match) return undefined;
  const part = match[1] as string;
  return {
    name,
    sequence: Number(match[2]),
    implementation: part === '__rlock__' || part === '__lock__' ? 'kazoo' : 'curator-protocol',
    kind: part === '__READ__' || part === '__rlock__' ? 'read' : 'write',
  };
}

/**
 * A writer holds only as the first node of all, readers included; it watches its predecessor.
 * No handoff without a new listing: a downgrading reader appears at its writer's place, ahead of
 * the writers queued behind it (the mutex's "nothing can appear ahead of us" does not hold here).
 */
export const WRITE_DRIVER: LockDriver = {
  lockName: '__WRIT__',
  parse: parseReadWrite,
  verdict(contenders: readonly ContenderNode[], ourIndex: number): Verdict {
    if (ourIndex === 0) return { holds: true };
    return { holds: false, watch: contenders[ourIndex - 1] as ContenderNode, handoff: false };
  },
};

/**
 * A reader holds when no writer comes before it, and otherwise watches the first writer (as
 * Curator 5.4 does). A reader taken while the same read-write lock holds the write lock (a
 * downgrade) takes its writer's sequence (Curator's fix of CURATOR-621): writers queued behind
 * our writer then queue behind the reader too, and the reader ignores its own writer.
 */
export function readDriver(writeSequence: () => string | undefined): LockDriver {
  return {
    lockName: '__READ__',
    parse: parseReadWrite,
    fixedSequence: writeSequence,
    verdict(contenders: readonly ContenderNode[], ourIndex: number): Verdict {
      const ours = contenders[ourIndex] as ContenderNode;
      let first: ContenderNode | undefined;
      let writers = 0;
      for (let i = 0; i < ourIndex; i += 1) {
        const contender = contenders[i] as ContenderNode;
        // Sequences are unique per parent, except a downgraded reader's copy of its writer's.
        if (contender.kind !== 'write' || contender.sequence === ours.sequence) continue;
        first ??= contender;
        writers += 1;
      }
      if (!first) return { holds: true };
      return { holds: false, watch: first, handoff: writers === 1 };
    },
  };
}
