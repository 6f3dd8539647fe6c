// Summary of a bench:compare run (the JSON lines of ../shared/bench/smtp-bench.sh): medians per peer
// and scenario, and the issue #13 targets as ratios catchall-guard / Postfix measured in that run.
// Usage: node test/bench/summarize.mjs results/compare-*.jsonl [--json]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const lines = args
  .filter((a) => a !== '--json')
  .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
  .filter((l) => l.trim().startsWith('{'))
  .map((l) => JSON.parse(l));

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const runs = (label, scenario) => lines.filter((l) => l.label === label && l.scenario === scenario);
const med = (label, scenario, field) => median(runs(label, scenario).map(field));
// the process tree's: with server.workers the sessions live in the workers, not in the PID given
const rssDeltaPerSession = (l) => (l.tree_rss_after_kb - l.tree_rss_before_kb) / Math.max(1, l.alive ?? l.connections);

const labels = [...new Set(lines.map((l) => l.label))];
const rows = labels.map((label) => ({
  label,
  rounds: runs(label, 'reject').length,
  reject: med(label, 'reject', (l) => l.rate),
  rejectCpu: med(label, 'reject', (l) => l.server_cpu_ms_per_op),
  small: med(label, 'accept-small', (l) => l.rate),
  smallE2e: med(label, 'accept-small', (l) => l.e2e_rate ?? l.rate),
  smallCpu: med(label, 'accept-small', (l) => l.server_cpu_ms_per_op),
  large: med(label, 'accept-large', (l) => l.rate),
  largeE2e: med(label, 'accept-large', (l) => l.e2e_rate ?? l.rate),
  largeCpu: med(label, 'accept-large', (l) => l.server_cpu_ms_per_op),
  quarantine: med(label, 'quarantine-small', (l) => l.rate),
  quarantineCpu: med(label, 'quarantine-small', (l) => l.server_cpu_ms_per_op),
  idleServed: med(label, 'idle', (l) => l.alive),
  idleRssKiB: med(label, 'idle', rssDeltaPerSession),
  idlePssKiB: med(label, 'idle', (l) => l.tree_pss_per_conn_kb),
  idle10kServed: med(label, 'idle-10k', (l) => l.alive),
  idle10kRssMiB: med(label, 'idle-10k', (l) => l.tree_rss_after_kb / 1024),
  idle10kRssKiB: med(label, 'idle-10k', rssDeltaPerSession),
  relayed: runs(label, 'accept-small').every((l) => l.upstream_msgs === undefined || l.upstream_msgs >= l.ok),
}));

const by = (label) => rows.find((r) => r.label === label);
const postfix = by('postfix');
const before = by('catchall-guard-before');
const ratio = (a, b) => (a === null || b === null || b === 0 || a === undefined || b === undefined ? null : a / b);
/** The issue #13 targets for one build of ours (catchall-guard, or catchall-guard-workers2). */
function targetsOf(ours) {
  const targets = [
    ['reject sessions/s (conc 20)', ours.reject, postfix?.reject, 1.3],
    ['2 KB relayed end to end msgs/s', ours.small, postfix?.smallE2e, 1.2],
    ['1 MB relayed end to end msgs/s (conc 4)', ours.large, postfix?.largeE2e, 1.0],
    ['2 KB quarantined (fsynced) vs accept-small', ours.quarantine, postfix?.small, 1.0],
    ['CPU ms per reject session', ours.rejectCpu, postfix?.rejectCpu, null],
    ['CPU ms per 2 KB message', ours.smallCpu, postfix?.smallCpu, null],
    ['CPU ms per 1 MB message', ours.largeCpu, postfix?.largeCpu, null],
    ['CPU ms per 2 KB quarantined', ours.quarantineCpu, postfix?.smallCpu, null],
  ].map(([what, a, b, goal]) => {
    const r = ratio(a, b);
    return { what, ours: a, postfix: b ?? null, ratio: r, goal, met: goal === null || r === null ? null : r >= goal };
  });
  const memory = {
    idleRssKiBPerSession: ours.idleRssKiB,
    goalKiB: 12,
    met: ours.idleRssKiB !== null ? ours.idleRssKiB <= 12 : null,
    idle10kServed: ours.idle10kServed,
    idle10kRssMiB: ours.idle10kRssMiB,
    idle10kRssKiBPerSession: ours.idle10kRssKiB,
  };
  return { label: ours.label, targets, memory };
}
const judged = rows
  .filter((r) => r.label.startsWith('catchall-guard') && r.label !== 'catchall-guard-before')
  .map(targetsOf);
