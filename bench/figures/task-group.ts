// Figure 7: task groups. Members in child processes (bench/task-worker.ts), one group of T tasks
// (1,000; 300 with --quick). Measured in one sequence: time for 5 members started together to
// balance the tasks; server requests/s per member while idle (mntr packets received ÷ window ÷
// members); a 6th member joining (moves, time); a graceful stop of one member and a kill -9 of
// another (time until all of its tasks run elsewhere, and until balanced again).
import { JsonChild, fmt, mntr, sleep } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

class Member {
  readonly owned = new Set<string>();
  readonly child: JsonChild;
  constructor(
    readonly id: string,
    ctx: BenchContext,
    path: string,
    tasks: number,
    sessionTimeoutMs: number,
    fleet: Fleet,
  ) {
    this.child = new JsonChild('task-worker.ts', [
      ctx.connect,
      path,
      id,
      String(tasks),
      String(sessionTimeoutMs),
    ]);
    this.child.subscribe((event) => {
      const task = String(event.task);
      if (event.event === 'started') {
        this.owned.add(task);
        fleet.started(this.id, task, Number(event.at));
      } else if (event.event === 'stopped') this.owned.delete(task);
    });
  }
}

class Fleet {
  readonly members: Member[] = [];
  private readonly owners = new Map<string, string>();
  readonly startedAt = new Map<string, number>();
  moves = 0;
  started(id: string, task: string, at: number): void {
    const previous = this.owners.get(task);
    if (previous !== undefined && previous !== id) this.moves += 1;
    this.owners.set(task, id);
    this.startedAt.set(task, at);
  }
  live(): Member[] {
    return this.members.filter((m) => m.child.running);
  }
  balanced(tasks: number): boolean {
    const live = this.live();
    const counts = live.map((m) => m.owned.size);
    const union = new Set(live.flatMap((m) => [...m.owned]));
    const lower = Math.floor(tasks / live.length);
    return union.size === tasks && counts.every((c) => c >= lower && c <= Math.ceil(tasks / live.length));
  }
  ownedElsewhere(tasks: readonly string[], gone: Member): boolean {
    const union = new Set(
      this.live()
        .filter((m) => m !== gone)
        .flatMap((m) => [...m.owned]),
    );
    return tasks.every((t) => union.has(t));
  }
}

async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(5);
  }
  return Date.now() - start;
}

