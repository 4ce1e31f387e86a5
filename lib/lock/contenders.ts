/**
 * How lock nodes are named and ordered: Apache Curator's StandardLockInternalsDriver, also
 * reading kazoo's nodes. Curator: `_c_<uuid>-lock-<seq>`; kazoo: `<uuid>__lock__<seq>`.
 */
import { randomUUID } from 'node:crypto';

/** Which client library created a contender node. */
export type ContenderImplementation = 'curator-protocol' | 'kazoo';

export interface ContenderNode {
  /** Child name, e.g. `_c_1b4e...-lock-0000000003`. */
  name: string;
  /** Sequence number assigned by the server. */
  sequence: number;
  implementation: ContenderImplementation;
}

const CONTENDER = /(lock-|__lock__)(\d{10})$/;

export function parseContender(name: string): ContenderNode | undefined {
  const match = CONTENDER.exec(name);
  if (!match) return undefined;
  return {
    name,
    sequence: Number(match[2]),
    implementation: match[1] === '__lock__' ? 'kazoo' : 'curator-protocol',
  };
}

/** Contenders among `children`, first (the holder) first. Other children are ignored. */
export function sortContenders(children: readonly string[]): ContenderNode[] {
  const contenders: ContenderNode[] = [];
  for (const child of children) {
    const parsed = parseContender(child);
    if (parsed) contenders.push(parsed);
  }
  return contenders.sort((a, b) => a.sequence - b.sequence || (a.name < b.name ? -1 : 1));
}

/** The protected-mode prefix Curator uses: the server appends the 10-digit sequence. */
export function newNodePrefix(): string {
  return `_c_${randomUUID()}-lock-`;
}

/** Our own node among children, found by the protected-mode prefix (after a lost create). */
export function findByPrefix(children: readonly string[], prefix: string): string | undefined {
  return children.find((child) => child.startsWith(prefix) && parseContender(child) !== undefined);
}
