// Benchmarks, side by side with Apache Curator, kazoo and the raw client (issue 7).
//   node --import tsx bench/run.ts [--only name,name] [--ensemble] [--quick]
// Starts its own ZooKeeper (standalone, or a 3-member ensemble with --ensemble) on loopback, runs
// the figures, prints a table per figure, writes bench/results/<date>-<figure>.json,
// bench/results/latest.json and bench/results/latest.md (a markdown block for the README).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compileCuratorWorker,
  curatorAvailable,
  kazooAvailable,
  kazooVersionString,
  type Availability,
} from '../spec/support/peers/index.js';
import { ZooKeeperCluster, zooKeeperAvailable } from '../spec/support/zookeeper.js';
import { claims } from './figures/claims.js';
import { failover } from './figures/failover.js';
import { freeze } from './figures/freeze.js';
import { handoff } from './figures/handoff.js';
import { herd } from './figures/herd.js';
import { memory } from './figures/memory.js';
import { recipes } from './figures/recipes.js';
import { taskGroup } from './figures/task-group.js';
import { throughput } from './figures/throughput.js';
import { transport } from './figures/transport.js';
import { BENCH_DIR, JsonChild, fourLetterWord } from './lib/common.js';
import {
  markdownTable,
  textTable,
  type BenchContext,
  type Figure,
  type FigureResult,
} from './lib/context.js';

const FIGURES: Array<[string, Figure]> = [
  ['throughput', throughput],
  ['handoff', handoff],
  ['herd', herd],
  ['failover', failover],
  ['freeze', freeze],
  ['memory', memory],
  ['task-group', taskGroup],
  ['claims', claims],
  ['transport', transport],
  ['recipes', recipes],
];

