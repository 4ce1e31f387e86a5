// Figure 1: uncontended acquire+release cycles/s: the raw-client floor, ours, Curator, kazoo, on
// plain loopback and through the delay proxy (1 ms each way). Rounds alternate the order.
import { runBenchWorker, type PeerImpl } from '../../spec/support/peers/index.js';
import { JsonChild, fmt, measureRtt, median, mntr, now, ratio, sleep } from '../lib/common.js';
import {
  availablePeers,
  networkSettings,
  type BenchContext,
  type Figure,
  type Table,
} from '../lib/context.js';

type Impl = 'floor' | 'floor-list' | 'ours' | PeerImpl;
const LABEL: Record<Impl, string> = {
  floor: 'floor: raw create + delete',
  'floor-list': 'raw create ‖ getChildren + delete',
  ours: 'ours: SharedReentrantLock',
  curator: 'Curator InterProcessMutex',
  kazoo: 'kazoo Lock',
};
const SESSION_TIMEOUT_MS = 10_000;

interface Sample {
  setting: string;
  impl: Impl;
  round: number;
  cyclesPerSecond: number;
  requestsPerCycle: number;
}

/**
 * Runs one implementation. Server packets received are sampled twice inside the timed window
 * (which starts 1 s after the worker's start signal), so warm-up and session set-up do not count.
 */
async function runOnce(
  impl: Impl,
  ctx: BenchContext,
  connect: string,
  lockPath: string,
  seconds: number,
): Promise<{ cyclesPerSecond: number; requestsPerCycle: number }> {
  const margin = Math.min(250, seconds * 200);
  let window: Promise<{ received: number; ms: number }> | undefined;
  const sampleWindow = (timedStart: number): void => {
    window = (async () => {
      await sleep(timedStart + margin - now());
      const a = await mntr(ctx.members);
      const tA = now();
      await sleep(timedStart + seconds * 1000 - margin - now());
      const b = await mntr(ctx.members);
      const received = (b.get('zk_packets_received') ?? 0) - (a.get('zk_packets_received') ?? 0);
      // Each mntr counts as one packet received (checked on 3.8).
      return { received: received - ctx.members.length, ms: now() - tA };
    })();
  };
  let cyclesPerSecond: number;
  if (impl === 'ours' || impl === 'floor' || impl === 'floor-list') {
    const child = new JsonChild('ours-worker.ts', [
      `throughput-${impl}`,
      connect,
      lockPath,
      String(seconds),
      String(SESSION_TIMEOUT_MS),
    ]);
    try {
      await child.next((e) => e.event === 'timed', 60_000);
      sampleWindow(now());
      cyclesPerSecond = (await child.result<{ cyclesPerSecond: number }>(seconds * 1000 + 60_000))
        .cyclesPerSecond;
    } finally {
      await child.finish();
    }
  } else {
    const result = await runBenchWorker(impl, {
      connectString: connect,
      lockPath,
      seconds,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      // The worker warms up for 1 s after "go", then runs the timed part.
      onReady: () => sampleWindow(now() + 1000),
      startGate: Promise.resolve(),
    });
    cyclesPerSecond = result.cyclesPerSecond;
  }
  const sampled = await (window ?? Promise.resolve({ received: Number.NaN, ms: 1 }));
  return { cyclesPerSecond, requestsPerCycle: sampled.received / ((cyclesPerSecond * sampled.ms) / 1000) };
}

