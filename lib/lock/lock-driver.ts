/**
 * A recipe's rules for the one create / sort / watch loop (lock-internals.ts), after Curator's
 * LockInternalsDriver: how its nodes are named, which children take part and in what order,
 * whether our node holds, and which node a waiter watches. A new recipe is a new driver.
 */
import { randomUUID } from 'node:crypto';

/** Which client library created a contender node. */
export type ContenderImplementation = 'curator-protocol' | 'kazoo';

/** A child of a lock path that takes part in a recipe, parsed. */
export interface ContenderNode {
  /** Child name, e.g. `_c_1b4e...-lock-0000000003`. */
  name: string;
  /** Sequence number assigned by the server (shared by every node of the parent). */
  sequence: number;
  /** Which client library's naming it follows. */
  implementation: ContenderImplementation;
  /** What the node stands for in its recipe: 'lock', 'read', 'write', 'latch'. */
  kind: string;
}

/** Whether our node holds; if not, the node to watch and whether its deletion alone makes us hold. */
export type Verdict =
  | {
      /** Our node holds. */
      holds: true;
    }
  | {
      holds: false;
      /** The node whose deletion or change we wait for. */
      watch: ContenderNode;
      /**
       * True when the watched node's deletion makes us hold without listing again: sequence
       * numbers only grow, so nothing can appear ahead of us (Curator lists again; this saves a
       * round trip per handoff).
       */
      handoff: boolean;
    }
  /** Wait for any change of the children (the semaphore: until few enough leases are out). */
  | {
      holds: false;
      /** Wait for a change of the path's children instead of one node. */
      watchChildren: true;
    };

/** A recipe's rules for the shared lock loop (Curator's LockInternalsDriver). Advanced: the built-in recipes supply theirs. */
export interface LockDriver {
  /** Name part between the protected prefix and the sequence, as Curator names it (`lock-`, `latch-`...). */
  readonly lockName: string;
  /** The child as a contender of this recipe; undefined for children that take no part. */
  parse(name: string): ContenderNode | undefined;
  /**
   * The verdict for our node at `ourIndex` of the sorted contenders (ourIndex >= 0);
   * `childCount` counts every child of the path, contender or not.
   */
  verdict(contenders: readonly ContenderNode[], ourIndex: number, childCount: number): Verdict;
  /**
   * A sequence for the next node instead of a server-assigned one (created EPHEMERAL with it):
   * a downgrading reader takes its write node's, as Curator does since CURATOR-621.
   */
  fixedSequence?(): string | undefined;
}

/**
 * Curator's StandardLockInternalsDriver: the first `maxLeases` contenders hold; a waiter watches
 * the contender `maxLeases` places ahead of it. `pattern` matches the name part and the sequence
 * (group 1: the name part, group 2: the 10 digits); `kazooName` marks kazoo's nodes.
 */
export class StandardLockDriver implements LockDriver {
  constructor(
    readonly lockName: string,
    private readonly pattern: RegExp,
    private readonly kind: string,
    private readonly maxLeases = 1,
    private readonly kazooName?: string,
  ) {}

  parse(name: string): ContenderNode | undefined {
    const match = this.pattern.exec(name);
    if (!match) return undefined;
    return {
      name,
      sequence: Number(match[2]),
      implementation: match[1] === this.kazooName ? 'kazoo' : 'curator-protocol',
      kind: this.kind,
    };
  }

  verdict(contenders: readonly ContenderNode[], ourIndex: number): Verdict {
    if (ourIndex < this.maxLeases) return { holds: true };
    return {
      holds: false,
      watch: contenders[ourIndex - this.maxLeases] as ContenderNode,
      handoff: this.maxLeases === 1 && ourIndex === 1,
    };
  }
}

/** The mutex: Curator's `_c_<uuid>-lock-<seq>` and kazoo's `<uuid>__lock__<seq>`. */
export const MUTEX_DRIVER: LockDriver = new StandardLockDriver(
  'lock-',
  /(lock-|__lock__)(\d{10})$/,
  'lock',
  1,
  '__lock__',
);

/** Contenders among `children` in lock order (by sequence). Other children are ignored. */
export function sortContenders(driver: LockDriver, children: readonly string[]): ContenderNode[] {
  const contenders: ContenderNode[] = [];
  for (const child of children) {
    const parsed = driver.parse(child);
    if (parsed) contenders.push(parsed);
  }
  return contenders.sort(
    (a, b) =>
      a.sequence - b.sequence ||
      // Equal sequences: a downgrading reader shares its writer's, and sorts after it.
      (a.kind === b.kind ? (a.name < b.name ? -1 : 1) : a.kind === 'write' ? -1 : 1),
  );
}

/** Whether our node holds among `children` (false when it is not there). */
export function holdsAmong(driver: LockDriver, children: readonly string[], ourName: string): boolean {
  const contenders = sortContenders(driver, children);
  const index = contenders.findIndex((c) => c.name === ourName);
  return index !== -1 && driver.verdict(contenders, index, children.length).holds;
}

/** The protected-mode prefix Curator uses: the server appends the 10-digit sequence. */
export function newNodePrefix(driver: LockDriver): string {
  return `_c_${randomUUID()}-${driver.lockName}`;
}

/** Our own node among children, found by the protected-mode prefix (after a lost create). */
export function findByPrefix(
  driver: LockDriver,
  children: readonly string[],
  prefix: string,
): string | undefined {
  return children.find((child) => child.startsWith(prefix) && driver.parse(child) !== undefined);
}
