import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from './support/test.js';
import { LeaderSelector, ZkLeaderSelectorError, type Control, type Coordinator } from '../lib/index.js';
import { CoordinatorPool, nextEvent } from './support/coordinators.js';
import { FaultProxy } from './support/fault-proxy.js';
import { killSession } from './support/kill-session.js';
import { runFixture } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

let counter = 0;
const uniquePath = (name: string): string => `/leader-spec/${name}-${process.pid}-${(counter += 1)}`;
const tmpMarker = (name: string): string => join(tmpdir(), `zk-leader-${name}-${process.pid}-${Date.now()}`);

/** Tracks concurrently running leader callbacks; any overlap is a violation. */
class OverlapDetector {
  running = 0;
  overlaps = 0;
  terms = 0;
  enter(): void {
    this.running += 1;
    this.terms += 1;
    if (this.running > 1) this.overlaps += 1;
  }
  exit(): void {
    this.running -= 1;
  }
}

/**
 * Runs one selector per coordinator with short terms, injects `fault` once they alternate, and
 * waits until leadership has resumed (5 more terms). Resolves with the number of overlapping terms.
 */
async function overlapsThrough(
  coordinators: Coordinator[],
  path: string,
  fault: () => Promise<void>,
): Promise<number> {
  const detector = new OverlapDetector();
  const selectors = coordinators.map((c) =>
    c.createLeaderSelector(path, {
      minimumWorkTimeMs: 0,
      tickMs: 200,
      leader: async (control) => {
        detector.enter();
        await control.waitUntilShouldStop(50);
        detector.exit();
      },
    }),
  );
  for (const s of selectors) s.start();
  try {
    await waitFor(() => detector.terms >= 3);
    await fault();
    const before = detector.terms;
    await waitFor(() => detector.terms >= before + 5, {
      timeoutMs: 30_000,
      message: 'leadership did not resume',
    });
  } finally {
    await Promise.all(selectors.map((s) => s.stop()));
  }
  return detector.overlaps;
}

