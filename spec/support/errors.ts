import assert from 'node:assert/strict';
import { ZkLeaderSelectorError } from '../../lib/index.js';

/** For assert.throws / assert.rejects: a ZkLeaderSelectorError with this stable code. */
export function isCode(code: string) {
  return (error: unknown): boolean => {
    assert.ok(
      error instanceof ZkLeaderSelectorError,
      `expected a ZkLeaderSelectorError, got ${String(error)}`,
    );
    assert.equal(error.code, code);
    return true;
  };
}
