// Figure "recipes" (issue 14): Curator's recipe family, ours against Curator 5.4 in one run.
// (a) uncontended cycles/s of one client per recipe: read lock, write lock, semaphore (maxLeases 3),
//     leader latch (start, leadership, close); ours and Curator alternate, order reversed every round.
// (b) semaphore acquire throughput: 8 contenders (a session each, in one process per implementation),
//     maxLeases 3, leases held 0 ms and 10 ms.
import {
  runCuratorRecipeBench,
  runCuratorSemaphoreThroughput,
  type CuratorBenchRecipe,
  type ThroughputResult,
} from '../../spec/support/peers/recipe-bench.js';
import { JsonChild, fmt, median, mntr, now, ratio, sleep } from '../lib/common.js';
import type { BenchContext, Figure, Table } from '../lib/context.js';

type Impl = 'ours' | 'curator';
const RECIPES: CuratorBenchRecipe[] = ['rwlock-read', 'rwlock-write', 'semaphore', 'latch'];
const LABEL: Record<CuratorBenchRecipe, string> = {
  'rwlock-read': 'read lock: acquire + release',
  'rwlock-write': 'write lock: acquire + release',
  semaphore: 'semaphore (maxLeases 3): lease + release',
  latch: 'leader latch: start + leadership + close',
};
const SESSION_TIMEOUT_MS = 10_000;
const MAX_LEASES = 3;
const CONTENDERS = 8;

interface CycleSample {
  recipe: CuratorBenchRecipe;
  impl: Impl;
  round: number;
  cyclesPerSecond: number;
  requestsPerCycle: number;
}

interface ThroughputSample extends Omit<ThroughputResult, 'perContender'> {
  impl: Impl;
  round: number;
  perContender: number[];
}

/** Server packets received, sampled inside the timed window (which starts at `timedStart`). */
function sampler(
  ctx: BenchContext,
  seconds: number,
): {
  start: (timedStart: number) => void;
  result: () => Promise<{ received: number; ms: number }>;
} {
  const margin = Math.min(250, seconds * 200);
  let window: Promise<{ received: number; ms: number }> | undefined;
  return {
    start: (timedStart) => {
      window = (async () => {
        await sleep(timedStart + margin - now());
        const a = await mntr(ctx.members);
        const tA = now();
        await sleep(timedStart + seconds * 1000 - margin - now());
        const b = await mntr(ctx.members);
        const received = (b.get('zk_packets_received') ?? 0) - (a.get('zk_packets_received') ?? 0);
        return { received: received - ctx.members.length, ms: now() - tA };
      })();
    },
    result: () => window ?? Promise.resolve({ received: Number.NaN, ms: 1 }),
  };
}

async function cycleOnce(
  ctx: BenchContext,
  impl: Impl,
  recipe: CuratorBenchRecipe,
  path: string,
  seconds: number,
): Promise<{ cyclesPerSecond: number; requestsPerCycle: number }> {
  const window = sampler(ctx, seconds);
  let cyclesPerSecond: number;
  if (impl === 'ours') {
    const child = new JsonChild('recipes-worker.ts', [
      'cycle',
      recipe,
      ctx.direct,
      path,
      String(seconds),
      String(SESSION_TIMEOUT_MS),
      String(MAX_LEASES),
    ]);
    try {
      await child.next((e) => e.event === 'timed', 60_000);
      window.start(now());
      cyclesPerSecond = (await child.result<{ cyclesPerSecond: number }>(seconds * 1000 + 60_000))
        .cyclesPerSecond;
    } finally {
      await child.finish();
    }
  } else {
    const result = await runCuratorRecipeBench({
      connectString: ctx.direct,
      path,
      recipe,
      seconds,
      maxLeases: MAX_LEASES,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      onTimed: () => window.start(now()),
    });
    cyclesPerSecond = result.cyclesPerSecond;
  }
  const sampled = await window.result();
  return { cyclesPerSecond, requestsPerCycle: sampled.received / ((cyclesPerSecond * sampled.ms) / 1000) };
}

async function throughputOnce(
  ctx: BenchContext,
  impl: Impl,
  path: string,
  holdMs: number,
  seconds: number,
): Promise<ThroughputResult> {
  if (impl === 'curator')
    return runCuratorSemaphoreThroughput({
      connectString: ctx.direct,
      path,
      contenders: CONTENDERS,
      maxLeases: MAX_LEASES,
      holdMs,
      seconds,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
    });
  const child = new JsonChild('recipes-worker.ts', [
    'throughput',
    ctx.direct,
    path,
    String(CONTENDERS),
    String(MAX_LEASES),
    String(holdMs),
    String(seconds),
    String(SESSION_TIMEOUT_MS),
  ]);
  try {
    return await child.result<ThroughputResult>(seconds * 1000 + 60_000);
  } finally {
    await child.finish();
  }
}

const range = (values: number[], digits = 0): string => {
  const m = median(values);
  return values.length > 1
    ? `${fmt(m, digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`
    : fmt(m, digits);
};

