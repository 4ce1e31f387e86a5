// Runs every example in examples/ as a child process, the way the README tells a newcomer to
// (`node --import tsx examples/X.ts` with ZOOKEEPER_CONNECT_STRING), and checks what they print and
// how they exit. The demo runs once with a stand-in `docker` whose `compose up` fails, so it walks its
// Docker path and then starts a ZooKeeper of its own (the local-install path), unless the whole suite
// runs against an external server (ZOOKEEPER_CONNECT_STRING), which the demo then uses.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from './support/test.js';
import type { Coordinator, SharedReentrantLock } from '../lib/index.js';
import { CoordinatorPool } from './support/coordinators.js';
import { killAllScripts, ScriptProcess } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('examples/', () => {
  let zk: ZooKeeperCluster;
  let env: NodeJS.ProcessEnv;
  const pool = new CoordinatorPool();
  let observer: Coordinator;
  const path = (name: string): string => `/examples-spec/${name}-${process.pid}`;
  const locks = new Map<string, SharedReentrantLock>();
  /** The observer's view of a lock path (one lock instance per path). */
  const lockAt = (lockPath: string): SharedReentrantLock => {
    let lock = locks.get(lockPath);
    if (!lock) locks.set(lockPath, (lock = observer.createLock(lockPath)));
    return lock;
  };

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    env = { ...process.env, ZOOKEEPER_CONNECT_STRING: zk.connectString };
    delete env.ZOOKEEPER_SESSION_TIMEOUT_MS;
    delete env.ZOOKEEPER_DISABLED;
    observer = await pool.start({ connectString: zk.connectString, sessionTimeoutMs: 10_000 });
  });
  after(async () => {
    killAllScripts();
    await pool.closeAll();
    await zk?.close();
  });

  it('lock.ts: two workers take turns; fencing tokens increase; no overlap', async () => {
    const run = new ScriptProcess('examples/lock.ts', ['--path', path('lock')], env);
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(
      stdout,
      /done: 4 reports written, 0 overlapping critical sections, fencing tokens strictly increasing/,
    );
    for (const worker of ['worker-a', 'worker-b']) {
      assert.equal(
        stdout.match(new RegExp(`\\[${worker}\\] acquired .*: fencing token \\d+`, 'g'))?.length,
        2,
        stdout,
      );
      assert.equal(stdout.match(new RegExp(`\\[${worker}\\] wrote the report`, 'g'))?.length, 2, stdout);
    }
    assert.deepEqual(await lockAt(path('lock')).contenderDetails(), []);
  });

  it('read-write-lock.ts: readers share, the writer is alone, the downgrade reads its own update', async () => {
    const run = new ScriptProcess('examples/read-write-lock.ts', ['--path', path('rw')], env);
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    const done = /done: catalog v(\d+), peak readers at once: (\d+), violations: (\d+)/.exec(stdout);
    assert.ok(done, stdout);
    assert.equal(done[1], '4', 'three writes and the downgraded one');
    assert.ok(Number(done[2]) > 1, `readers never shared the lock: ${stdout}`);
    assert.equal(done[3], '0');
    assert.match(stdout, /\[writer\] downgraded: reading my own v4/);
    assert.equal(stdout.match(/\[reader-\d\] reading catalog/g)?.length, 9, stdout);
    assert.deepEqual(await observer.createReadWriteLock(path('rw')).readLock.contenderDetails(), []);
  });

  it('semaphore.ts: six jobs over two processes, never more than two at once', async () => {
    const run = new ScriptProcess('examples/semaphore.ts', ['--path', path('semaphore')], env);
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.equal(stdout.match(/job \d: committed/g)?.length, 6, stdout);
    const done = /done: 6 jobs, at most (\d+) at once \(maxLeases 2\)/.exec(stdout);
    assert.ok(done, stdout);
    assert.equal(done[1], '2', 'the jobs ran two at a time, never three');
    assert.deepEqual(await observer.createSemaphore(path('semaphore'), { maxLeases: 2 }).participants(), []);
  });

  it('leader.ts: cleans while leading and stops by itself after --seconds', async () => {
    const run = new ScriptProcess(
      'examples/leader.ts',
      ['--path', path('leader'), '--seconds', '2', '--interval-ms', '200'],
      env,
    );
    const { code, stdout, ms } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(stdout, /leading: term 1, fencing token \d+/);
    assert.ok((stdout.match(/cleaning #\d+ \(term 1/g)?.length ?? 0) >= 3, stdout);
    assert.match(stdout, /2 s passed: stopping/);
    assert.match(stdout, /term 1 over \(stop\)/);
    assert.match(stdout, /stopped after \d+ cleanings/);
    assert.ok(ms < 15_000, `took ${ms} ms`);
  });

  it('leader.ts: --terms with --term-seconds yields and stops after the terms', async () => {
    const run = new ScriptProcess(
      'examples/leader.ts',
      ['--path', path('leader-terms'), '--terms', '2', '--term-seconds', '1', '--interval-ms', '200'],
      env,
    );
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(stdout, /term 1 over \(yield\)/);
    assert.match(stdout, /term 2 over \(yield\)/);
    assert.doesNotMatch(stdout, /leading: term 3/);
    assert.match(stdout, /2 terms done: stopping/);
  });

  it('leader.ts: two processes, one leads; SIGTERM to the leader hands over', async () => {
    const first = new ScriptProcess(
      'examples/leader.ts',
      ['--path', path('leader-two'), '--id', 'first'],
      env,
    );
    await first.waitForOutput(/\[first\] leading: term 1/);
    const second = new ScriptProcess(
      'examples/leader.ts',
      ['--path', path('leader-two'), '--id', 'second'],
      env,
    );
    try {
      await waitFor(async () => (await lockAt(path('leader-two')).contenders()).length === 2, {
        timeoutMs: 30_000, // a second tsx process starting on a loaded machine
      });
      assert.doesNotMatch(second.stdout, /leading/);
      first.child.kill('SIGTERM');
      assert.equal((await first.finished(15_000)).code, 0, first.output);
      await second.waitForOutput(/\[second\] leading: term 1/, 20_000);
      second.child.kill('SIGTERM');
      assert.equal((await second.finished(15_000)).code, 0, second.output);
    } finally {
      first.child.kill('SIGKILL');
      second.child.kill('SIGKILL');
    }
  });

  it('graceful-shutdown.ts: SIGTERM stops it quickly and cleanly; the next contender leads at once', async () => {
    const leader = new ScriptProcess(
      'examples/graceful-shutdown.ts',
      ['--path', path('graceful'), '--step-ms', '100'],
      env,
    );
    let next: ScriptProcess | undefined;
    try {
      await leader.waitForOutput(/leading \(term 1/);
      // Started once the first one leads, so it is the one that waits.
      next = new ScriptProcess(
        'examples/graceful-shutdown.ts',
        ['--path', path('graceful'), '--step-ms', '100'],
        env,
      );
      await next.waitForOutput(/ready: contending/);
      await waitFor(async () => (await lockAt(path('graceful')).contenders()).length === 2, {
        timeoutMs: 30_000,
      });
      const signalled = Date.now();
      leader.child.kill('SIGTERM');
      const { code, stdout } = await leader.finished(15_000);
      const exitMs = Date.now() - signalled;
      assert.equal(code, 0, leader.output);
      assert.ok(exitMs < 3_000, `exit took ${exitMs} ms after SIGTERM`);
      assert.match(stdout, /SIGTERM: stopping the selector/);
      assert.match(stdout, /leader callback returning after \d+ steps \(stop\)/);
      assert.match(stdout, /selector stopped in \d+ ms/);
      assert.match(stdout, /coordinator closed after \d+ ms; exiting/);
      // The lock node was deleted by stop(): no waiting for the session timeout (15 s here).
      await next.waitForOutput(/leading \(term 1/, 5_000);
      next.child.kill('SIGINT');
      assert.equal((await next.finished(15_000)).code, 0, next.output);
      assert.deepEqual(await lockAt(path('graceful')).contenderDetails(), []);
    } finally {
      leader.child.kill('SIGKILL');
      next?.child.kill('SIGKILL');
    }
  });

  it('checkpointing.ts: skips the interrupted write, the next leader resumes, stale tokens are rejected', async () => {
    const run = new ScriptProcess('examples/checkpointing.ts', ['--path', path('checkpointing')], env);
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(stdout, /\[worker-a\] batch 4 written/);
    assert.match(stdout, /\[worker-a\] signal fired \(stop\) while computing batch 5: skipping its write/);
    assert.doesNotMatch(stdout, /\[worker-a\] batch 5 written/);
    assert.match(stdout, /\[worker-b\] leading \(fencing token \d+\): resuming after checkpoint 4/);
    assert.match(stdout, /\[worker-b\] batch 12 written/);
    assert.match(stdout, /a late write from worker-a is rejected: fencing token \d+ is older than \d+/);
    assert.match(stdout, /done: checkpoint 12\/12, every batch written exactly once/);
  });

  it('demo.ts: tries docker compose, falls back to its own ZooKeeper, fails over after about S, cleans up', async () => {
    // A stand-in `docker` first on PATH: the engine "answers" but `compose up` fails. So the demo takes
    // its Docker path, cleans up with `compose down` and falls back to a local ZooKeeper, on any machine.
    const stubDir = await mkdtemp(join(tmpdir(), 'demo-docker-stub-'));
    const calls = join(stubDir, 'calls.log');
    await writeFile(
      join(stubDir, 'docker'),
      `#!/bin/sh\necho "$*" >> '${calls}'\ncase " $* " in\n  *" up "*) echo 'stub: port is already allocated' >&2; exit 1 ;;\nesac\nexit 0\n`,
      { mode: 0o755 },
    );
    const demoEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${stubDir}${delimiter}${process.env.PATH ?? ''}`,
      NO_COLOR: '1',
    };
    delete demoEnv.DEMO_ZOOKEEPER;
    delete demoEnv.ZOOKEEPER_SESSION_TIMEOUT_MS;
    const ownServer = !process.env.ZOOKEEPER_CONNECT_STRING;
    try {
      const demo = new ScriptProcess('examples/demo.ts', [], demoEnv);
      const { code, stdout, ms } = await demo.finished(60_000);
      assert.equal(code, 0, demo.output);
      assert.ok(ms < 40_000, `the demo took ${ms} ms`);
      if (ownServer) {
        const compose = `compose -f ${join(REPO_ROOT, 'docker-compose.yml')} -p zk-leader-selector-demo --profile single`;
        assert.deepEqual((await readFile(calls, 'utf8')).trim().split('\n'), [
          'info',
          'compose version',
          `${compose} up -d --wait zk-single`,
          `${compose} down --volumes`,
        ]);
        assert.match(stdout, /docker compose could not start ZooKeeper .*; trying a local one/);
        assert.match(stdout, /starting a local ZooKeeper/);
        assert.match(stdout, /stopping the local ZooKeeper on 127\.0\.0\.1:\d+/);
      }
      assert.match(stdout, /lock queue: \w+ \(holder\) ← \w+ ← \w+/);
      assert.match(stdout, /✗ killed with SIGKILL/);
      const failover = /new leader after (\d+) ms \(S = (\d+) ms\): (\w+)/.exec(stdout);
      assert.ok(failover, stdout);
      const [, failoverMs, sessionMs] = failover.map(Number);
      assert.equal(sessionMs, 4000);
      // Not before the server could expire the session (S less at most one heartbeat interval), and not much after.
      assert.ok(
        failoverMs !== undefined && failoverMs >= 2_500 && failoverMs < 15_000,
        `failover ${failoverMs} ms`,
      );
      assert.match(stdout, /graceful handover after \d+ ms/);
      assert.equal(stdout.match(/stopped cleanly after \d+ ms/g)?.length, 2, stdout);
      assert.match(stdout, /done in \d+\.\d s/);
    } finally {
      await rm(stubDir, { recursive: true, force: true });
    }
  });
});