export const taskGroup: Figure = async (ctx: BenchContext) => {
  const tasks = ctx.quick ? 300 : 1000;
  const S = 5_000;
  const idleWindowMs = ctx.quick ? 10_000 : 30_000;
  const path = `/bench/${ctx.runId}/task-group`;
  const fleet = new Fleet();
  const spawnMember = (id: string): Member => {
    const member = new Member(id, ctx, path, tasks, S, fleet);
    fleet.members.push(member);
    return member;
  };
  const rows: string[][] = [];
  const data: Record<string, unknown> = { tasks, sessionTimeoutMs: S, idleWindowMs };
  try {
    // 1. Five members started together.
    const five = ['m1', 'm2', 'm3', 'm4', 'm5'].map(spawnMember);
    await Promise.all(five.map((m) => m.child.next((e) => e.event === 'ready', 60_000)));
    const t0 = Date.now();
    for (const m of five) m.child.send({ cmd: 'start' });
    await until(() => fleet.balanced(tasks), 120_000, 'balance over 5 members');
    const balanceMs = Date.now() - t0;
    data.balance = { ms: balanceMs, moves: fleet.moves };
    ctx.log(`  5 members: ${tasks} tasks balanced after ${balanceMs} ms (${fleet.moves} moves on the way)`);
    rows.push([
      `${tasks} tasks, 5 members started together`,
      'balanced',
      fmt(balanceMs, 0),
      `${fleet.moves} moves on the way`,
    ]);

    // 2. Idle load per member.
    await sleep(2_000);
    const before = await mntr(ctx.members);
    await sleep(idleWindowMs);
    const after = await mntr(ctx.members);
    const packets = (after.get('zk_packets_received') ?? 0) - (before.get('zk_packets_received') ?? 0);
    const perMember = packets / (idleWindowMs / 1000) / five.length;
    data.idle = { packets, perMemberPerSecond: perMember, ownedPerMember: tasks / 5 };
    ctx.log(`  idle: ${fmt(perMember, 2)} requests/s per member with ${tasks / 5} tasks each`);
    rows.push([
      `idle, ${tasks / 5} tasks per member`,
      'requests/s per member',
      fmt(perMember, 2),
      `${packets} packets in ${idleWindowMs / 1000} s, 5 members`,
    ]);

    // 3. A sixth member joins.
    const movesBefore = fleet.moves;
    const sixth = spawnMember('m6');
    await sixth.child.next((e) => e.event === 'ready', 60_000);
    const tJoin = Date.now();
    sixth.child.send({ cmd: 'start' });
    await until(() => fleet.balanced(tasks), 60_000, 'balance after the join');
    const joinMs = Date.now() - tJoin;
    const joinMoves = fleet.moves - movesBefore;
    data.join = {
      ms: joinMs,
      moves: joinMoves,
      joinerOwns: sixth.owned.size,
      minimum: Math.floor(tasks / 6),
    };
    ctx.log(`  join: balanced after ${joinMs} ms, ${joinMoves} moves (minimum ${Math.floor(tasks / 6)})`);
    rows.push([
      'a 6th member joins',
      'balanced',
      fmt(joinMs, 0),
      `${joinMoves} moves (minimum ${Math.floor(tasks / 6)})`,
    ]);

    // 4. Graceful stop of one member; 5. kill -9 of another.
    for (const [how, victim] of [
      ['graceful stop()', five[0]],
      ['kill -9', five[1]],
    ] as const) {
      if (!victim) continue;
      const theirs = [...victim.owned];
      const t = Date.now();
      if (how === 'kill -9') victim.child.kill('SIGKILL');
      else victim.child.send({ cmd: 'stop' });
      await until(() => fleet.ownedElsewhere(theirs, victim), S * 2 + 20_000, `takeover after ${how}`);
      const takeover = Math.max(...theirs.map((task) => fleet.startedAt.get(task) ?? t)) - t;
      await victim.child.exited;
      await until(() => fleet.balanced(tasks), 60_000, `balance after ${how}`);
      const balanced = Date.now() - t;
      data[how === 'kill -9' ? 'kill' : 'stop'] = {
        tasks: theirs.length,
        takeoverMs: takeover,
        balancedMs: balanced,
      };
      ctx.log(
        `  ${how}: ${theirs.length} tasks taken over after ${takeover} ms, balanced after ${balanced} ms`,
      );
      rows.push([
        `${how} of a member (${theirs.length} tasks)`,
        'all taken over',
        fmt(takeover, 0),
        `balanced after ${fmt(balanced, 0)} ms`,
      ]);
    }
  } finally {
    for (const m of fleet.live()) m.child.send({ cmd: 'stop' });
    await Promise.all(fleet.members.map((m) => m.child.finish(15_000)));
  }
  return {
    title: 'Task groups',
    tables: [{ columns: ['event', 'until', 'ms (or requests/s)', 'notes'], rows }],
    notes: [
      `${tasks} tasks, members in processes of their own (one Coordinator each, S = ${S / 1000} s, task locks verified every 30 s beside the watch on their node). From the start / join / stop request / SIGKILL to the last task started elsewhere, and to every member within floor..ceil(T / M).`,
      "Moves: tasks whose term started on another member than the one that ran it before. Idle: zk_packets_received over the window ÷ window ÷ members (heartbeats plus the task locks' periodic verification; the four-letter words themselves add 2 packets).",
    ],
    data,
  };
};
