// Figure 3: herd check. N waiters on one lock, spread over 4 worker processes, 10 waiters per
// session.
// Per release, measured at the server: which sessions watch the released node (wchc: each of
// them gets one notification), the child watches on the lock path (none expected), the change
// of zk_watch_count and of zk_packets_sent (mntr) from just before the release until the next
// holder has acquired.
import { JsonChild, connectRaw, fmt, median, mntr, rawCall, sleep, watchesBySession } from '../lib/common.js';
import type { BenchContext, Figure } from '../lib/context.js';

const PROCESSES = 4;
const WAITERS_PER_SESSION = 10;

interface Holder {
  worker: JsonChild;
  i: number;
  node: string;
  session: string;
}

interface ReleaseSample {
  notified: number;
  notifiedSelf: number;
  childWatchers: number;
  packetsSent: number;
  packetsReceived: number;
  watchCountDelta: number;
}

export const herd: Figure = async (ctx: BenchContext) => {
  const total = ctx.quick ? 200 : 1000;
  const releases = ctx.quick ? 10 : 50;
  const lockPath = `/bench/${ctx.runId}/herd/lock`;
  const client = await connectRaw(ctx.connect);
  await rawCall((cb) => client.mkdirp(lockPath, cb));
  client.close();

  const workers: JsonChild[] = [];
  const perProcess = Math.ceil(total / PROCESSES);
  const sessionsPerProcess = Math.ceil(perProcess / WAITERS_PER_SESSION);
  try {
    const baseline = (await mntr(ctx.members)).get('zk_watch_count') ?? 0;
    // Every 'acquired' event of every worker, in arrival order.
    const acquisitions: Holder[] = [];
    let wake: (() => void) | undefined;
    const acquired = async (timeoutMs: number): Promise<Holder> => {
      const deadline = Date.now() + timeoutMs;
      while (acquisitions.length === 0) {
        if (Date.now() > deadline) throw new Error(`no acquisition within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return acquisitions.shift() as Holder;
    };
    for (let p = 0; p < PROCESSES; p += 1) {
      const worker = new JsonChild('herd-worker.ts', [
        ctx.connect,
        lockPath,
        String(perProcess),
        String(sessionsPerProcess),
        '60000',
        `herd-${p}`,
      ]);
      worker.subscribe((e) => {
        if (e.event !== 'acquired') return;
        acquisitions.push({
          worker,
          i: Number(e.i),
          node: String(e.node),
          session: `0x${String(e.sessionId)}`,
        });
        wake?.();
      });
      workers.push(worker);
    }
    for (const worker of workers) await worker.next((e) => e.event === 'sessions', 60_000);
    // Queued: N-1 waiters watch their predecessor, the holder watches its own node (one watch when
    // the holder and its successor share a session). Wait until the count is there and stable.
    const started = Date.now();
    const sessionCount = sessionsPerProcess * PROCESSES;
    let watches = 0;
    for (let stable = 0; stable < 3;) {
      const latest = ((await mntr(ctx.members)).get('zk_watch_count') ?? 0) - baseline;
      stable = latest === watches && latest >= total - sessionCount ? stable + 1 : 0;
      watches = latest;
      if (Date.now() - started > 90_000) throw new Error(`only ${watches} of ${total} watches after 90 s`);
      await sleep(250);
    }
    ctx.log(`  ${total} waiters queued in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    let holder = await acquired(30_000);
    // An idle pair of mntr calls: what the measurement itself costs in packets (expected 0).
    const idleA = await mntr(ctx.members);
    await sleep(50);
    const idleB = await mntr(ctx.members);
    const idlePackets = (idleB.get('zk_packets_sent') ?? 0) - (idleA.get('zk_packets_sent') ?? 0);
    const idleReceived = (idleB.get('zk_packets_received') ?? 0) - (idleA.get('zk_packets_received') ?? 0);

    const samples: ReleaseSample[] = [];
    for (let r = 0; r < releases; r += 1) {
      const watchers = await watchesBySession(ctx.members);
      let notified = 0;
      let notifiedSelf = 0;
      let childWatchers = 0;
      for (const [session, paths] of watchers) {
        if (paths.includes(holder.node)) {
          notified += 1;
          if (BigInt(session) === BigInt(holder.session)) notifiedSelf += 1;
        }
        if (paths.includes(lockPath)) childWatchers += 1;
      }
      const before = await mntr(ctx.members);
      holder.worker.send({ cmd: 'release', i: holder.i });
      await holder.worker.next((e) => e.event === 'released' && e.i === holder.i, 30_000);
      holder = await acquired(30_000);
      await sleep(50); // the new holder's own requests are answered
      const after = await mntr(ctx.members);
      samples.push({
        notified,
        notifiedSelf,
        childWatchers,
        packetsSent: (after.get('zk_packets_sent') ?? 0) - (before.get('zk_packets_sent') ?? 0) - idlePackets,
        packetsReceived:
          (after.get('zk_packets_received') ?? 0) - (before.get('zk_packets_received') ?? 0) - idleReceived,
        watchCountDelta: (after.get('zk_watch_count') ?? 0) - (before.get('zk_watch_count') ?? 0),
      });
    }
    for (const worker of workers) worker.send({ cmd: 'close' });
    const closed = await Promise.all(workers.map((w) => w.next((e) => e.event === 'closed', 30_000)));
    const unsettled = closed.reduce((sum, e) => sum + Number(e.unsettledAfterClose ?? 0), 0);

    const col = (key: keyof ReleaseSample): number[] => samples.map((s) => s[key]);
    const row = (label: string, key: keyof ReleaseSample): string[] => [
      label,
      fmt(median(col(key)), 1),
      fmt(Math.min(...col(key)), 0),
      fmt(Math.max(...col(key)), 0),
    ];
    const notes = [
      `${total} waiters on one lock in ${PROCESSES} processes, ${WAITERS_PER_SESSION} waiters per session (${sessionCount} sessions), ${releases} releases; a released waiter does not queue again. Counted at the server (wchc, mntr), summed over members.`,
      'Notifications per release = sessions watching the released node (the server sends each one NODE_DELETED) + child watches on the lock path (each would get NODE_CHILDREN_CHANGED). A herd would show ~N per release.',
      `Server packets from just before a release until 50 ms after the next holder acquired, minus an idle window of the same shape (${idlePackets} sent / ${idleReceived} received: the four-letter words themselves). The least a queue recipe can do: received = the delete + the next holder's re-listing (needed unless its predecessor was first in its last listing); sent = their answers + 1 notification.`,
    ];
    if (unsettled > 0)
      notes.push(
        `${unsettled} pending acquire() call(s) did not settle within 5 s after coordinator.close().`,
      );
    return {
      title: 'Herd check',
      tables: [
        {
          columns: ['per release', 'median', 'min', 'max'],
          rows: [
            row('watch notifications sent (sessions watching the released node)', 'notified'),
            row('… of which to the releasing session itself', 'notifiedSelf'),
            row('child watches on the lock path', 'childWatchers'),
            row('server packets sent', 'packetsSent'),
            row('server packets received (client requests)', 'packetsReceived'),
            row('zk_watch_count change', 'watchCountDelta'),
          ],
        },
      ],
      notes,
      data: {
        idleReceived,
        waiters: total,
        processes: PROCESSES,
        releases,
        idlePackets,
        samples,
        unsettledAfterClose: unsettled,
      },
    };
  } finally {
    for (const worker of workers) worker.kill();
  }
};
