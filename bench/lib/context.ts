// What every figure gets from bench/run.ts, and what it returns.
import type { Availability, PeerImpl } from '../../spec/support/peers/index.js';
import type { ZooKeeperCluster } from '../../spec/support/zookeeper.js';

export interface BenchContext {
  readonly zk: ZooKeeperCluster;
  /** Connect string of every member. */
  readonly connect: string;
  /** One member (the first): figures comparing implementations all talk to the same server. */
  readonly direct: string;
  /** host:port of every member, for four-letter words. */
  readonly members: readonly string[];
  readonly quick: boolean;
  readonly ensemble: boolean;
  /** Unique per run: every figure works under `/bench/<runId>/...`. */
  readonly runId: string;
  readonly curator: Availability;
  readonly kazoo: Availability;
  /** Connect string of a delay proxy (1 ms each way) in front of `direct`, started on first use. */
  delayedConnect(): Promise<string>;
  log(line: string): void;
}

export interface Table {
  caption?: string;
  columns: string[];
  rows: string[][];
}

export interface FigureResult {
  name: string;
  title: string;
  tables: Table[];
  notes: string[];
  data: unknown;
  seconds?: number;
  /** 1-minute load average when the figure ended. */
  loadAverage?: number;
  error?: string;
}

export type Figure = (ctx: BenchContext) => Promise<Omit<FigureResult, 'name' | 'seconds' | 'loadAverage'>>;

export function textTable(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [
    ...(table.caption ? [table.caption] : []),
    line(table.columns),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...table.rows.map(line),
  ].join('\n');
}

export function markdownTable(table: Table): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    ...(table.caption ? [`*${table.caption}*`, ''] : []),
    `| ${table.columns.map(escape).join(' | ')} |`,
    `| ${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

/** The peers this run can compare with, and a note for each one it cannot. */
export function availablePeers(ctx: BenchContext): { peers: PeerImpl[]; notes: string[] } {
  const peers: PeerImpl[] = [];
  const notes: string[] = [];
  if (ctx.curator.ok) peers.push('curator');
  else notes.push(`Curator skipped: ${ctx.curator.reason}`);
  if (ctx.kazoo.ok) peers.push('kazoo');
  else notes.push(`kazoo skipped: ${ctx.kazoo.reason}`);
  return { peers, notes };
}

/** The two networks figures compare: loopback, and the 1 ms-each-way delay proxy. */
export async function networkSettings(ctx: BenchContext): Promise<Array<{ name: string; connect: string }>> {
  return [
    { name: 'loopback', connect: ctx.direct },
    { name: '2 ms RTT', connect: await ctx.delayedConnect() },
  ];
}
