// A leader process that serves its metrics and health, the way a service would.
//
//   node --import tsx examples/metrics.ts [--id NAME] [--path P] [--port 9464] [--seconds N]
//
//   GET /metrics   Prometheus text format (OpenTelemetry SDK + @opentelemetry/exporter-prometheus):
//                  zk_leader_selector_* instruments (README, "Operations")
//   GET /healthz   coordinator.status() as JSON; 200 while the session is connected, else 503
//
// Prints "listening on http://127.0.0.1:<port>" once it serves (--port 0 picks a free port).
// Connects to ZOOKEEPER_CONNECT_STRING (default 127.0.0.1:2181). Stops on SIGTERM / Ctrl-C or
// after --seconds. In your project: import { Coordinator } from 'zk-leader-selector', and install
// @opentelemetry/api, @opentelemetry/sdk-metrics and @opentelemetry/exporter-prometheus.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Coordinator } from '../lib/index.js';

const { values } = parseArgs({
  options: {
    id: { type: 'string', default: `metrics-example-${process.pid}` },
    path: { type: 'string', default: '/examples/metrics/leader' },
    port: { type: 'string', default: '9464' },
    seconds: { type: 'string' },
  },
});

// 1. The OpenTelemetry SDK, registered globally before the coordinator exists: the coordinator
//    picks the global MeterProvider up by itself (or pass it as { metrics: { meterProvider } }).
const exporter = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));

// 2. A leader with a periodic job.
const coordinator = Coordinator.fromEnv(process.env, { connectTimeoutMs: 5_000 });
await coordinator.start();
let runs = 0;
const selector = coordinator.createLeaderSelector(values.path, {
  id: values.id,
  leader: async (control) => {
    console.log(`[${values.id}] leading: term ${control.term}, fencing token ${control.fencingToken}`);
    while (!control.shouldStop()) {
      runs += 1; // the periodic job
      await control.waitUntilShouldStop(500);
    }
  },
});
selector.start();

// 3. /metrics and /healthz on node:http.
const server = createServer((request, response) => {
  if (request.url === '/metrics') {
    exporter.getMetricsRequestHandler(request, response);
  } else if (request.url === '/healthz') {
    const status = coordinator.status();
    response.writeHead(status.state === 'connected' ? 200 : 503, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ ...status, jobRuns: runs }));
  } else {
    response.writeHead(404).end();
  }
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await selector.stop();
  await coordinator.close();
  server.close();
  await exporter.shutdown();
  console.log(`[${values.id}] stopped after ${runs} job runs`);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
if (values.seconds !== undefined) setTimeout(() => void shutdown(), Number(values.seconds) * 1000).unref();
