// Worker process for figure 7 (task groups):
//   task-worker.ts <connect> <groupPath> <id> <tasks> <sessionTimeoutMs>
// One Coordinator; {"event":"ready"} once connected. {"cmd":"start"}: joins the group (tasks
// t0000..t<n-1>). Events: {"event":"started"|"stopped","task","reason"?,"at"} (epoch ms).
// {"cmd":"stop"}: group.stop() (graceful), close, {"event":"stopped-all"}, exit 0.
// The driver may also kill it with SIGKILL (a crash: the session stays until it expires).
import { Coordinator, type TaskGroup } from '../lib/index.js';
import { workerIo, type Json } from './lib/common.js';

const [connect = '', groupPath = '', id = '', count = '1000', sessionText = '10000'] = process.argv.slice(2);
const tasks = Array.from({ length: Number(count) }, (_, i) => `t${String(i).padStart(4, '0')}`);
let group: TaskGroup | undefined;
const coordinator = new Coordinator({ connectString: connect, sessionTimeoutMs: Number(sessionText) });
const { emit } = workerIo((command: Json) => {
  if (command.cmd === 'start') start();
  if (command.cmd === 'stop') void stop();
});

function start(): void {
  group = coordinator.createTaskGroup(groupPath, {
    id,
    tasks,
    minimumWorkTimeMs: 0,
    run: async (task, control) => {
      emit({ event: 'started', task, at: Date.now() });
      await control.waitUntilShouldStop(3_600_000);
      emit({ event: 'stopped', task, reason: String(control.signal.reason), at: Date.now() });
    },
  });
  group.on('error', (error) => process.stderr.write(`${id}: ${String(error)}\n`));
  group.start();
}

async function stop(): Promise<void> {
  await group?.stop();
  await coordinator.close();
  emit({ event: 'stopped-all', at: Date.now() });
  process.exit(0);
}

await coordinator.start();
emit({ event: 'ready' });
