// Looking at ZooKeeper after a chaos run: the lock nodes left (orphans), the watches left, and the
// members' transaction logs (the token oracle's truth, written to <dir>/txns.jsonl).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ZooKeeperError } from '../../lib/errors.js';
import { ZK_CODES } from '../../lib/zk/native.js';
import { ZkSession } from '../../lib/zk/zk-session.js';
import type { ZooKeeperCluster } from '../support/zookeeper.js';
import type { MemberWatches, OrphanNode } from './records.js';
import { readTxnLogs } from './txnlog.js';
import { within } from './workers.js';

async function withSession<T>(connectString: string, fn: (session: ZkSession) => Promise<T>): Promise<T> {
  const session = new ZkSession({ connectString, sessionTimeoutMs: 10_000, auth: [] });
  try {
    const connected = new Promise<void>((resolve) => session.once('connected', () => resolve()));
    session.connect();
    const ok = await within(
      connected.then(() => true),
      20_000,
      false,
    );
    if (!ok) throw new Error(`inspection: no session with ${connectString} within 20 s`);
    return await fn(session);
  } finally {
    await session.end('closed', true);
  }
}

export async function listLockNodes(
  connectString: string,
  paths: string[],
  liveSessions: Map<string, number>,
): Promise<OrphanNode[]> {
  return withSession(connectString, async (session) => {
    const nodes: OrphanNode[] = [];
    for (const path of paths) {
      let children: string[];
      try {
        children = await session.getChildren(path, { timeoutMs: 10_000 });
      } catch (error) {
        if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) continue;
        throw error;
      }
      for (const node of children.sort()) {
        try {
          const { data, stat } = await session.getData(`${path}/${node}`, { timeoutMs: 10_000 });
          const owner = stat.ephemeralOwner.toString('hex');
          nodes.push({ path, node, owner, data: data.toString('utf8'), liveWorker: liveSessions.get(owner) });
        } catch (error) {
          if (error instanceof ZooKeeperError && error.zkCode === ZK_CODES.NO_NODE) continue;
          throw error;
        }
      }
    }
    return nodes;
  });
}

export async function collectWatches(cluster: ZooKeeperCluster): Promise<MemberWatches[]> {
  return Promise.all(
    cluster.members.map(async (m): Promise<MemberWatches> => {
      try {
        const mntr = await cluster.fourLetterWord(m.id, 'mntr');
        const wchc = await cluster.fourLetterWord(m.id, 'wchc');
        const watchCount = /zk_watch_count\s+(\d+)/.exec(mntr)?.[1];
        const lines = wchc.split('\n');
        return {
          member: m.id,
          watchCount: watchCount === undefined ? undefined : Number(watchCount),
          wchcSessions: lines.filter((l) => /^0x[0-9a-f]+/i.test(l.trim())).length,
          wchcPaths: lines.filter((l) => /^\s+\//.test(l)).length,
        };
      } catch (error) {
        return {
          member: m.id,
          watchCount: undefined,
          wchcSessions: undefined,
          wchcPaths: undefined,
          error: (error as Error).message,
        };
      }
    }),
  );
}

/** The file the token oracle reads: one TxnRecord per line. */
export const TXN_FILE = 'txns.jsonl';

/** Reads every member's transaction log (changes under `prefix`) into `<dir>/txns.jsonl`; returns the count. */
export function collectTxnLogs(cluster: ZooKeeperCluster, prefix: string, dir: string): number {
  const dataDirs = cluster.members.map((m) => join(dirname(cluster.logFile(m.id)), 'data'));
  const txns = readTxnLogs(dataDirs, prefix);
  writeFileSync(join(dir, TXN_FILE), txns.map((t) => `${JSON.stringify(t)}\n`).join(''));
  return txns.length;
}
