// The chaos report as text (the checker's and the orchestrator's output).
import type { ChaosReport, Interval } from './check.js';
import { formatTasks } from './task-check.js';

const iso = (t: number): string => new Date(t).toISOString().slice(11, 23);

function describeInterval(i: Interval): string {
  const term = i.term !== undefined ? ` term ${i.term}` : '';
  return `${i.kind} ${i.who}${term} #${i.n} [${iso(i.start)} .. ${iso(i.end)}] lastTrue ${iso(i.lastTrue)} (${i.reason}, maxGap ${Math.round(i.maxGap)} ms, token ${i.token ?? '-'})`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '),
    )
    .join('\n');
}

export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const s = report.sessionTimeoutMs;
  lines.push(
    `chaos run: seed ${report.seed}, ${report.seconds} s, ${report.processes} worker processes, S = ${s} ms${report.load ? `, load: ${report.load} busy loops` : ''}${report.mutant ? ', MUTANT worker 0' : ''}, logs in ${report.dir}`,
  );
  const rows: string[][] = [
    [
      'lock path',
      'intervals',
      'locks',
      'terms',
      'overlaps',
      'hard',
      'owned s',
      'owned %',
      'longest ms',
      'max unowned ms',
    ],
  ];
  for (const p of report.paths) {
    rows.push([
      p.path,
      String(p.intervals),
      String(p.lockIntervals),
      String(p.terms),
      String(p.overlaps),
      String(p.hardOverlaps),
      (p.ownedMs / 1000).toFixed(1),
      (100 * p.ownedFraction).toFixed(1),
      String(Math.round(p.longestMs)),
      String(Math.round(p.longestUnownedMs)),
    ]);
  }
  const t = report.totals;
  rows.push([
    'total',
    String(t.intervals),
    String(t.lockIntervals),
    String(t.terms),
    String(t.overlaps),
    String(t.hardOverlaps),
    '',
    '',
    '',
    '',
  ]);
  lines.push(table(rows));
  lines.push(...formatTasks(report.tasks));
  const executed = Object.entries(report.faults.executed)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const faultTotal = Object.values(report.faults.executed).reduce((a, b) => a + b, 0);
  lines.push(
    `faults injected: ${faultTotal} (${executed}); planned ${report.faults.planned}, skipped at the end ${report.faults.skipped}, failed ${report.faults.errors.length}`,
  );
  const d = report.detection;
  lines.push(
    `detection (silent fault start -> that worker's open intervals end), over ${d.faults} faults: max ${d.maxFraction.toFixed(2)} S (${d.maxMs} ms); locks ${d.maxFractionLock.toFixed(2)} S, leaders ${d.maxFractionLeader.toFixed(2)} S, tasks ${d.maxFractionTask.toFixed(2)} S; outlived a fault > S: ${d.survivedLongFaults.length}`,
  );
  if (d.worst)
    lines.push(
      `  worst: fault #${d.worst.faultSeq} ${d.worst.kind} (${d.worst.faultMs} ms) on w${d.worst.worker}, ${d.worst.interval}`,
    );
  for (const x of d.survivedLongFaults.slice(0, 10))
    lines.push(
      `  OUTLIVED: fault #${x.faultSeq} ${x.kind} (${x.faultMs} ms) w${x.worker}: ${x.interval} ended ${x.detectionMs} ms after the fault start`,
    );
  const tk = report.tokens;
  lines.push(
    `fencing tokens (vs ZooKeeper's transaction log${tk.checked ? `, ${tk.txns} changes` : ': NOT AVAILABLE'}): ${tk.intervals} intervals, ${tk.inversions.length} inversions, ${tk.mismatches.length} mismatches; stale grants (first check "not owned") ${tk.staleGrants}, ${tk.staleGrantsBehind.length} of them behind a newer token`,
  );
  for (const x of tk.inversions.slice(0, 10))
    lines.push(
      `  INVERSION on ${x.path}: ${x.first} (token ${x.firstToken}) then ${x.second} (token ${x.secondToken})`,
    );
  for (const x of tk.staleGrantsBehind.slice(0, 10))
    lines.push(
      `  stale grant on ${x.path}: ${x.second} (token ${x.secondToken}) after ${x.first} (token ${x.firstToken})`,
    );
  for (const x of tk.mismatches.slice(0, 10))
    lines.push(`  MISMATCH ${x.interval} token ${x.token}: ${x.reason}`);
  const pz = report.pauses;
  lines.push(
    `pauses (SIGSTOP/SIGCONT): ${pz.executed}, ${pz.withOwner} caught an owner (${pz.longWithOwner} of them >= S); first check after resuming said "not owned": ${pz.endedAtPause} intervals; still "owned" after a pause >= S: ${pz.violations.length}`,
  );
  for (const v of pz.violations.slice(0, 10))
    lines.push(
      `  OWNED AFTER PAUSE #${v.pause} (${v.pauseMs} ms) w${v.worker}: ${v.interval}, "owned" ${v.ownedAfterResumeMs} ms after resuming`,
    );
  const ck = report.clocks;
  lines.push(
    `clocks: one shared clock (host monotonic + the run's epoch offset); workers' performance.timeOrigin error: max ${ck.maxTimeOriginErrorMs.toFixed(2)} ms (${ck.worst ?? '-'}), ${ck.over1ms} of ${ck.workers} over 1 ms (harmless now)`,
  );
  lines.push(
    `orphan nodes: ${report.orphans.total} (with every worker quiesced but connected: ${report.orphans.live.length}; after every worker closed: ${report.orphans.afterClose.length})${report.orphans.checked ? '' : ' NOT CHECKED'}`,
  );
  for (const o of [...report.orphans.live, ...report.orphans.afterClose].slice(0, 20))
    lines.push(
      `  orphan ${o.path}/${o.node} owner 0x${o.owner} data ${JSON.stringify(o.data)}${o.liveWorker !== undefined ? ` (live session of w${o.liveWorker})` : ''}`,
    );
  lines.push(
    `watches after shutdown: ${report.watches.map((m) => `member ${m.member}: zk_watch_count ${m.watchCount ?? '?'}, wchc ${m.wchcSessions ?? '?'} sessions / ${m.wchcPaths ?? '?'} paths${m.error ? ` (${m.error})` : ''}`).join('; ') || 'not collected'}`,
  );
  const st = report.workers.stats;
  lines.push(
    `workers: ${report.workers.incarnations} incarnations, ${report.workers.kills} kill -9, ${report.workers.crashes.length} crashes, ${report.workers.unclosed} unclosed intervals; acquire calls ${st.acquireCalls}, acquired ${st.acquired}, timeouts ${st.timeouts}, aborted ${st.aborted}, errors ${st.acquireErrors}, reentrant ${st.reentrant}, terms ${st.terms}, yields ${st.yields}, throws ${st.leaderThrows}`,
  );
  const errors = Object.entries(st.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  if (errors) lines.push(`  events/errors: ${errors}`);
  for (const c of report.workers.crashes)
    lines.push(
      `  CRASH w${c.w}.${c.inc} code ${c.code} signal ${c.signal}: ${(c.stderrTail ?? '').slice(-600)}`,
    );
  for (const o of report.overlaps.slice(0, 50)) {
    lines.push(`OVERLAP ${o.hard ? 'HARD' : 'soft'} on ${o.path}: ${o.overlapMs.toFixed(1)} ms`);
    lines.push(`  first : ${describeInterval(o.first)}`);
    lines.push(`  second: ${describeInterval(o.second)}`);
  }
  if (report.overlaps.length > 50) lines.push(`... ${report.overlaps.length - 50} more overlaps in the JSON`);
  for (const w of report.warnings) lines.push(`WARNING: ${w}`);
  lines.push(report.ok ? 'RESULT: OK' : `RESULT: FAIL (${report.problems.join('; ')})`);
  return lines.join('\n');
}
