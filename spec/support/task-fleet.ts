// A fleet of task group members in one process, one coordinator each (the task group specs).
import type { Coordinator, TaskGroup, TaskGroupOptions } from '../../lib/index.js';
import type { CoordinatorPool } from './coordinators.js';

let counter = 0;
export const uniquePath = (name: string): string =>
  `/task-group-spec/${name}-${process.pid}-${(counter += 1)}`;
export const taskNames = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `t${String(i).padStart(2, '0')}`);

/**
 * Members of one group in this process, one coordinator each. Tracks, per task, how many run
 * callbacks are inside at once (any overlap is a violation) and how often a task changed owner.
 */
export class Fleet {
  readonly members = new Map<string, TaskGroup>();
  readonly coordinators = new Map<string, Coordinator>();
  readonly inside = new Map<string, number>();
  readonly lastOwner = new Map<string, string>();
  overlaps = 0;
  moves = 0;
  readonly startedAt = new Map<string, number>();

  constructor(
    private readonly pool: CoordinatorPool,
    private readonly connectString: string,
    readonly path: string,
    private readonly sessionTimeoutMs = 10_000,
  ) {}

  async add(
    id: string,
    options: Partial<TaskGroupOptions> & Pick<TaskGroupOptions, 'tasks'>,
    connectString = this.connectString,
  ): Promise<TaskGroup> {
    const coordinator = await this.pool.start({ connectString, sessionTimeoutMs: this.sessionTimeoutMs });
    this.coordinators.set(id, coordinator);
    const group = coordinator.createTaskGroup(this.path, {
      id,
      minimumWorkTimeMs: 0,
      run: async (task, control) => {
        const now = (this.inside.get(task) ?? 0) + 1;
        this.inside.set(task, now);
        if (now > 1) this.overlaps += 1;
        this.startedAt.set(task, Date.now());
        const previous = this.lastOwner.get(task);
        if (previous !== undefined && previous !== id) this.moves += 1;
        this.lastOwner.set(task, id);
        try {
          await control.waitUntilShouldStop(3_600_000);
        } finally {
          this.inside.set(task, (this.inside.get(task) ?? 1) - 1);
        }
      },
      ...options,
    });
    group.on('error', (error) => process.stdout.write(`# ${id}: ${String(error)}\n`));
    this.members.set(id, group);
    group.start();
    return group;
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.members].map(([id, g]) => [id, g.ownedTasks().length]));
  }

  /** Tasks owned by some member here (each counted once; a duplicate would be an overlap). */
  ownedUnion(): Set<string> {
    return new Set([...this.members.values()].flatMap((g) => g.ownedTasks()));
  }

  balanced(tasks: number, lower: number, upper: number, extra = 0): boolean {
    const counts = Object.values(this.counts());
    return (
      counts.reduce((a, b) => a + b, 0) + extra === tasks &&
      this.ownedUnion().size + extra === tasks &&
      counts.every((c) => c >= lower && c <= upper)
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((g) => g.stop()));
  }
}