export const throughput: Figure = async (ctx: BenchContext) => {
  const rounds = ctx.quick ? 1 : 3;
  const seconds = ctx.quick ? 1 : 4;
  const { peers, notes } = availablePeers(ctx);
  const impls: Impl[] = ['floor', 'floor-list', 'ours', ...peers];

  const settings = await networkSettings(ctx);
  const samples: Sample[] = [];
  const rtt: Record<string, number> = {};
  for (const setting of settings) {
    rtt[setting.name] = await measureRtt(setting.connect, 300);
    ctx.log(`  ${setting.name}: measured RTT ${fmt(rtt[setting.name], 2)} ms`);
    for (let round = 0; round < rounds; round += 1) {
      const order = impls.map((_, i) => impls[(i + round) % impls.length] as Impl);
      for (const impl of order) {
        const lockPath = `/bench/${ctx.runId}/throughput/${setting.name === 'loopback' ? 'lo' : 'rtt'}/${impl}-${round}`;
        const result = await runOnce(impl, ctx, setting.connect, lockPath, seconds);
        const sample = { setting: setting.name, impl, round, ...result };
        samples.push(sample);
        ctx.log(
          `  ${setting.name} round ${round + 1}/${rounds} ${impl}: ${fmt(sample.cyclesPerSecond, 0)} cycles/s, ${fmt(sample.requestsPerCycle, 2)} requests/cycle`,
        );
      }
    }
  }

  const stat = (setting: string, impl: Impl, key: 'cyclesPerSecond' | 'requestsPerCycle'): number[] =>
    samples.filter((s) => s.setting === setting && s.impl === impl).map((s) => s[key]);
  const medianOf = (setting: string, impl: Impl): number => median(stat(setting, impl, 'cyclesPerSecond'));
  const cell = (setting: string, impl: Impl): string => {
    const values = stat(setting, impl, 'cyclesPerSecond');
    const m = median(values);
    return values.length > 1
      ? `${fmt(m, 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`
      : fmt(m, 0);
  };
  const table: Table = {
    columns: [
      'implementation',
      'loopback cycles/s',
      'ours ÷ this',
      '2 ms RTT cycles/s',
      'ours ÷ this',
      'requests/cycle',
    ],
    rows: impls.map((impl) => [
      LABEL[impl],
      cell('loopback', impl),
      impl === 'ours' ? '' : `${fmt(ratio(medianOf('loopback', 'ours'), medianOf('loopback', impl)), 2)}×`,
      cell('2 ms RTT', impl),
      impl === 'ours' ? '' : `${fmt(ratio(medianOf('2 ms RTT', 'ours'), medianOf('2 ms RTT', impl)), 2)}×`,
      fmt(median(stat('loopback', impl, 'requestsPerCycle')), 1),
    ]),
  };
  const ratios: Record<string, Record<string, number | undefined>> = {};
  for (const setting of settings) {
    ratios[setting.name] = Object.fromEntries(
      impls
        .filter((i) => i !== 'ours')
        .map((i) => [`ours/${i}`, ratio(medianOf(setting.name, 'ours'), medianOf(setting.name, i))]),
    );
  }
  const floorRatios = settings.map((s) => ratios[s.name]?.['ours/floor'] ?? 0);
  notes.push(
    `Medians of ${rounds} round(s) of ${seconds} s each (after 1 s warm-up), order rotated per round; (min–max) over rounds. One process per run, all against ZooKeeper member ${ctx.direct}.`,
    `Measured RTT (exists round trip, median): loopback ${fmt(rtt.loopback, 2)} ms, delay proxy ${fmt(rtt['2 ms RTT'], 2)} ms.`,
    `requests/cycle: ZooKeeper packets received (mntr) in the middle of the timed window ÷ cycles in it, loopback.`,
    `Goal ours ≥ 0.95× floor: ${floorRatios.map((r, i) => `${settings[i]?.name} ${fmt(r, 2)}× ${r >= 0.95 ? 'met' : 'NOT met'}`).join(', ')}.`,
    `"raw create ‖ getChildren + delete" is the raw client sending what an uncontended acquire + release of a lock that must see its contenders sends (create and getChildren back to back, then delete) and nothing else: the floor for such a lock on this client. Ours ÷ it: ${settings.map((s) => `${s.name} ${fmt(ratios[s.name]?.['ours/floor-list'] ?? 0, 2)}×`).join(', ')}.`,
  );
  return {
    title: 'Uncontended acquire + release',
    tables: [table],
    notes,
    data: { rounds, seconds, rttMs: rtt, samples, ratios },
  };
};