describe('LeaderSelector', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();
  let a: Coordinator;
  let b: Coordinator;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    a = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
    b = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 });
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('two selectors alternate terms', async () => {
    const path = uniquePath('alternate');
    const leaders: string[] = [];
    let both = false;
    const make = (c: Coordinator, name: string): LeaderSelector => {
      const selector: LeaderSelector = c.createLeaderSelector(path, {
        id: name,
        minimumWorkTimeMs: 0,
        leader: async (control) => {
          leaders.push(name);
          // FIFO means: whoever is queued when a term ends leads next. Make sure the other one
          // has queued again (on a loaded machine its release and new create can be slow).
          if (both) {
            await waitFor(
              async () => control.shouldStop() || (await selector.lock.contenders()).length === 2,
            );
          }
        },
      });
      return selector;
    };
    const first = make(a, 'A');
    first.start();
    await waitFor(() => leaders.length > 0);
    const second = make(b, 'B');
    both = true;
    second.start();
    await waitFor(() => leaders.length >= 12, { timeoutMs: 10_000 });
    await Promise.all([first.stop(), second.stop()]);
    // Once both contend, FIFO order hands every term to the other one.
    const sinceBoth = leaders.slice(leaders.indexOf('B') - 1);
    for (let i = 1; i < sinceBoth.length; i += 1)
      assert.notEqual(sinceBoth[i], sinceBoth[i - 1], leaders.join(''));
  });

  it('100 selectors over 1000 terms in one process: never two callbacks at once', async () => {
    const path = uniquePath('hundred');
    const detector = new OverlapDetector();
    const selectors = Array.from({ length: 100 }, (_, i) =>
      (i % 2 === 0 ? a : b).createLeaderSelector(path, {
        minimumWorkTimeMs: 0,
        leader: async () => {
          detector.enter();
          await new Promise((resolve) => setImmediate(resolve));
          detector.exit();
        },
      }),
    );
    for (const selector of selectors) selector.start();
    await waitFor(() => detector.terms >= 1000, { timeoutMs: 60_000, intervalMs: 100 });
    await Promise.all(selectors.map((s) => s.stop()));
    assert.equal(detector.overlaps, 0);
    assert.ok(selectors.every((s) => s.hasStopped()));
  });

  it('2 processes x 20 selectors: never two leaders at once (O_EXCL marker)', async () => {
    const path = uniquePath('processes');
    const marker = tmpMarker('processes');
    await rm(marker, { force: true });
    const runs = [0, 1].map(() =>
      runFixture<{ terms: number; violations: number; overlapsInProcess: number }>(
        'spec/fixtures/selector-worker.ts',
        [zk.connectString, path, '20', '150', marker],
      ),
    );
    const results = await Promise.all(runs.map((r) => r.result));
    for (const result of results) {
      assert.ok(result.terms >= 150);
      assert.equal(result.violations, 0);
      assert.equal(result.overlapsInProcess, 0);
    }
  });

  it('start / stop / start; start while running throws SELECTOR_RUNNING', async () => {
    const path = uniquePath('restart');
    let terms = 0;
    const selector = a.createLeaderSelector(path, {
      minimumWorkTimeMs: 0,
      leader: async (control) => {
        terms += 1;
        await control.waitUntilShouldStop(60_000);
      },
    });
    selector.start();
    assert.throws(
      () => selector.start(),
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.code === 'SELECTOR_RUNNING',
    );
    await waitFor(() => selector.isWorking());
    const stopping = selector.stop();
    assert.throws(
      () => selector.start(),
      (error: unknown) => error instanceof ZkLeaderSelectorError && error.code === 'SELECTOR_RUNNING',
    );
    await stopping;
    assert.equal(selector.hasStopped(), true);
    assert.equal(selector.isWorking(), false);
    selector.start();
    await waitFor(() => terms === 2 && selector.isLeader());
    await selector.stop();
    assert.equal(selector.state, 'stopped');
  });

  it('yield from inside workAsyncUntilShouldStop 5 times: 5 starts and 5 stops', async () => {
    let starts = 0;
    let stops = 0;
    const reasons: string[] = [];
    const selector = a.createLeaderSelector(uniquePath('yield'), {
      minimumWorkTimeMs: 0,
      workIterationsUntilStop: 5,
      leader: (control) =>
        control.workAsyncUntilShouldStop(
          () => {
            starts += 1;
            setImmediate(() => control.yield());
          },
          () => {
            stops += 1;
          },
        ),
    });
    selector.on('leadershipLost', ({ reason }) => reasons.push(reason));
    const stopped = nextEvent(selector, 'stopped');
    selector.start();
    await stopped;
    assert.equal(starts, 5);
    assert.equal(stops, 5);
    assert.deepEqual(reasons, ['yield', 'yield', 'yield', 'yield', 'yield']);
  });

  it('workAsyncUntilShouldStop runs stop even when start throws', async () => {
    let stopped = false;
    let caught: unknown;
    const selector = a.createLeaderSelector(uniquePath('start-throws'), {
      workIterationsUntilStop: 1,
      leader: async (control) => {
        try {
          await control.workAsyncUntilShouldStop(
            () => {
              throw new Error('start failed');
            },
            () => {
              stopped = true;
            },
          );
        } catch (error) {
          caught = error;
        }
      },
    });
    const done = nextEvent(selector, 'stopped');
    selector.start();
    await done;
    assert.equal(stopped, true);
    assert.match(String(caught), /start failed/);
  });

  it('a throwing callback: error event, lock released, and the selector leads again', async () => {
    const path = uniquePath('throws');
    let terms = 0;
    const errors: unknown[] = [];
    const selector = a.createLeaderSelector(path, {
      minimumWorkTimeMs: 0,
      errorBackoffMs: 50,
      leader: () => {
        terms += 1;
        if (terms === 1) throw new Error('boom');
      },
    });
    selector.on('error', (error) => errors.push(error));
    selector.start();
    await waitFor(() => terms >= 3, { timeoutMs: 10_000 });
    await selector.stop();
    assert.match(String(errors[0]), /boom/);
    assert.equal(errors.length, 1);
  });

  it('stop() while contending resolves within one tick; stop() while leading waits for the callback', async () => {
    const path = uniquePath('stop');
    let callbackReturned = 0;
    const leader = a.createLeaderSelector(path, {
      tickMs: 200,
      leader: async (control) => {
        await control.waitUntilShouldStop(60_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
        callbackReturned = Date.now();
      },
    });
    leader.start();
    await waitFor(() => leader.isLeader());
    // A tick of 1 s: the claim is "within one tick", and a loaded CI machine can take a few
    // hundred ms to sync the delete of the contender's node to disk.
    const tickMs = 1000;
    const contender = b.createLeaderSelector(path, { tickMs, leader: () => undefined });
    contender.start();
    await waitFor(async () => (await contender.lock.contenders()).length === 2);
    const started = Date.now();
    await contender.stop();
    assert.ok(Date.now() - started < tickMs, `stop while contending took ${Date.now() - started} ms`);
    await leader.stop();
    assert.ok(
      callbackReturned > 0 && callbackReturned <= Date.now(),
      'stop resolved after the callback returned',
    );
    assert.equal(leader.hasStopped(), true);
  });

  it('stop({ timeoutMs }) rejects with STOP_TIMEOUT when the callback ignores shouldStop, and stops later', async () => {
    let letGo: () => void = () => undefined;
    const stubborn = new Promise<void>((resolve) => (letGo = resolve));
    const selector = a.createLeaderSelector(uniquePath('stubborn'), { leader: () => stubborn });
    selector.start();
    await waitFor(() => selector.isWorking());
    await assert.rejects(selector.stop({ timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof ZkLeaderSelectorError);
      assert.equal(error.code, 'STOP_TIMEOUT');
      return true;
    });
    assert.equal(selector.hasStopped(), false);
    assert.equal(selector.control?.shouldStop(), true, 'the callback was asked to stop');
    letGo();
    assert.equal(await selector.waitUntilStopped(5000), true);
    assert.equal(selector.isWorking(), false);
  });

  for (const change of ['deleted', 'rewritten'] as const) {
    it(`leader node ${change} by another client: shouldStop within tickMs`, async () => {
      const path = uniquePath(change);
      let control: Control | undefined;
      const selector = a.createLeaderSelector(path, {
        tickMs: 300,
        leader: async (c) => {
          control = c;
          await c.waitUntilShouldStop(60_000);
        },
      });
      const lost = nextEvent<{ reason: string }>(selector, 'leadershipLost');
      selector.start();
      await waitFor(() => control !== undefined);
      const node =
        selector.lock.nodePath ??
        (await b.session!.getChildren(path, { timeoutMs: 2000 })).map((n) => `${path}/${n}`)[0]!;
      const changedAt = Date.now();
      if (change === 'deleted') await b.session!.remove(node, -1, { timeoutMs: 2000 });
      else await b.session!.setData(node, Buffer.from('someone else'), -1, { timeoutMs: 2000 });
      await waitFor(() => control?.signal.aborted, {
        timeoutMs: 300,
        message: 'no shouldStop within tickMs',
      });
      assert.ok(Date.now() - changedAt <= 300);
      assert.equal(control?.shouldStop(), true);
      assert.equal((await lost).reason, 'nodeChanged');
      await selector.stop();
    });
  }

  it('silent partition of the leader: its signal aborts before the other contender starts, within S', async () => {
    const S = 3000;
    const proxy = await FaultProxy.start(zk.members[0]!.connectString);
    try {
      const partitioned = await pool.start({ connectString: proxy.connectString, sessionTimeoutMs: S });
      const path = uniquePath('partition');
      let abortedAt = 0;
      let frozenAt = 0;
      const first = partitioned.createLeaderSelector(path, {
        tickMs: 500,
        leader: async (control) => {
          control.signal.addEventListener('abort', () => (abortedAt = Date.now()));
          await control.waitUntilShouldStop(60_000);
        },
      });
      first.start();
      await waitFor(() => first.isLeader());
      let secondStartedAt = 0;
      const second = b.createLeaderSelector(path, {
        tickMs: 500,
        leader: async (control) => {
          secondStartedAt ||= Date.now();
          await control.waitUntilShouldStop(60_000);
        },
      });
      second.start();
      await waitFor(async () => (await second.lock.contenders()).length === 2);
      frozenAt = Date.now();
      proxy.freeze();
      await waitFor(() => secondStartedAt > 0, {
        timeoutMs: 3 * S,
        message: 'the other contender never led',
      });
      assert.ok(abortedAt > 0, 'the partitioned leader was told to stop');
      assert.ok(
        abortedAt < secondStartedAt,
        `old leader aborted at ${abortedAt}, new leader started at ${secondStartedAt}`,
      );
      const detection = abortedAt - frozenAt;
      assert.ok(detection < S, `detection ${detection} ms >= S`);
      process.stdout.write(
        `# partition: leader aborted after ${detection} ms (${(detection / S).toFixed(2)} S); ` +
          `new leader ${secondStartedAt - abortedAt} ms later (${secondStartedAt - frozenAt} ms after the freeze)\n`,
      );
      proxy.restore();
      await Promise.all([first.stop(), second.stop()]);
    } finally {
      proxy.restore();
      await proxy.close();
    }
  });

  it("'strict': the leader session is closed by another client: its signal aborts before the other contender starts", async () => {
    // A session ended early by someone holding its password is what 'strict' is for: under
    // 'lease' the leader learns it only when it reconnects (README, "Suspension is not loss").
    const victim = await pool.start({
      connectString: zk.connectString,
      sessionTimeoutMs: 6000,
      connectionLossPolicy: 'strict',
    });
    const path = uniquePath('expired');
    let abortedAt = 0;
    let reason: unknown;
    const first = victim.createLeaderSelector(path, {
      leader: async (control) => {
        control.signal.addEventListener('abort', () => {
          abortedAt = performance.now();
          reason = control.signal.reason;
        });
        await control.waitUntilShouldStop(60_000);
      },
    });
    first.start();
    await waitFor(() => first.isLeader());
    let secondStartedAt = 0;
    const second = b.createLeaderSelector(path, {
      leader: async (control) => {
        secondStartedAt ||= performance.now();
        await control.waitUntilShouldStop(60_000);
      },
    });
    second.start();
    await waitFor(async () => (await second.lock.contenders()).length === 2);
    const lost = nextEvent(victim, 'lost');
    await killSession(zk.connectString, victim.session!);
    await waitFor(() => secondStartedAt > 0, { timeoutMs: 10_000, message: 'the other contender never led' });
    assert.ok(
      abortedAt > 0 && abortedAt < secondStartedAt,
      `aborted ${abortedAt}, rival started ${secondStartedAt}`,
    );
    assert.ok(['connectionLost', 'sessionExpired'].includes(String(reason)), String(reason));
    await lost;
    await Promise.all([first.stop(), second.stop()]);
  });

  it('kill -9 of a leader process: another leads within S + tickMs', async () => {
    const S = 2000;
    const tickMs = 200;
    const path = uniquePath('kill');
    const marker = tmpMarker('kill');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'spec/fixtures/selector-worker.ts',
        zk.connectString,
        path,
        '1',
        '0',
        marker,
        String(S),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('"leading"')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
      });
      let ledAt = 0;
      const survivor = a.createLeaderSelector(path, {
        tickMs,
        leader: async (control) => {
          ledAt ||= Date.now();
          await control.waitUntilShouldStop(60_000);
        },
      });
      survivor.start();
      await waitFor(async () => (await survivor.lock.contenders()).length === 2);
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await waitFor(() => ledAt > 0, { timeoutMs: S + tickMs + 2000, message: 'no new leader' });
      const gap = ledAt - killedAt;
      process.stdout.write(`# kill -9: new leader after ${gap} ms (S = ${S} ms)\n`);
      assert.ok(gap <= S + tickMs + 400, `took ${gap} ms`); // + tick granularity of the server's session expiry
      await survivor.stop();
    } finally {
      child.kill('SIGKILL');
      await rm(marker, { force: true });
    }
  });

  it('ZooKeeper restart: leadership resumes, never two leaders', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const path = uniquePath('zk-restart');
    const overlaps = await overlapsThrough([a, b], path, () => zk.restart());
    assert.equal(overlaps, 0);
  });
});

describe('LeaderSelector on an ensemble', () => {
  let zk: ZooKeeperCluster;
  const pool = new CoordinatorPool();

  before(async () => {
    zk = await ZooKeeperCluster.startEnsemble(3);
  });
  after(async () => {
    await pool.closeAll();
    await zk?.close();
  });

  it('losing an ensemble member (the leader first): leadership resumes, never two leaders', async (t) => {
    if (zk.external) return t.skip('external ZooKeeper');
    const coordinators = await Promise.all(
      [0, 1, 2].map(() => pool.start({ connectString: zk.connectString, sessionTimeoutMs: 6000 })),
    );
    const path = uniquePath('ensemble');
    const zkLeader = (await zk.leaderId()) ?? 1;
    const overlaps = await overlapsThrough(coordinators, path, () => zk.stop(zkLeader));
    await zk.start(zkLeader);
    assert.equal(overlaps, 0);
  });
});
