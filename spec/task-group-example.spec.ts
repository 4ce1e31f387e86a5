// examples/task-group.ts as the README tells a newcomer to run it: two processes share the jobs,
// SIGTERM to one hands its jobs to the other, --seconds stops by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { killAllScripts, ScriptProcess } from './support/processes.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('examples/task-group.ts', () => {
  let zk: ZooKeeperCluster;
  let env: NodeJS.ProcessEnv;
  const path = (name: string): string => `/examples-spec/${name}-${process.pid}`;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
    env = { ...process.env, ZOOKEEPER_CONNECT_STRING: zk.connectString };
    delete env.ZOOKEEPER_SESSION_TIMEOUT_MS;
    delete env.ZOOKEEPER_DISABLED;
  });
  after(async () => {
    killAllScripts();
    await zk?.close();
  });

  it('runs every job alone and stops by itself after --seconds', async () => {
    const run = new ScriptProcess(
      'examples/task-group.ts',
      ['--path', path('alone'), '--tasks', '4', '--seconds', '2', '--interval-ms', '100'],
      env,
    );
    const { code, stdout } = await run.finished(30_000);
    assert.equal(code, 0, run.output);
    assert.match(stdout, /rebalanced: runs 4 of 4 jobs \(1 members, share 4\)/);
    assert.match(stdout, /started job-03 \(term 1, fencing token \d+\)/);
    assert.match(stdout, /2 s passed: stopping/);
    assert.match(stdout, /stopped job-00 \(stop\)/);
    assert.match(stdout, /stopped after \d+ job runs/);
  });

  it('two processes share 6 jobs 3 + 3; SIGTERM to one hands its jobs to the other', async () => {
    const args = (id: string): string[] => ['--path', path('two'), '--tasks', '6', '--id', id];
    const first = new ScriptProcess('examples/task-group.ts', args('first'), env);
    try {
      await first.waitForOutput(/\[first\] rebalanced: runs 6 of 6/, 30_000);
      const second = new ScriptProcess('examples/task-group.ts', args('second'), env);
      try {
        await second.waitForOutput(/\[second\] rebalanced: runs 3 of 6 jobs \(2 members, share 3\)/, 30_000);
        assert.match(first.stdout, /\[first\] stopped job-\d+ \(rebalance\)/);
        first.child.kill('SIGTERM');
        assert.equal((await first.finished(15_000)).code, 0, first.output);
        await second.waitForOutput(/\[second\] rebalanced: runs 6 of 6 jobs \(1 members, share 6\)/, 15_000);
        second.child.kill('SIGTERM');
        assert.equal((await second.finished(15_000)).code, 0, second.output);
      } finally {
        second.child.kill('SIGKILL');
      }
    } finally {
      first.child.kill('SIGKILL');
    }
  });
});
