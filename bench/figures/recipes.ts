// Figure "recipes" (issue 14): Curator's recipe family, ours against Curator 5.4 in one run.
// (a) uncontended cycles/s of one client per recipe: read lock, write lock, semaphore (maxLeases 3),
//     leader latch (start, leadership, close);
// (b) semaphore acquire throughput: 8 contenders (a session each, in one process per implementation),
//     maxLeases 3, leases held 0 ms and 10 ms.
// Ours and Curator run side by side in worker processes that stay up and take turns in short bursts
// (order reversed every round), so the shared machine's changing load hits both alike; the result
// is the per-round ratio (figure "transport" does the same).
import {
  startCuratorBurster,
  type BurstResult,
  type CuratorBenchRecipe,
} from '../../spec/support/peers/recipe-bench.js';
import { JsonChild, fmt, median, mntr, quantile } from '../lib/common.js';
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
const HOLDS = [0, 10];

interface Burster {
  burst(ms: number): Promise<BurstResult>;
  done(): Promise<{ peakHolders: number }>;
  kill(): void;
}

interface Burst {
  part: string;
  impl: Impl;
  round: number;
  ms: number;
  /** Cycles (a) or leases acquired (b). */
  count: number;
  /** ZooKeeper packets received during the burst (mntr before and after). */
  requests: number;
  perContender?: number[];
}

/** Ours (bench/recipes-worker.ts), warmed up and serving bursts. */
async function oursBurster(args: string[], warmupMs: number): Promise<Burster> {
  const child = new JsonChild('recipes-worker.ts', args);
  try {
    await child.next((e) => e.event === 'ready', warmupMs + 60_000);
  } catch (error) {
    child.kill();
    throw error;
  }
  let id = 0;
  return {
    async burst(ms) {
      const burst = (id += 1);
      child.send({ burst, ms });
      const event = await child.next((e) => e.burst === burst, ms + 30_000);
      return event as unknown as BurstResult;
    },
    async done() {
      child.send({ done: true });
      const event = await child.next((e) => e.event === 'done', 30_000);
      await child.finish();
      return { peakHolders: Number(event.peakHolders ?? 0) };
    },
    kill: () => child.kill(),
  };
}

/** Both started at once (warm-ups overlap; bursts do not), then rounds of one burst each. */
async function interleave(
  ctx: BenchContext,
  part: string,
  start: Record<Impl, (() => Promise<Burster>) | undefined>,
  rounds: number,
  burstMs: number,
): Promise<{ bursts: Burst[]; peakHolders: Partial<Record<Impl, number>> }> {
  const impls = (['ours', 'curator'] as const).filter((impl) => start[impl]);
  const started = await Promise.allSettled(impls.map((impl) => start[impl]!()));
  const bursters = new Map<Impl, Burster>();
  started.forEach((s, i) => s.status === 'fulfilled' && bursters.set(impls[i]!, s.value));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const bursts: Burst[] = [];
  const peakHolders: Partial<Record<Impl, number>> = {};
  try {
    if (failed) throw failed.reason;
    for (let round = 0; round < rounds; round += 1) {
      for (const impl of round % 2 === 0 ? impls : [...impls].reverse()) {
        const a = await mntr(ctx.members);
        const result = await bursters.get(impl)!.burst(burstMs);
        const b = await mntr(ctx.members);
        const requests =
          (b.get('zk_packets_received') ?? 0) - (a.get('zk_packets_received') ?? 0) - ctx.members.length;
        const count = result.cycles ?? result.acquires ?? 0;
        bursts.push({ part, impl, round, ms: result.ms, count, requests, perContender: result.perContender });
      }
    }
    for (const impl of impls) peakHolders[impl] = (await bursters.get(impl)!.done()).peakHolders;
  } finally {
    for (const burster of bursters.values()) burster.kill();
  }
  const rate = (impl: Impl): string => {
    const mine = bursts.filter((b) => b.impl === impl);
    return fmt((mine.reduce((s, b) => s + b.count, 0) * 1000) / mine.reduce((s, b) => s + b.ms, 0), 0);
  };
  ctx.log(`  ${part}: ${impls.map((impl) => `${impl} ${rate(impl)}/s`).join(', ')}`);
  return { bursts, peakHolders };
}

