// examples/metrics.ts (issue 16): a leader serving /metrics (Prometheus text) and /healthz.
import assert from 'node:assert/strict';
import { after, before, describe, it } from './support/test.js';
import { killAllScripts, ScriptProcess } from './support/processes.js';
import { waitFor } from './support/wait.js';
import { ZooKeeperCluster } from './support/zookeeper.js';

describe('examples/metrics.ts', () => {
  let zk: ZooKeeperCluster;

  before(async () => {
    zk = await ZooKeeperCluster.startStandalone();
  });
  after(async () => {
    killAllScripts();
    await zk?.close();
  });

  it('serves Prometheus metrics that show it leading, and /healthz from status()', async () => {
    const path = `/metrics-example-${process.pid}`;
    const run = new ScriptProcess('examples/metrics.ts', ['--port', '0', '--path', path, '--id', 'm1'], {
      ...process.env,
      ZOOKEEPER_CONNECT_STRING: zk.connectString,
    });
    try {
      await run.waitForOutput(/\[m1\] leading: term 1/, 30_000);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.stdout)?.[1];
      assert.ok(base, run.output);
      const scrape = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
      // The gauges are read at scrape time; the counters once recorded.
      const text = await waitFor(
        async () => {
          const body = await scrape();
          return /zk_leader_selector_leader_is_leader\{[^}]*leader_path="[^"]*metrics-example[^"]*"[^}]*\} 1/.test(
            body,
          )
            ? body
            : undefined;
        },
        { timeoutMs: 10_000, message: () => `no is_leader 1 in /metrics:\n${run.output}` },
      );
      assert.match(text, /# TYPE zk_leader_selector_lock_acquire_duration histogram/);
      assert.match(text, /zk_leader_selector_leader_terms(_total)?\{[^}]*\} 1/);
      assert.match(text, /zk_leader_selector_session_state\{[^}]*session_state="connected"[^}]*\} 1/);
      assert.match(text, /zk_leader_selector_request_duration_count\{[^}]*zookeeper_operation="create"/);
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      const status = (await health.json()) as {
        state: string;
        leaders: { path: string; leading: boolean }[];
      };
      assert.equal(status.state, 'connected');
      assert.deepEqual(
        status.leaders.map((l) => [l.path, l.leading]),
        [[path, true]],
      );
      run.child.kill('SIGTERM');
      const { code } = await run.finished(15_000);
      assert.equal(code, 0, run.output);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