export const recipes: Figure = async (ctx: BenchContext) => {
  const withCurator = ctx.curator.ok;
  const order = (round: number): Impl[] =>
    !withCurator ? ['ours'] : round % 2 === 0 ? ['ours', 'curator'] : ['curator', 'ours'];
  const rounds = ctx.quick ? 1 : 3;
  const seconds = ctx.quick ? 1 : 2;
  const tpRounds = ctx.quick ? 1 : 2;
  const tpSeconds = ctx.quick ? 1.5 : 3;
  const holds = [0, 10];
  const base = `/bench/${ctx.runId}/recipes`;

  const cycles: CycleSample[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const recipe of RECIPES) {
      for (const impl of order(round)) {
        const result = await cycleOnce(ctx, impl, recipe, `${base}/${recipe}/${impl}-${round}`, seconds);
        cycles.push({ recipe, impl, round, ...result });
        ctx.log(
          `  round ${round + 1}/${rounds} ${recipe} ${impl}: ${fmt(result.cyclesPerSecond, 0)} cycles/s, ${fmt(result.requestsPerCycle, 2)} requests/cycle`,
        );
      }
    }
  }

  const throughputs: ThroughputSample[] = [];
  for (let round = 0; round < tpRounds; round += 1) {
    for (const holdMs of holds) {
      for (const impl of order(round)) {
        const result = await throughputOnce(
          ctx,
          impl,
          `${base}/throughput-${holdMs}/${impl}-${round}`,
          holdMs,
          tpSeconds,
        );
        throughputs.push({ impl, round, ...result });
        ctx.log(
          `  throughput hold ${holdMs} ms round ${round + 1}/${tpRounds} ${impl}: ${fmt(result.acquiresPerSecond, 0)} leases/s, peak holders ${result.peakHolders}, per contender ${result.perContender.join(' ')}`,
        );
      }
    }
  }

  const cps = (recipe: CuratorBenchRecipe, impl: Impl): number[] =>
    cycles.filter((s) => s.recipe === recipe && s.impl === impl).map((s) => s.cyclesPerSecond);
  const rpc = (recipe: CuratorBenchRecipe, impl: Impl): number =>
    median(cycles.filter((s) => s.recipe === recipe && s.impl === impl).map((s) => s.requestsPerCycle));
  const cycleRatios = Object.fromEntries(
    RECIPES.map((r) => [r, ratio(median(cps(r, 'ours')), median(cps(r, 'curator')))]),
  );
  const cycleTable: Table = {
    caption: '(a) uncontended, one client: cycles/s',
    columns: ['recipe', 'ours', 'Curator 5.4', 'ours ÷ Curator', 'requests/cycle ours', 'Curator'],
    rows: RECIPES.map((recipe) => [
      LABEL[recipe],
      range(cps(recipe, 'ours')),
      range(cps(recipe, 'curator')),
      `${fmt(cycleRatios[recipe], 2)}×`,
      fmt(rpc(recipe, 'ours'), 1),
      fmt(rpc(recipe, 'curator'), 1),
    ]),
  };

  const tp = (holdMs: number, impl: Impl): ThroughputSample[] =>
    throughputs.filter((s) => s.holdMs === holdMs && s.impl === impl);
  const tpRatios = Object.fromEntries(
    holds.map((h) => [
      `hold ${h} ms`,
      ratio(
        median(tp(h, 'ours').map((s) => s.acquiresPerSecond)),
        median(tp(h, 'curator').map((s) => s.acquiresPerSecond)),
      ),
    ]),
  );
  const spread = (samples: ThroughputSample[]): string => {
    const all = samples.flatMap((s) => s.perContender);
    return all.length > 0 ? `${Math.min(...all)}–${Math.max(...all)}` : '';
  };
  const throughputTable: Table = {
    caption: `(b) semaphore, ${CONTENDERS} contenders (a session each), maxLeases ${MAX_LEASES}: leases acquired/s`,
    columns: [
      'lease held',
      'ours',
      'Curator 5.4',
      'ours ÷ Curator',
      'per contender ours',
      'Curator',
      'peak holders ours',
      'Curator',
    ],
    rows: holds.map((h) => [
      `${h} ms`,
      range(tp(h, 'ours').map((s) => s.acquiresPerSecond)),
      range(tp(h, 'curator').map((s) => s.acquiresPerSecond)),
      `${fmt(tpRatios[`hold ${h} ms`], 2)}×`,
      spread(tp(h, 'ours')),
      spread(tp(h, 'curator')),
      String(Math.max(0, ...tp(h, 'ours').map((s) => s.peakHolders))),
      String(Math.max(0, ...tp(h, 'curator').map((s) => s.peakHolders))),
    ]),
  };
  const notes = [
    ...(ctx.curator.ok ? [] : [`Curator skipped: ${ctx.curator.reason}`]),
    `(a): medians of ${rounds} round(s) of ${seconds} s after 1 s warm-up, (min–max) over rounds; ours (bench/recipes-worker.ts cycle) and Curator (CuratorRecipeWorker bench) each in a process of its own with one session, alternating, order reversed every round, a fresh path per run, all against ZooKeeper member ${ctx.direct}. Latch cycle: a new latch each time (a closed latch cannot start again), start, await leadership, close; Curator deletes a closed latch's node in the background, so its next latch can find the old node still first.`,
    `requests/cycle: ZooKeeper packets received (mntr) in the middle of the timed window ÷ cycles in it.`,
    `(b): ${tpRounds} round(s) of ${tpSeconds} s after 1 s warm-up per implementation; ${CONTENDERS} contenders in one process (ours: ${CONTENDERS} Coordinators, recipes-worker.ts throughput; Curator: ${CONTENDERS} threads with a CuratorFramework each), each looping acquire, hold, release. Per contender: leases in the timed window (min–max over contenders and rounds); peak holders: most leases held at once inside the process (≤ ${MAX_LEASES} or the semaphore is broken).`,
  ];
  return {
    title: 'Recipes: read-write lock, semaphore, leader latch against Curator',
    tables: [cycleTable, throughputTable],
    notes,
    data: {
      rounds,
      seconds,
      tpRounds,
      tpSeconds,
      cycles,
      throughputs,
      cycleRatios,
      throughputRatios: tpRatios,
    },
  };
};
