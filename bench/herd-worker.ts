// Worker process for figure 3 (herd check):
//   herd-worker.ts <connect> <lockPath> <waiters> <sessions> <sessionTimeoutMs> <tag>
// <sessions> Coordinators (one session each) with <waiters> lock instances on <lockPath> spread
// over them round-robin, all waiting at once.
// Events: {"event":"sessions","sessionIds"}, {"event":"acquired","i","node","sessionId"} when one of ours gets the
// lock, {"event":"released","i"} after {"cmd":"release","i"}. {"cmd":"close"} closes the session and
// exits. A waiter that released does not queue again.
import { Coordinator } from '../lib/index.js';
import { workerIo, type Json } from './lib/common.js';

const [
  connect = '',
  lockPath = '',
  waitersText = '250',
  sessionsText = '25',
  sessionText = '60000',
  tag = 'herd',
] = process.argv.slice(2);
const releaseRequests = new Map<number, () => void>();
let closing: (() => void) | undefined;
const { emit } = workerIo((command: Json) => {
  if (command.cmd === 'release' && typeof command.i === 'number') releaseRequests.get(command.i)?.();
  if (command.cmd === 'close') closing?.();
});

const coordinators = await Promise.all(
  Array.from({ length: Number(sessionsText) }, async () => {
    const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: Number(sessionText) });
    await coordinator.start();
    return coordinator;
  }),
);
emit({ event: 'sessions', sessionIds: coordinators.map((c) => c.sessionId) });

let pendingAcquires = 0;
const waiter = async (i: number): Promise<void> => {
  const coordinator = coordinators[i % coordinators.length] as Coordinator;
  const lock = coordinator.createLock(lockPath, { id: `${tag}-${i}` });
  const released = new Promise<void>((resolve) => releaseRequests.set(i, resolve));
  pendingAcquires += 1;
  let acquired: boolean;
  try {
    acquired = await lock.acquire();
  } finally {
    pendingAcquires -= 1;
  }
  if (!acquired) return;
  emit({ event: 'acquired', i, node: lock.nodePath, sessionId: coordinator.sessionId });
  await released;
  await lock.release();
  emit({ event: 'released', i });
};
// Waiters still queued at close() end with the session (acquire() rejects): nothing to report.
for (let i = 0; i < Number(waitersText); i += 1) void waiter(i).catch(() => undefined);
await new Promise<void>((resolve) => (closing = resolve));
await Promise.all(coordinators.map((c) => c.close()));
// Every pending acquire() must settle once its coordinator is closed: report any that did not.
const deadline = Date.now() + 5_000;
while (pendingAcquires > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
emit({ event: 'closed', unsettledAfterClose: pendingAcquires });
process.exit(0);
