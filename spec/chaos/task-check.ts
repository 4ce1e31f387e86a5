// The task-group part of the chaos checker (issue 13): per task of the workers' task group, the terms'
// ownership intervals (kind 'task', on the task's lock path) must never overlap. An overlap counts as
// it does per lock path (HARD when it remains with each interval ended at its last "owned" check) and
// fails the run; the token oracle and the pause and detection rules see task intervals like any other.
// Also reported, not a failure: the longest time in the fault phase with nobody running a task.
import { findOverlaps, longestUnowned, type Interval, type Overlap } from './check.js';
import type { RunMeta } from './records.js';

export interface TaskSummary {
  task: string;
  path: string;
  terms: number;
  /** Distinct members (worker incarnations) that ran a term of it. */
  owners: number;
  overlaps: number;
  hardOverlaps: number;
  ownedMs: number;
  /** Longest stretch of the fault phase with no term running. */
  longestUnownedMs: number;
}

export interface TaskReport {
  /** The group path; undefined when the run had no task group. */
  group: string | undefined;
  tasks: TaskSummary[];
  terms: number;
  overlaps: number;
  hardOverlaps: number;
  maxUnownedMs: number;
}

/** Checks the task intervals; returns the report and the overlaps (to add to the run's). */
export function checkTasks(
  group: RunMeta['taskGroup'],
  intervals: readonly Interval[],
  phaseStart: number,
  phaseEnd: number,
): { report: TaskReport; overlaps: Overlap[] } {
  const byPath = new Map<string, Interval[]>();
  for (const task of group?.tasks ?? []) byPath.set(`${group?.path}/${task}`, []);
  for (const i of intervals) {
    if (i.kind !== 'task') continue;
    const list = byPath.get(i.path) ?? [];
    list.push(i);
    byPath.set(i.path, list);
  }
  const overlaps: Overlap[] = [];
  const tasks: TaskSummary[] = [];
  for (const [path, list] of byPath) {
    const found = findOverlaps(path, list);
    overlaps.push(...found);
    tasks.push({
      task: path.slice(path.lastIndexOf('/') + 1),
      path,
      terms: list.length,
      owners: new Set(list.map((i) => `${i.w}.${i.inc}`)).size,
      overlaps: found.length,
      hardOverlaps: found.filter((o) => o.hard).length,
      ownedMs: list.reduce((sum, i) => sum + (i.end - i.start), 0),
      longestUnownedMs: longestUnowned(list, phaseStart, phaseEnd),
    });
  }
  return {
    report: {
      group: group?.path,
      tasks,
      terms: tasks.reduce((n, t) => n + t.terms, 0),
      overlaps: overlaps.length,
      hardOverlaps: overlaps.filter((o) => o.hard).length,
      maxUnownedMs: tasks.reduce((max, t) => Math.max(max, t.longestUnownedMs), 0),
    },
    overlaps,
  };
}

/** The report's task lines (report.ts). */
export function formatTasks(report: TaskReport): string[] {
  if (report.group === undefined) return [];
  const per = report.tasks
    .map(
      (t) => `${t.task} ${t.terms}/${t.owners}/${t.hardOverlaps}/${(t.longestUnownedMs / 1000).toFixed(1)}`,
    )
    .join(', ');
  return [
    `task group ${report.group}: ${report.tasks.length} tasks, ${report.terms} terms, ${report.overlaps} overlapping owners (${report.hardOverlaps} hard); longest without an owner in the fault phase ${(report.maxUnownedMs / 1000).toFixed(1)} s`,
    `  per task (terms/members/hard overlaps/longest unowned s): ${per}`,
  ];
}
