/**
 * node:test's `it` with a timeout per test. Node 20's `--test-timeout` bounds only a whole spec
 * file: one hanging test would cancel every later test of its file and never name itself.
 */
import { it as nodeIt, type TestContext, type TestOptions } from 'node:test';

export { after, before, describe } from 'node:test';

/** Far above any test outside the chaos run (a whole spec file takes under 25 s on a busy 2-core machine). */
export const TEST_TIMEOUT_MS = 90_000;

type TestBody = (t: TestContext) => void | Promise<void>;

export function it(name: string, fn: TestBody): void;
export function it(name: string, options: TestOptions, fn: TestBody): void;
export function it(name: string, optionsOrFn: TestOptions | TestBody, maybeFn?: TestBody): void {
  const [options, fn] = typeof optionsOrFn === 'function' ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
  if (!fn) throw new TypeError(`test "${name}" has no body`);
  // The runner tracks the test itself (as for a plain `it`), so its promise needs no handling here.
  void nodeIt(name, { timeout: TEST_TIMEOUT_MS, ...options }, fn);
}
