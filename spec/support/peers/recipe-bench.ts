// Bench launchers of the Curator recipe worker (CuratorRecipeBench.java), for bench/figures/recipes.ts:
// uncontended recipe cycles and semaphore throughput. Started like every recipe worker (recipes.ts).
import { finiteNumber, runToResult, startArgs, wireStart, type StartOptions } from './index.js';
import { numberOr, startRecipeWorker, type CuratorRecipe, type RecipeCommon } from './recipes.js';

export type CuratorBenchRecipe = 'rwlock-read' | 'rwlock-write' | 'semaphore' | 'latch';

export interface CuratorRecipeBenchOptions extends RecipeCommon, StartOptions {
  recipe: CuratorBenchRecipe;
  seconds: number;
  /** Semaphore only. Default 3. */
  maxLeases?: number;
  /** Called when the timed part starts (after the warm-up). */
  onTimed?: () => void;
  /** Whole run, after compilation. Default seconds * 1000 + 60 000. */
  timeoutMs?: number;
}

export interface CuratorRecipeBenchResult {
  recipe: CuratorBenchRecipe;
  cycles: number;
  seconds: number;
  cyclesPerSecond: number;
}

/**
 * Uncontended cycles of one client for `seconds` after a 1 s warm-up: read lock or write lock
 * acquire + release, lease acquire + return, or latch start + await leadership + close.
 */
export async function runCuratorRecipeBench(
  opts: CuratorRecipeBenchOptions,
): Promise<CuratorRecipeBenchResult> {
  const [recipe, side] = opts.recipe.split('-') as [CuratorRecipe, string | undefined];
  const extra = [`--seconds=${opts.seconds}`, ...startArgs(opts)];
  if (side) extra.push(`--side=${side}`);
  if (recipe === 'semaphore') extra.push(`--maxLeases=${opts.maxLeases ?? 3}`);
  const worker = await startRecipeWorker(recipe, 'bench', opts, extra);
  wireStart(worker, opts);
  worker.onEvent((event) => {
    if (event.event === 'timed') opts.onTimed?.();
  });
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? opts.seconds * 1000 + 60_000, signal: opts.signal, okCodes: [0] },
    (event) => {
      if (event.event !== undefined || !finiteNumber(event.cycles) || !finiteNumber(event.cyclesPerSecond))
        return undefined;
      return {
        recipe: opts.recipe,
        cycles: event.cycles,
        seconds: numberOr(event.seconds, opts.seconds),
        cyclesPerSecond: event.cyclesPerSecond,
      };
    },
  );
}

export interface CuratorThroughputOptions extends RecipeCommon, StartOptions {
  /** Contenders, each a thread with a CuratorFramework (a session) of its own. Default 8. */
  contenders?: number;
  /** Default 3. */
  maxLeases?: number;
  /** Time each lease is held. Default 0. */
  holdMs?: number;
  seconds: number;
  /** Whole run, after compilation. Default seconds * 1000 + 60 000. */
  timeoutMs?: number;
}

export interface ThroughputResult {
  contenders: number;
  maxLeases: number;
  holdMs: number;
  acquires: number;
  seconds: number;
  acquiresPerSecond: number;
  /** Most leases held at once in the worker (the whole run, warm-up included). */
  peakHolders: number;
  /** Leases acquired per contender in the timed window. */
  perContender: number[];
}

/** Semaphore acquire throughput: contenders loop acquire / hold / return; 1 s warm-up, then `seconds`. */
export async function runCuratorSemaphoreThroughput(
  opts: CuratorThroughputOptions,
): Promise<ThroughputResult> {
  const contenders = opts.contenders ?? 8;
  const maxLeases = opts.maxLeases ?? 3;
  const holdMs = opts.holdMs ?? 0;
  const worker = await startRecipeWorker('semaphore', 'throughput', opts, [
    `--seconds=${opts.seconds}`,
    `--contenders=${contenders}`,
    `--maxLeases=${maxLeases}`,
    `--holdMs=${holdMs}`,
    ...startArgs(opts),
  ]);
  wireStart(worker, opts);
  return runToResult(
    worker,
    { timeoutMs: opts.timeoutMs ?? opts.seconds * 1000 + 60_000, signal: opts.signal, okCodes: [0] },
    (event) => {
      if (event.event !== undefined || !finiteNumber(event.acquires)) return undefined;
      return {
        contenders,
        maxLeases,
        holdMs,
        acquires: event.acquires,
        seconds: numberOr(event.seconds, opts.seconds),
        acquiresPerSecond: numberOr(event.acquiresPerSecond, 0),
        peakHolders: numberOr(event.peakHolders, 0),
        perContender: Array.isArray(event.perContender) ? event.perContender.filter(finiteNumber) : [],
      };
    },
  );
}
