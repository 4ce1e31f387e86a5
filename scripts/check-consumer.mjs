// Type-checks a consumer of the built package, as ESM (.mts) and CommonJS (.cts), with
// skipLibCheck off: the published declarations must stand on their own.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve('.');
const dir = mkdtempSync(join(tmpdir(), 'zk-consumer-'));
try {
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'zk-leader-selector'));
  const body = `
const coordinator = new Coordinator({ connectString: '127.0.0.1:2181', sessionTimeoutMs: 15_000 });
const lock = coordinator.createLock('/app/locks/report', { id: 'worker' });
const selector = new LeaderSelector({
  lock,
  leader: async (control: Control) => {
    const token: bigint = control.fencingToken;
    const deadline: number = control.ownershipDeadline();
    await control.waitUntilShouldStop(deadline - Date.now());
    void token;
  },
});
export async function main(): Promise<boolean> {
  await coordinator.start();
  const acquired: boolean = await lock.acquire({ timeoutMs: 1000 });
  selector.start();
  await selector.stop();
  await coordinator.close();
  return acquired && error instanceof ZkLeaderSelectorError;
}
declare const error: unknown;
`;
  writeFileSync(
    join(dir, 'esm.mts'),
    `import { Coordinator, LeaderSelector, ZkLeaderSelectorError, type Control } from 'zk-leader-selector';\n${body}`,
  );
  writeFileSync(
    join(dir, 'cjs.cts'),
    `import { Coordinator, LeaderSelector, ZkLeaderSelectorError, type Control } from 'zk-leader-selector';\n${body}`,
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['esm.mts', 'cjs.cts'],
    }),
  );
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
    stdio: 'inherit',
  });
  // And at run time: require() and import both load it.
  writeFileSync(
    join(dir, 'load.cjs'),
    `const m = require('zk-leader-selector'); if (typeof m.Coordinator !== 'function') process.exit(1);`,
  );
  writeFileSync(
    join(dir, 'load.mjs'),
    `import { Coordinator } from 'zk-leader-selector'; if (typeof Coordinator !== 'function') process.exit(1);`,
  );
  execFileSync(process.execPath, [join(dir, 'load.cjs')], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(dir, 'load.mjs')], { stdio: 'inherit' });
  console.log('consumer check: ESM and CommonJS consumers type-check against dist/ and load it');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
