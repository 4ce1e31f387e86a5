// The balancing rules of task groups (lib/tasks/balancer.ts), a pure function of one member's view.
import assert from 'node:assert/strict';
import { describe, it } from './support/test.js';
import { balance, type MemberState } from '../lib/tasks/balancer.js';

const tasks = (...numbers: number[]): string[] => numbers.map((n) => `t${String(n).padStart(2, '0')}`);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('task balancer', () => {
  it('a member above its share hands a wanted task to a member below it', () => {
    const others = new Map<string, MemberState>([
      ['b', { owned: tasks(5, 6, 7), wants: tasks(0) }],
      ['c', { owned: tasks(8, 9, 10, 11), wants: [] }],
    ]);
    const plan = balance({
      self: 'a',
      others,
      known: tasks(...range(0, 12)),
      owned: new Set(tasks(0, 1, 2, 3, 4)),
      waiting: new Set(),
      gifts: [],
    });
    assert.deepEqual([plan.lower, plan.upper], [4, 4]);
    assert.deepEqual(plan.handOver, [{ to: 'b', task: 't00' }]);
  });

  it('a hand-over that another member won no longer counts for its requester (no wait for the gift to expire)', () => {
    // a handed t11 to b, but c was queued ahead of b on it and runs it now. b is still below its
    // share and queues for t00: counting t11 for b would make b look full until the gift expired.
    const others = new Map<string, MemberState>([
      ['b', { owned: tasks(5, 6, 7), wants: tasks(0) }],
      ['c', { owned: tasks(8, 9, 10, 11), wants: [] }],
    ]);
    const plan = balance({
      self: 'a',
      others,
      known: tasks(...range(0, 12)),
      owned: new Set(tasks(0, 1, 2, 3, 4)),
      waiting: new Set(),
      gifts: [{ to: 'b', task: 't11' }],
    });
    assert.deepEqual(plan.handOver, [{ to: 'b', task: 't00' }]);
  });

  it('a hand-over in flight (the requester still waits for it, nobody shows it) counts for the requester', () => {
    // a handed t04 to b a moment ago: b's state does not show it yet. b counts as 4 (the floor of
    // 13 tasks over 3), not 3, so a (5, at the ceiling) hands nothing more.
    const others = new Map<string, MemberState>([
      ['b', { owned: tasks(5, 6, 7), wants: tasks(0, 4) }],
      ['c', { owned: tasks(8, 9, 10, 11), wants: [] }],
    ]);
    const input = {
      self: 'a',
      others,
      known: tasks(...range(0, 13)),
      owned: new Set(tasks(0, 1, 2, 3, 12)),
      waiting: new Set<string>(),
    };
    const plan = balance({ ...input, gifts: [{ to: 'b', task: 't04' }] });
    assert.deepEqual([plan.lower, plan.upper], [4, 5]);
    assert.deepEqual(plan.handOver, []);
    // Without the gift b would look below the floor and get t00 as well.
    assert.deepEqual(balance({ ...input, gifts: [] }).handOver, [{ to: 'b', task: 't00' }]);
  });
});