interface Summary {
  rate: number;
  p25: number;
  p75: number;
  requestsPerCycle: number;
}

function summarize(bursts: Burst[]): Summary {
  const rates = bursts.map((b) => (b.count * 1000) / b.ms);
  const count = bursts.reduce((s, b) => s + b.count, 0);
  return {
    rate: (count * 1000) / bursts.reduce((s, b) => s + b.ms, 0),
    p25: quantile(rates, 0.25),
    p75: quantile(rates, 0.75),
    requestsPerCycle: bursts.reduce((s, b) => s + b.requests, 0) / count,
  };
}

/** ours ÷ Curator per round (adjacent bursts): median and quartiles. */
function roundRatios(bursts: Burst[]): { median: number; p25: number; p75: number } {
  const ratios: number[] = [];
  for (const round of new Set(bursts.map((b) => b.round))) {
    const ours = bursts.find((b) => b.round === round && b.impl === 'ours');
    const curator = bursts.find((b) => b.round === round && b.impl === 'curator');
    if (ours && curator && curator.count > 0)
      ratios.push(ours.count / ours.ms / (curator.count / curator.ms));
  }
  return { median: median(ratios), p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75) };
}

export const recipes: Figure = async (ctx: BenchContext) => {
  const withCurator = ctx.curator.ok;
  const warmupMs = ctx.quick ? 1000 : 2000;
  const cycleRounds = ctx.quick ? 3 : 12;
  const cycleBurstMs = ctx.quick ? 200 : 400;
  const tpRounds = ctx.quick ? 2 : 8;
  const tpBurstMs = ctx.quick ? 400 : 1000;
  const base = `/bench/${ctx.runId}/recipes`;
  const common = { connectString: ctx.direct, sessionTimeoutMs: SESSION_TIMEOUT_MS, warmupMs };
  const all: Burst[] = [];
  const peaks: Record<string, Partial<Record<Impl, number>>> = {};

  for (const recipe of RECIPES) {
    const { bursts } = await interleave(
      ctx,
      recipe,
      {
        ours: () =>
          oursBurster(
            [
              'cycle-bursts',
              recipe,
              ctx.direct,
              `${base}/${recipe}/ours`,
              String(warmupMs),
              String(SESSION_TIMEOUT_MS),
              String(MAX_LEASES),
            ],
            warmupMs,
          ),
        curator: withCurator
          ? () =>
              startCuratorBurster({
                ...common,
                recipe,
                path: `${base}/${recipe}/curator`,
                maxLeases: MAX_LEASES,
              })
          : undefined,
      },
      cycleRounds,
      cycleBurstMs,
    );
    all.push(...bursts);
  }
  for (const holdMs of HOLDS) {
    const part = `throughput-hold-${holdMs}`;
    const { bursts, peakHolders } = await interleave(
      ctx,
      part,
      {
        ours: () =>
          oursBurster(
            [
              'throughput-bursts',
              ctx.direct,
              `${base}/${part}/ours`,
              String(CONTENDERS),
              String(MAX_LEASES),
              String(holdMs),
              String(warmupMs),
              String(SESSION_TIMEOUT_MS),
            ],
            warmupMs,
          ),
        curator: withCurator
          ? () =>
              startCuratorBurster({
                ...common,
                recipe: 'semaphore-throughput',
                path: `${base}/${part}/curator`,
                contenders: CONTENDERS,
                maxLeases: MAX_LEASES,
                holdMs,
              })
          : undefined,
      },
      tpRounds,
      tpBurstMs,
    );
    all.push(...bursts);
    peaks[part] = peakHolders;
  }

  const of = (part: string, impl: Impl): Burst[] => all.filter((b) => b.part === part && b.impl === impl);
  const rateCell = (part: string, impl: Impl): string => {
    const bursts = of(part, impl);
    if (bursts.length === 0) return 'n/a';
    const s = summarize(bursts);
    return `${fmt(s.rate, 0)} (${fmt(s.p25, 0)}–${fmt(s.p75, 0)})`;
  };
  const ratioCell = (part: string): string => {
    const r = roundRatios(all.filter((b) => b.part === part));
    return Number.isFinite(r.median) ? `${fmt(r.median, 2)} (${fmt(r.p25, 2)}–${fmt(r.p75, 2)})` : 'n/a';
  };
  const rpc = (part: string, impl: Impl): string =>
    of(part, impl).length > 0 ? fmt(summarize(of(part, impl)).requestsPerCycle, 1) : 'n/a';
  const spread = (part: string, impl: Impl): string => {
    const per = of(part, impl).flatMap((b) => (b.perContender ?? []).map((n) => (n * 1000) / b.ms));
    return per.length > 0 ? `${fmt(Math.min(...per), 0)}–${fmt(Math.max(...per), 0)}` : 'n/a';
  };
  const cycleTable: Table = {
    caption: '(a) uncontended, one client: cycles/s',
    columns: ['recipe', 'ours', 'Curator 5.4', 'ours ÷ Curator per round', 'requests/cycle ours', 'Curator'],
    rows: RECIPES.map((recipe) => [
      LABEL[recipe],
      rateCell(recipe, 'ours'),
      rateCell(recipe, 'curator'),
      ratioCell(recipe),
      rpc(recipe, 'ours'),
      rpc(recipe, 'curator'),
    ]),
  };
  const throughputTable: Table = {
    caption: `(b) semaphore, ${CONTENDERS} contenders (a session each), maxLeases ${MAX_LEASES}: leases acquired/s`,
    columns: [
      'lease held',
      'ours',
      'Curator 5.4',
      'ours ÷ Curator per round',
      'per contender/s ours',
      'Curator',
      'requests/lease ours',
      'Curator',
      'peak holders ours',
      'Curator',
    ],
    rows: HOLDS.map((holdMs) => {
      const part = `throughput-hold-${holdMs}`;
      return [
        `${holdMs} ms`,
        rateCell(part, 'ours'),
        rateCell(part, 'curator'),
        ratioCell(part),
        spread(part, 'ours'),
        spread(part, 'curator'),
        rpc(part, 'ours'),
        rpc(part, 'curator'),
        String(peaks[part]?.ours ?? 'n/a'),
        String(peaks[part]?.curator ?? 'n/a'),
      ];
    }),
  };
  const ratios = Object.fromEntries(
    [...RECIPES, ...HOLDS.map((h) => `throughput-hold-${h}`)].map((part) => [
      part,
      roundRatios(all.filter((b) => b.part === part)),
    ]),
  );
  return {
    title: 'Recipes: read-write lock, semaphore, leader latch against Curator',
    tables: [cycleTable, throughputTable],
    notes: [
      ...(withCurator ? [] : [`Curator skipped: ${ctx.curator.reason}`]),
      `Per row, ours (bench/recipes-worker.ts) and Curator (CuratorRecipeWorker with --bursts=1) each in a process of its own, started together and warmed up for ${warmupMs} ms, then kept; they take turns in bursts (a: ${cycleRounds} rounds of ${cycleBurstMs} ms; b: ${tpRounds} rounds of ${tpBurstMs} ms), the order reversed every round, each on a path of its own, all against ZooKeeper member ${ctx.direct}.`,
      `Rates: all cycles (leases) ÷ all burst time, (p25–p75) over bursts. ours ÷ Curator: the two bursts of one round (adjacent in time) divided, median and (p25–p75) over rounds: the figure's result. requests/cycle (lease): ZooKeeper packets received (mntr right before and after each burst) ÷ cycles (leases).`,
      `(a) one session each, uncontended. Latch: a new latch per cycle (a closed latch cannot start again): start, await leadership, close; Curator deletes a closed latch's node in the background.`,
      `(b) ${CONTENDERS} contenders in one process per implementation (ours: ${CONTENDERS} Coordinators; Curator: ${CONTENDERS} threads with a CuratorFramework each), each looping acquire / hold / release while a burst runs; a burst ends when every contender is idle again. Per contender: leases/s in one burst, min–max over contenders and bursts. Peak holders: most leases held at once inside the process over the whole run (≤ ${MAX_LEASES}, or the semaphore is broken).`,
    ],
    data: {
      warmupMs,
      cycleRounds,
      cycleBurstMs,
      tpRounds,
      tpBurstMs,
      contenders: CONTENDERS,
      maxLeases: MAX_LEASES,
      bursts: all,
      peakHolders: peaks,
      ratios,
    },
  };
};