const ours = by('catchall-guard');

if (asJson) {
  process.stdout.write(`${JSON.stringify({ rows, judged }, null, 1)}\n`);
  process.exit(0);
}
const f = (x, d = 1) => (x === null || x === undefined ? '–' : x.toFixed(d));
const out = [];
out.push(`Medians of ${ours?.rounds ?? '?'} interleaved rounds.`, '');
out.push(
  '| peer | reject sessions/s | 2 KB msgs/s (end to end) | 1 MB msgs/s (end to end) | 2 KB quarantined msgs/s | CPU ms per reject / 2 KB / 1 MB / quarantined | idle KiB per session (RSS Δ / tree PSS) | 10,000 idle: served, RSS MiB |',
  '|---|---|---|---|---|---|---|---|',
);
for (const r of rows) {
  const e2e = (a, b) => (b !== null && a !== null && Math.abs(a - b) > 0.05 ? `${f(a)} (${f(b)})` : f(a));
  out.push(
    `| ${r.label} | ${f(r.reject, 0)} | ${e2e(r.small, r.smallE2e)} | ${e2e(r.large, r.largeE2e)} | ${f(r.quarantine, 0)} | ` +
      `${f(r.rejectCpu, 2)} / ${f(r.smallCpu, 2)} / ${f(r.largeCpu, 1)} / ${f(r.quarantineCpu, 2)} | ` +
      `${f(r.idleRssKiB)} / ${f(r.idlePssKiB)} (${f(r.idleServed, 0)} served) | ` +
      `${r.idle10kServed === null ? '–' : `${f(r.idle10kServed, 0)}, ${f(r.idle10kRssMiB)}`} |`,
  );
}
for (const { label, targets, memory } of judged) {
  out.push(
    '',
    `| target (${label} / Postfix, one run) | ours | Postfix | ratio | goal | met |`,
    '|---|---|---|---|---|---|',
  );
  for (const t of targets)
    out.push(
      `| ${t.what} | ${f(t.ours, 2)} | ${f(t.postfix, 2)} | ${f(t.ratio, 2)}× | ${t.goal === null ? '–' : `≥ ${t.goal}×`} | ${t.met === null ? '–' : t.met ? 'yes' : 'no'} |`,
    );
  out.push(
    `| idle memory per session (RSS Δ over 1000 sessions) | ${f(memory.idleRssKiBPerSession)} KiB | – | – | ≤ 12 KiB | ${memory.met === null ? '–' : memory.met ? 'yes' : 'no'} |`,
    `| 10,000 concurrent idle sessions | ${f(memory.idle10kServed, 0)} held, RSS ${f(memory.idle10kRssMiB)} MiB (${f(memory.idle10kRssKiBPerSession)} KiB each) | – | – | held | ${memory.idle10kServed === null ? '–' : memory.idle10kServed >= 10000 ? 'yes' : 'no'} |`,
  );
}
if (ours && before) {
  out.push(
    '',
    '| this build / catchall-guard-before (same run) | reject | 2 KB | 1 MB | quarantined | CPU reject / 2 KB / 1 MB | idle KiB |',
    '|---|---|---|---|---|---|---|',
  );
  out.push(
    `| ratio | ${f(ratio(ours.reject, before.reject), 2)} | ${f(ratio(ours.small, before.small), 2)} | ${f(ratio(ours.large, before.large), 2)} | ` +
      `${f(ratio(ours.quarantine, before.quarantine), 2)} | ${f(ratio(ours.rejectCpu, before.rejectCpu), 2)} / ` +
      `${f(ratio(ours.smallCpu, before.smallCpu), 2)} / ${f(ratio(ours.largeCpu, before.largeCpu), 2)} | ` +
      `${f(ours.idleRssKiB)} vs ${f(before.idleRssKiB)} |`,
  );
}
const unrelayed = rows.filter((r) => !r.relayed).map((r) => r.label);
if (unrelayed.length > 0)
  out.push('', `Warning: the upstream counted fewer messages than were accepted for: ${unrelayed.join(', ')}`);
process.stdout.write(`${out.join('\n')}\n`);
