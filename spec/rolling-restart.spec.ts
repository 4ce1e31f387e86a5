// A ZooKeeper rolling restart (issue 11): each member of a 3-member ensemble killed with kill -9
// and brought back in turn, quorum kept throughout, one leader and one waiting contender.
// 'lease' (the default): the leader's term goes on with the same fencing token and the waiter
// never leads. 'strict': terms end on the suspensions, and there are never two leaders.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const S = 8000;
let counter = 0;
const uniquePath = (name: string): string => `/rolling-spec/${name}-${process.pid}-${(counter += 1)}`;

interface Outcome {
  /** Terms per contender (0: the leader at the start, 1: the waiter). */
  terms: number[][];
  /** Terms that ended (leadershipLost) during the restarts. */
  ended: number;
  tokens: bigint[];
  overlaps: number;
  /** Suspensions of the first leader's session. */
  suspensions: number;
}

async function rollingRestart(
  zk: ZooKeeperCluster,
  coordinators: Coordinator[],
  policy: 'lease' | 'strict',
): Promise<Outcome> {
  const path = uniquePath(policy);
  const outcome: Outcome = { terms: [[], []], ended: 0, tokens: [], overlaps: 0, suspensions: 0 };
  let running = 0;
  const selectors = coordinators.map((c, index) =>
    c.createLeaderSelector(path, {
      connectionLossPolicy: policy,
      minimumWorkTimeMs: 0,
      tickMs: 500,
      leader: async (control) => {
        running += 1;
        if (running > 1) outcome.overlaps += 1;
        outcome.terms[index]!.push(control.term);
        outcome.tokens.push(control.fencingToken);
        await control.waitUntilShouldStop(120_000);
        running -= 1;
      },
    }),
  );
  selectors[0]!.start();
  await waitFor(() => selectors[0]!.isLeader());
  selectors[1]!.start();
  await waitFor(async () => (await selectors[1]!.lock.contenders()).length === 2);
  let suspensions = 0;
  coordinators[0]!.on('suspended', () => (suspensions += 1));
  let restarting = true;
  for (const s of selectors) s.on('leadershipLost', () => (outcome.ended += restarting ? 1 : 0));
  for (const member of zk.members) {
    await zk.stop(member.id);
    await zk.start(member.id);
    // Both sessions answer again before the next member goes.
    await waitFor(() => coordinators.every((c) => c.state === 'connected'), { timeoutMs: S });
    await Promise.all(coordinators.map((c) => c.ensurePath('/rolling-spec', undefined, { timeoutMs: S })));
  }
  // Leadership is settled (under 'strict' a new term may be starting).
  await waitFor(() => selectors.some((s) => s.isLeader()), { timeoutMs: 2 * S });
  restarting = false;
  outcome.suspensions = suspensions;
  await Promise.all(selectors.map((s) => s.stop()));
  return outcome;
}

describe('ZooKeeper rolling restart (3-member ensemble)', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();

  before(async () => {
    zk = await ZooKeeperCluster.startEnsemble(3);
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it("'lease': kill -9 of each member in turn ends no term, keeps the fencing token, and the waiter never leads", async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const coordinators = await Promise.all(
      [0, 1].map(() => pool.start({ connectString: zk.connectString, sessionTimeoutMs: S })),
    );
    const sessions = coordinators.map((c) => c.sessionId);
    const outcome = await rollingRestart(zk, coordinators, 'lease');
    assert.deepEqual(
      coordinators.map((c) => c.sessionId),
      sessions,
      'the sessions lived on',
    );
    assert.ok(outcome.suspensions > 0, "the leader's connection was never cut");
    assert.equal(outcome.ended, 0, 'a term ended during the rolling restart');
    assert.deepEqual(outcome.terms, [[1], []], 'one term of the first leader, none of the waiter');
    assert.equal(new Set(outcome.tokens).size, 1, 'one fencing token throughout');
    assert.equal(outcome.overlaps, 0);
    process.stdout.write(`# rolling restart ('lease'): ${outcome.ended} terms ended\n`);
  });

  it("'strict': the suspensions end terms, and there are never two leaders", async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const coordinators = await Promise.all(
      [0, 1].map(() => pool.start({ connectString: zk.connectString, sessionTimeoutMs: S })),
    );
    const outcome = await rollingRestart(zk, coordinators, 'strict');
    assert.ok(outcome.ended > 0, 'no term ended under strict');
    assert.equal(outcome.overlaps, 0, 'two leaders at once');
    assert.equal(new Set(outcome.tokens).size, outcome.tokens.length, 'a new fencing token per term');
    process.stdout.write(
      `# rolling restart ('strict'): ${outcome.ended} terms ended, ` +
        `${outcome.terms[0]!.length + outcome.terms[1]!.length} terms in all\n`,
    );
  });
});
