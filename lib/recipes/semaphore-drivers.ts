/**
 * The semaphore's lease nodes (Curator's InterProcessSemaphoreV2): `_c_<uuid>-lease-<seq>` under
 * `<path>/leases`. Like Curator, a new lease counts every child of `leases`, its own included.
 */
import type { ContenderNode, LockDriver, Verdict } from '../lock/lock-driver.js';

const LEASE_NODE = /(lease-)(\d{10})$/;

function parseLease(name: string): ContenderNode | undefined {
  const match = LEASE_NODE.exec(name);
  if (!match) return undefined;
  return { name, sequence: Number(match[2]), implementation: 'curator-protocol', kind: 'lease' };
}

/** Taking a lease (the mutex held): ours once at most maxLeases children are there. */
export function leaseDriver(maxLeases: number): LockDriver {
  return {
    lockName: 'lease-',
    parse: parseLease,
    verdict(_contenders, _ourIndex, childCount): Verdict {
      return childCount <= maxLeases ? { holds: true } : { holds: false, watchChildren: true };
    },
  };
}

/** A lease given out stays ours while its node exists (Curator never takes one back). */
export const HELD_LEASE_DRIVER: LockDriver = {
  lockName: 'lease-',
  parse: parseLease,
  verdict: (): Verdict => ({ holds: true }),
};
