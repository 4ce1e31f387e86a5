/** Runs a TypeScript fixture in a child process and collects its JSON result line. */
import { spawn, type ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface FixtureRun<T> {
  child: ChildProcess;
  result: Promise<T>;
}

export function runFixture<T>(script: string, args: string[], timeoutMs = 120_000): FixtureRun<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as T);
      else
        reject(
          new Error(`${script} exited with ${code ?? signal}: ${stderr.slice(-2000)} ${stdout.slice(-500)}`),
        );
    });
  });
  return { child, result };
}
