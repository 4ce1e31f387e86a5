/**
 * What the recipe interop specs share (spec/recipe-markers.spec.ts, spec/recipes-interop.spec.ts):
 * a real ZooKeeper, the compiled Curator recipe worker, fresh paths and marker directories, our
 * coordinators, and cleanup of every peer and directory at the end.
 */
import type { Coordinator, CoordinatorOptions } from '../../lib/index.js';
import { CoordinatorPool } from './coordinators.js';
import {
  compileCuratorRecipeWorker,
  curatorAvailable,
  type CuratorHeld,
  type CuratorLatchPeer,
} from './peers/recipes.js';
import { makeMarkerDir, removeMarkerDir } from './recipe-markers.js';
import { ZooKeeperCluster, zooKeeperAvailable, type ZooKeeperOptions } from './zookeeper.js';

/** Why the recipe interop specs cannot run here (no ZooKeeper, no Java/Curator), or false. */
export function recipeInteropSkipReason(): string | false {
  const reasons: string[] = [];
  for (const [name, availability] of [
    ['ZooKeeper', zooKeeperAvailable()],
    ['Curator', curatorAvailable()],
  ] as const) {
    if (!availability.ok) reasons.push(`${name}: ${availability.reason}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : false;
}

export const SESSION_TIMEOUT_MS = 10_000;

export class RecipeInterop {
  private zkCluster: ZooKeeperCluster | undefined;
  private readonly dirs: string[] = [];
  private readonly cleanup: Array<() => unknown> = [];
  private readonly pool = new CoordinatorPool();
  private n = 0;

  constructor(
    private readonly label: string,
    private readonly zooKeeperOptions: ZooKeeperOptions = {},
  ) {}

  /** Starts ZooKeeper and compiles the Curator worker (for a before() hook). */
  async start(): Promise<void> {
    [this.zkCluster] = await Promise.all([
      ZooKeeperCluster.startStandalone(this.zooKeeperOptions),
      compileCuratorRecipeWorker(),
    ]);
  }

  get zk(): ZooKeeperCluster {
    if (!this.zkCluster) throw new Error('RecipeInterop.start() first');
    return this.zkCluster;
  }

  /** Kills every kept peer, closes our coordinators and ZooKeeper, removes the marker directories. */
  async close(): Promise<void> {
    for (const fn of this.cleanup.splice(0)) fn();
    await this.pool.closeAll();
    await this.zkCluster?.close();
    await Promise.all(this.dirs.splice(0).map((dir) => removeMarkerDir(dir)));
  }

  /** Connection options for Curator workers and our coordinators. */
  base(): { connectString: string; sessionTimeoutMs: number } {
    return { connectString: this.zk.connectString, sessionTimeoutMs: SESSION_TIMEOUT_MS };
  }

  /** A fresh recipe path and marker directory. */
  async fresh(label: string): Promise<{ path: string; dir: string }> {
    this.n += 1;
    const path = `/${this.label}/${label}-${process.pid}-${this.n}`;
    const dir = await makeMarkerDir(label);
    this.dirs.push(dir);
    return { path, dir };
  }

  /** Kills the peer at close() if it is still running (a failed test must not leave it holding). */
  keep<T extends CuratorHeld | CuratorLatchPeer>(peer: T): T {
    this.cleanup.push(() => peer.kill());
    return peer;
  }

  /** A started Coordinator with these options over the defaults, closed at close(). */
  coordinator(options: Partial<CoordinatorOptions> = {}): Promise<Coordinator> {
    return this.pool.start({ ...this.base(), ...options });
  }

  /** `count` started Coordinators (a session each), closed at close(). */
  coordinators(count: number): Promise<Coordinator[]> {
    return Promise.all(Array.from({ length: count }, () => this.pool.start(this.base())));
  }
}

/**
 * Starts `count` Curator loop workers together: pass onReady and startGate to each; `allReady`
 * resolves once every one is connected (and they are told to go), so our loops can start then.
 */
export function startTogether(count: number): {
  onReady: () => void;
  startGate: Promise<void>;
  allReady: Promise<void>;
} {
  let ready = 0;
  let go!: () => void;
  const startGate = new Promise<void>((resolve) => (go = resolve));
  return {
    onReady: () => {
      ready += 1;
      if (ready === count) go();
    },
    startGate,
    allReady: startGate,
  };
}
