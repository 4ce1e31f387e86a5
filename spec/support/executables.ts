import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Path of an executable from $JAVA_HOME/bin or $PATH, like `which` (JAVA_HOME first). */
export function findExecutable(name: string): string | undefined {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, 'bin', name));
  for (const dir of (process.env.PATH ?? '').split(path.delimiter))
    if (dir) candidates.push(path.join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}