function usage(): never {
  process.stdout.write(
    `usage: node --import tsx bench/run.ts [--only ${FIGURES.map(([n]) => n).join(',')}] [--ensemble] [--quick]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { only: string[]; ensemble: boolean; quick: boolean } {
  const options = { only: FIGURES.map(([n]) => n), ensemble: false, quick: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--ensemble') options.ensemble = true;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[(i += 1)] : arg.slice('--only='.length);
      if (!value) usage();
      options.only = value.split(',').map((s) => s.trim());
      const unknown = options.only.filter((n) => !FIGURES.some(([f]) => f === n));
      if (unknown.length > 0) {
        process.stderr.write(`unknown figure(s): ${unknown.join(', ')}\n`);
        usage();
      }
    } else usage();
  }
  return options;
}

function firstLine(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return undefined;
  return `${result.stdout}${result.stderr}`.trim().split('\n')[0];
}

/** Debian ships `name.jar` plus a `name-<version>.jar` link (or the other way round). */
function jarVersion(dir: string, name: string): string | undefined {
  try {
    const fromTarget = /-(\d[\w.]*)\.jar$/.exec(realpathSync(path.join(dir, `${name}.jar`)))?.[1];
    if (fromTarget) return fromTarget;
    const pattern = new RegExp(`^${name}-(\\d[\\w.]*)\\.jar$`);
    for (const file of readdirSync(dir)) {
      const match = pattern.exec(file);
      if (match) return match[1];
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** HEAD's short hash, marked when lib/ has uncommitted changes (what was measured). */
function gitCommit(): string | null {
  const root = path.join(BENCH_DIR, '..');
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'lib'], {
    cwd: root,
    encoding: 'utf8',
  });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted lib/ changes' : ''}`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const zkAvailable = zooKeeperAvailable();
  if (!zkAvailable.ok) {
    process.stderr.write(`bench: ZooKeeper not available: ${zkAvailable.reason}\n`);
    return 1;
  }
  const log = (line: string): void => void process.stdout.write(`${line}\n`);

  let curator: Availability = curatorAvailable();
  const kazoo: Availability = kazooAvailable();
  if (curator.ok) {
    try {
      await compileCuratorWorker();
    } catch (error) {
      curator = { ok: false, reason: (error as Error).message.split('\n')[0] ?? 'compilation failed' };
    }
  }
  if (!curator.ok) log(`Curator peer unavailable, skipped: ${curator.reason}`);
  if (!kazoo.ok) log(`kazoo peer unavailable, skipped: ${kazoo.reason}`);

  log(`Starting ZooKeeper (${options.ensemble ? '3-member ensemble' : 'standalone'}) ...`);
  const zk = options.ensemble
    ? await ZooKeeperCluster.startEnsemble(3)
    : await ZooKeeperCluster.startStandalone();
  const members = zk.members.map((m) => m.connectString);
  let proxy: JsonChild | undefined;
  let proxyConnect: Promise<string> | undefined;
  try {
    const srvr = await fourLetterWord(members[0] as string, 'srvr');
    const zkVersion = /Zookeeper version: ([^\s,-]+)/.exec(srvr)?.[1] ?? 'unknown';
    const javaLib = process.env.PEERS_JAVA_LIB_DIR ?? '/usr/share/java';
    const env = {
      date: new Date().toISOString(),
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      platform: `${os.type()} ${os.release()}`,
      node: process.version,
      zookeeper: zkVersion,
      zookeeperMode: options.ensemble ? 'ensemble of 3' : 'standalone',
      nodeZookeeperClient: (
        JSON.parse(
          readFileSync(
            path.join(BENCH_DIR, '..', 'node_modules', 'node-zookeeper-client', 'package.json'),
            'utf8',
          ),
        ) as { version: string }
      ).version,
      curator: curator.ok ? (jarVersion(javaLib, 'curator-recipes') ?? 'unknown') : null,
      java: curator.ok ? (firstLine('java', ['-version']) ?? 'unknown') : null,
      kazoo: kazoo.ok ? (kazooVersionString() ?? 'unknown') : null,
      python: kazoo.ok
        ? (firstLine(process.env.KAZOO_PYTHON ?? '/usr/bin/python3', ['--version']) ?? '')
        : null,
      commit: gitCommit(),
      loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
      quick: options.quick,
    };
    log(
      `${env.date}: ${env.cores} cores (${env.cpu}), Node ${env.node}, ZooKeeper ${env.zookeeper} ${env.zookeeperMode}, load average ${env.loadAverageAtStart.join(' ')}`,
    );

    const ctx: BenchContext = {
      zk,
      connect: zk.connectString,
      direct: members[0] as string,
      members,
      quick: options.quick,
      ensemble: options.ensemble,
      runId: `${Date.now().toString(36)}`,
      curator,
      kazoo,
      log,
      delayedConnect: () => {
        proxyConnect ??= (async () => {
          proxy = new JsonChild('delay-proxy.ts', [members[0] as string, '1']);
          const event = await proxy.next((e) => typeof e.port === 'number', 30_000);
          return `127.0.0.1:${String(event.port)}`;
        })();
        return proxyConnect;
      },
    };

    const results: FigureResult[] = [];
    for (const [name, figure] of FIGURES) {
      if (!options.only.includes(name)) continue;
      log(`\n== ${name} ==`);
      const started = Date.now();
      let result: FigureResult;
      try {
        result = { name, ...(await figure(ctx)), seconds: (Date.now() - started) / 1000 };
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`FAILED: ${message}`);
        result = { name, title: name, tables: [], notes: [], data: null, error: message.split('\n')[0] };
        result.seconds = (Date.now() - started) / 1000;
      }
      result.loadAverage = Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
      for (const table of result.tables) log(`\n${textTable(table)}`);
      for (const note of result.notes) log(`  - ${note}`);
      log(`  (${result.seconds?.toFixed(1)} s, load average ${result.loadAverage})`);
      results.push(result);
    }

    const markdown = renderMarkdown(env, results);
    const dir = path.join(BENCH_DIR, 'results');
    mkdirSync(dir, { recursive: true });
    const day = env.date.slice(0, 10);
    const suffix = `${options.ensemble ? '-ensemble' : ''}${options.quick ? '-quick' : ''}`;
    for (const result of results) {
      writeFileSync(
        path.join(dir, `${day}-${result.name}${suffix}.json`),
        `${JSON.stringify({ env, figure: result }, null, 2)}\n`,
      );
    }
    writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify({ env, figures: results }, null, 2)}\n`);
    writeFileSync(path.join(dir, 'latest.md'), markdown);
    log(`\nResults: ${path.relative(process.cwd(), dir)}/ (latest.json, latest.md)\n`);
    log('----- markdown for the README -----');
    log(markdown);
    log('----- end -----');
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    if (proxy) await proxy.finish(2_000);
    await zk.close();
  }
}

function renderMarkdown(
  env: {
    date: string;
    cores: number;
    cpu: string;
    node: string;
    zookeeper: string;
    zookeeperMode: string;
    nodeZookeeperClient: string;
    curator: string | null;
    java: string | null;
    kazoo: string | null;
    python: string | null;
    loadAverageAtStart: number[];
    quick: boolean;
    commit: string | null;
  },
  results: FigureResult[],
): string {
  const peers = [
    env.curator ? `Apache Curator ${env.curator} (${env.java ?? 'java'})` : 'Curator: not available',
    env.kazoo ? `kazoo ${env.kazoo} (${env.python ?? 'python'})` : 'kazoo: not available',
  ].join(', ');
  const lines = [
    '<!-- bench:start (generated by `npm run bench`; see bench/README.md) -->',
    `Measured ${env.date.slice(0, 10)}${env.commit ? ` at ${env.commit}` : ''} on ${env.cores} cores (${env.cpu}), load average ${env.loadAverageAtStart.join(' ')} at start; Node ${env.node}, node-zookeeper-client ${env.nodeZookeeperClient}; ZooKeeper ${env.zookeeper} (${env.zookeeperMode}, loopback); ${peers}.${env.quick ? ' **Quick run (--quick): short and noisy.**' : ''}`,
    '',
  ];
  for (const result of results) {
    const number = FIGURES.findIndex(([name]) => name === result.name) + 1;
    lines.push(`#### ${number}. ${result.title}`, '');
    if (result.error) lines.push(`Failed: ${result.error}`, '');
    for (const table of result.tables) lines.push(markdownTable(table), '');
    for (const note of result.notes) lines.push(`- ${note}`);
    lines.push(
      `- Took ${result.seconds?.toFixed(0)} s; 1-minute load average at its end: ${result.loadAverage}.`,
      '',
    );
  }
  lines.push('<!-- bench:end -->', '');
  return lines.join('\n');
}

process.exitCode = await main();
// Workers, sockets or timers left behind must not keep the benchmark alive.
process.exit(process.exitCode);
