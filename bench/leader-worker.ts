// Worker process for figure 4 (leader failover):
//   leader-worker.ts <connect> <selectorPath> <sessionTimeoutMs>
// One Coordinator and one LeaderSelector. Events: {"event":"leading"} when its term starts.
// {"cmd":"stop"}: selector.stop() (graceful), then {"event":"stopped"}, close, exit 0.
// The driver may also kill it with SIGKILL (a crash: the session stays until it expires).
import { Coordinator } from '../lib/index.js';
import { workerIo, type Json } from './lib/common.js';

const [connect = '', selectorPath = '', sessionText = '10000'] = process.argv.slice(2);
let stopRequested: (() => void) | undefined;
const stop = new Promise<void>((resolve) => (stopRequested = resolve));
const { emit } = workerIo((command: Json) => {
  if (command.cmd === 'stop') stopRequested?.();
});

const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: Number(sessionText) });
await coordinator.start();
const selector = coordinator.createLeaderSelector(selectorPath, {
  id: `leader-worker-${process.pid}`,
  minimumWorkTimeMs: 0,
  leader: async (control) => {
    emit({ event: 'leading' });
    await control.waitUntilShouldStop(3_600_000);
  },
});
selector.start();
await stop;
await selector.stop();
emit({ event: 'stopped' });
await coordinator.close();
process.exit(0);
