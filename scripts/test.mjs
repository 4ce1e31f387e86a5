// Runs every spec/**/*.spec.ts file with node's test runner (through tsx), two files at a time.
// Each spec file starts its own ZooKeeper (spec/support), so files are independent processes.
// Usage: npm test [-- spec/some.spec.ts ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function findSpecs(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'support' ? [] : findSpecs(path);
    return entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

// ZooKeeper (and the Curator/kazoo peers) from Debian's packages: installed when missing and
// root, otherwise the script says what to install. Skipped when an external server is given.
if (!process.env.ZOOKEEPER_CONNECT_STRING) {
  const install = spawnSync('bash', ['scripts/install-zookeeper.sh', '--peers'], { stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : findSpecs('spec').sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
