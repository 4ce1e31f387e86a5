/** What the CLI shows: the contenders of one lock path at one moment, and how to print them. */
import type { ContenderImplementation, ContenderInfo } from '../index.js';

/** One contender as the CLI reports it (also the --json shape). */
export interface ContenderView {
  /** 1 for the holder, then the waiters in lock order. */
  position: number;
  /** Child node name under the lock path. */
  node: string;
  /** The server-assigned sequence number in the node's name. */
  sequence: number;
  /** The node's data as text: the contender's id. */
  id: string;
  /** Owner session id, 16 hex digits (as Coordinator.sessionId). */
  sessionId: string;
  /** Node creation time, ISO 8601. */
  createdAt: string;
  /** Time since the node was created, in ms (by this machine's clock). */
  ageMs: number;
  implementation: ContenderImplementation;
  holder: boolean;
}

/** The contenders of one lock path at one moment (also the --json shape). */
export interface Snapshot {
  path: string;
  connectString: string;
  /** When the contenders were read, ISO 8601. */
  observedAt: string;
  /** The first contender, or null when nobody holds the lock. */
  holder: ContenderView | null;
  contenders: ContenderView[];
}

/** What changed between two snapshots (node names). */
export interface SnapshotChange {
  joined: string[];
  left: string[];
  holderChanged: boolean;
}

export function toSnapshot(
  path: string,
  connectString: string,
  details: readonly ContenderInfo[],
  now = Date.now(),
): Snapshot {
  const contenders = details.map((c, index): ContenderView => ({
    position: index + 1,
    node: c.node,
    sequence: Number(/(\d+)$/.exec(c.node)?.[1] ?? -1),
    id: c.id,
    sessionId: c.sessionId,
    createdAt: new Date(c.createdAt).toISOString(),
    ageMs: Math.max(0, now - c.createdAt),
    implementation: c.implementation,
    holder: c.holder,
  }));
  return {
    path,
    connectString,
    observedAt: new Date(now).toISOString(),
    holder: contenders.find((c) => c.holder) ?? null,
    contenders,
  };
}

export function compareSnapshots(before: Snapshot, after: Snapshot): SnapshotChange {
  const beforeNodes = new Set(before.contenders.map((c) => c.node));
  const afterNodes = new Set(after.contenders.map((c) => c.node));
  return {
    joined: after.contenders.filter((c) => !beforeNodes.has(c.node)).map((c) => c.node),
    left: before.contenders.filter((c) => !afterNodes.has(c.node)).map((c) => c.node),
    holderChanged: before.holder?.node !== after.holder?.node,
  };
}

export function sameContenders(a: Snapshot, b: Snapshot): boolean {
  return (
    a.contenders.length === b.contenders.length &&
    a.contenders.every((c, i) => c.node === b.contenders[i]?.node && c.id === b.contenders[i]?.id)
  );
}

/** 850ms, 12.4s, 3m05s, 2h03m, 4d02h. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** Ids are arbitrary bytes: show control characters escaped, and an empty id as "". */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text === '' || /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text) : text;
}

function describeNode(snapshot: Snapshot, node: string): string {
  const contender = snapshot.contenders.find((c) => c.node === node);
  return contender ? `${printable(contender.id)} (${node})` : node;
}

/** A one-line summary and the table of contenders. */
export function formatSnapshot(snapshot: Snapshot): string {
  const { contenders, holder } = snapshot;
  const where = `${snapshot.path} on ${snapshot.connectString}`;
  if (!holder) return `${where}: no contenders (nobody holds or waits for this lock)\n`;
  const waiting = contenders.length - 1;
  const lines = [
    `${where}: held by ${printable(holder.id)} (session 0x${holder.sessionId}), ${waiting} waiting`,
    '',
  ];
  const header = ['#', 'ROLE', 'ID', 'SESSION', 'AGE', 'IMPLEMENTATION', 'NODE'];
  const rows = contenders.map((c) => [
    String(c.position),
    c.holder ? 'holder' : 'waiting',
    printable(c.id),
    `0x${c.sessionId}`,
    formatAge(c.ageMs),
    c.implementation,
    c.node,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  for (const row of [header, ...rows]) {
    lines.push(
      `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A line saying what changed, e.g. `holder: alpha -> bravo; left: alpha (...)`. */
export function formatChange(before: Snapshot, after: Snapshot, change: SnapshotChange): string {
  const parts: string[] = [];
  if (change.holderChanged) {
    const from = before.holder ? printable(before.holder.id) : 'nobody';
    const to = after.holder ? printable(after.holder.id) : 'nobody';
    parts.push(`holder: ${from} -> ${to}`);
  }
  if (change.left.length > 0)
    parts.push(`left: ${change.left.map((n) => describeNode(before, n)).join(', ')}`);
  if (change.joined.length > 0)
    parts.push(`joined: ${change.joined.map((n) => describeNode(after, n)).join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'contenders changed';
}
