// Bench launchers of the Curator recipe worker (CuratorRecipeBench.java), for bench/figures/recipes.ts:
// uncontended recipe cycles and semaphore throughput. Started like every recipe worker (recipes.ts).
import { finiteNumber, runToResult, startArgs, wireStart, type Json, type StartOptions } from './index.js';
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

// ---------------------------------------------------------------------------------------------------
// Bursts: a worker that warms up, then runs on command, so a driver can interleave implementations

export interface CuratorBurstOptions extends RecipeCommon {
  /** An uncontended cycle, or 'semaphore-throughput' (contenders, maxLeases, holdMs). */
  recipe: CuratorBenchRecipe | 'semaphore-throughput';
  /** Run before "ready". Default 2000. */
  warmupMs?: number;
  /** Default 3. */
  maxLeases?: number;
  /** semaphore-throughput: contenders (a thread and a session each). Default 8. */
  contenders?: number;
  /** semaphore-throughput: time each lease is held. Default 0. */
  holdMs?: number;
}

/** One burst's result: cycles (uncontended) or acquires and perContender (throughput), in ms. */
export interface BurstResult {
  ms: number;
  cycles?: number;
  acquires?: number;
  perContender?: number[];
}

export interface CuratorBurster {
  /** Runs for `ms` and resolves with what was done (timeout: ms + 30 s). */
  burst(ms: number): Promise<BurstResult>;
  /** Ends the worker; resolves with the most leases held at once (throughput; 0 otherwise). */
  done(): Promise<{ peakHolders: number }>;
  kill(): void;
}

/** Starts a burst worker and resolves once it has warmed up. */
export async function startCuratorBurster(opts: CuratorBurstOptions): Promise<CuratorBurster> {
  const throughput = opts.recipe === 'semaphore-throughput';
  const [recipe, side] = (throughput ? ['semaphore'] : opts.recipe.split('-')) as [CuratorRecipe, string?];
  const extra = ['--bursts=1', `--warmupMs=${opts.warmupMs ?? 2000}`, `--maxLeases=${opts.maxLeases ?? 3}`];
  if (side) extra.push(`--side=${side}`);
  if (throughput) extra.push(`--contenders=${opts.contenders ?? 8}`, `--holdMs=${opts.holdMs ?? 0}`);
  const worker = await startRecipeWorker(recipe, throughput ? 'throughput' : 'bench', opts, extra);
  const events: Json[] = [];
  const wakers = new Set<() => void>();
  worker.onEvent((event) => {
    events.push(event);
    for (const wake of [...wakers]) wake();
  });
  const next = (pick: (event: Json) => boolean, timeoutMs: number, what: string): Promise<Json> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const index = events.findIndex(pick);
        if (index >= 0) {
          done();
          resolve(events.splice(index, 1)[0] as Json);
        } else if (!worker.running) {
          done();
          reject(new Error(`${worker.describe()} exited before ${what}${worker.diagnostics()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        worker.kill();
        reject(new Error(`${worker.describe()}: no ${what} within ${timeoutMs} ms${worker.diagnostics()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(check);
      };
      wakers.add(check);
      void worker.exited.then(check);
      check();
    });
  await next((e) => e.event === 'ready', (opts.warmupMs ?? 2000) + 60_000, 'ready');
  let id = 0;
  return {
    async burst(ms: number): Promise<BurstResult> {
      const burst = String((id += 1));
      worker.send(`burst ${burst} ${Math.round(ms)}`);
      const event = await next((e) => e.burst === burst, ms + 30_000, `burst ${burst}`);
      return {
        ms: numberOr(event.ms, ms),
        ...(finiteNumber(event.cycles) ? { cycles: event.cycles } : {}),
        ...(finiteNumber(event.acquires) ? { acquires: event.acquires } : {}),
        ...(Array.isArray(event.perContender)
          ? { perContender: event.perContender.filter(finiteNumber) }
          : {}),
      };
    },
    async done(): Promise<{ peakHolders: number }> {
      worker.send('done');
      const event = await next((e) => e.event === 'done', 30_000, 'done');
      worker.closeStdin();
      await worker.exited;
      return { peakHolders: numberOr(event.peakHolders, 0) };
    },
    kill: () => worker.kill(),
  };
}
