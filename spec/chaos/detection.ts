// Detection in the chaos checker (moved out of check.ts): an owner in a silent fault of all of its
// worker's proxies (freeze-short, freeze-long, blackhole) must see "not owned" before the fault ends
// if it lasted longer than S; how long it took, as a fraction of S, is reported per interval kind.
import type { Interval } from './overlaps.js';
import type { RunEvent } from './records.js';
import type { FaultKind } from './schedule.js';

type FaultEvent = Extract<RunEvent, { t: 'fault' }>;

export interface DetectionSample {
  faultSeq: number;
  kind: FaultKind;
  worker: number;
  faultMs: number;
  interval: string;
  intervalKind: Interval['kind'];
  detectionMs: number;
  fraction: number;
}

export interface DetectionReport {
  /** Silent faults of all of a worker's proxies (freeze-short, freeze-long, blackhole) with an interval open at their start. */
  faults: number;
  maxFraction: number;
  maxMs: number;
  maxFractionLock: number;
  maxFractionLeader: number;
  maxFractionTask: number;
  /** Read-write lock holds and semaphore leases (recipes.ts). */
  maxFractionRecipe: number;
  worst: DetectionSample | undefined;
  /** Intervals that outlived a silent fault longer than S (the lease cannot have held): must be 0. */
  survivedLongFaults: DetectionSample[];
}

export function checkDetection(
  starts: readonly FaultEvent[],
  ends: ReadonlyMap<number, FaultEvent>,
  intervals: readonly Interval[],
  sessionTimeoutOf: (worker: number) => number,
): DetectionReport {
  const samples: DetectionSample[] = [];
  const survived: DetectionSample[] = [];
  let detectionFaults = 0;
  for (const f of starts) {
    if (f.worker === undefined) continue;
    if (f.kind !== 'freeze-short' && f.kind !== 'freeze-long' && f.kind !== 'blackhole') continue;
    const end = ends.get(f.seq);
    if (!end) continue;
    const s = sessionTimeoutOf(f.worker);
    const faultMs = end.at - f.at;
    const openAtStart = intervals.filter((i) => i.w === f.worker && i.start < f.at && i.end > f.at);
    if (openAtStart.length > 0) detectionFaults += 1;
    for (const i of openAtStart) {
      const sample: DetectionSample = {
        faultSeq: f.seq,
        kind: f.kind,
        worker: f.worker,
        faultMs: Math.round(faultMs),
        interval: `${i.who} #${i.n} ${i.path}`,
        intervalKind: i.kind,
        detectionMs: Math.round(i.end - f.at),
        fraction: (i.end - f.at) / s,
      };
      if (i.end <= end.at) samples.push(sample);
      else if (faultMs > s) survived.push(sample);
    }
  }
  const maxBy = (list: DetectionSample[]): DetectionSample | undefined =>
    list.reduce<DetectionSample | undefined>((m, x) => (!m || x.fraction > m.fraction ? x : m), undefined);
  const ofKinds = (...kinds: Interval['kind'][]): number =>
    maxBy(samples.filter((x) => kinds.includes(x.intervalKind)))?.fraction ?? 0;
  const worst = maxBy(samples);
  return {
    faults: detectionFaults,
    maxFraction: worst?.fraction ?? 0,
    maxMs: worst?.detectionMs ?? 0,
    maxFractionLock: ofKinds('lock'),
    maxFractionLeader: ofKinds('leader'),
    maxFractionTask: ofKinds('task'),
    maxFractionRecipe: ofKinds('read', 'write', 'lease'),
    worst,
    survivedLongFaults: survived,
  };
}
