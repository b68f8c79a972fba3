'use strict';
// The table of the broker-feed scenarios (scripts/bench/feed-run.sh): one
// JSON line per run in, markdown out. For each scenario and server, every
// figure is the median over the rounds with its range (min..max) when the
// rounds differ; "Shoal/Socket.IO" divides Shoal's server CPU per delivered
// update by Socket.IO's, round by round (below 1, Shoal uses less).
//
//   node feed-table.js --results feed.jsonl --title "Run of ..."

const fs = require('fs');
const { options } = require('./peers/ticker');

const opt = options(['results', 'title']);
const runs = fs
  .readFileSync(opt.results, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l));

const SERVERS = { shoal: 'Shoal', socketio: 'Socket.IO' };

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Three significant digits, whole numbers from 1000 on.
function num(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toString();
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

// Median with the range when the values differ: "12.3 (11.9..12.8)".
function stat(values, fmt = num) {
  const xs = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  if (xs.length === 0) return '-';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const m = fmt(median(xs));
  return fmt(lo) === fmt(hi) ? m : `${m} (${fmt(lo)}..${fmt(hi)})`;
}

const scenarios = [];
for (const r of runs) if (!scenarios.includes(r.scenario)) scenarios.push(r.scenario);

const lines = [opt.title, ''];
lines.push(
  '| scenario | server | clients | producer asked / wrote per s | delivered per client per s | delivered/expected | gaps | server CPU % | server CPU µs/update | Shoal/Socket.IO | Redis CPU % | producer CPU % | load gen CPU % | other CPU % | latency p50 / p99 / max ms |',
);
lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const sc of scenarios) {
  const of = (server) => runs.filter((r) => r.scenario === sc && r.server === server);
  const shoalByRound = new Map(of('shoal').filter((r) => !r.failed).map((r) => [r.round, r]));
  for (const server of Object.keys(SERVERS)) {
    const all = of(server);
    if (all.length === 0) continue;
    const ok = all.filter((r) => !r.failed);
    const failed = all.filter((r) => r.failed);
    const clients = all[0].clients;
    let label = SERVERS[server];
    if (failed.length > 0 && ok.length > 0) label += ` (${failed.length} round(s) failed)`;
    if (ok.length === 0) {
      lines.push(`| ${sc} | ${label} | ${clients} | FAILED: ${failed[0].failed} |`);
      continue;
    }
    const col = (f) => ok.map(f);
    const ratio =
      server === 'shoal'
        ? '1'
        : stat(
            ok
              .filter((r) => shoalByRound.has(r.round))
              .map((r) => shoalByRound.get(r.round).server_cpu_us_per_update / r.server_cpu_us_per_update),
            (v) => v.toFixed(2),
          );
    let gaps = String(col((r) => r.gaps).reduce((a, b) => a + b, 0));
    const dups = col((r) => r.duplicates).reduce((a, b) => a + b, 0);
    const ov = col((r) => r.overflow).reduce((a, b) => a + b, 0);
    if (dups > 0) gaps += ` (+${dups} dup)`;
    if (ov > 0) gaps += ` (OV ${ov})`;
    const written = stat(col((r) => r.producer_written_per_s));
    lines.push(
      [
        '',
        sc,
        label,
        clients,
        `${all[0].rate} / ${written}`,
        stat(col((r) => r.received_per_s / r.clients)),
        stat(col((r) => r.ratio), (v) => v.toFixed(3)),
        gaps,
        stat(col((r) => r.server_cpu_percent)),
        stat(col((r) => r.server_cpu_us_per_update)),
        ratio,
        stat(col((r) => r.broker_cpu_percent)),
        stat(col((r) => r.producer_cpu_percent)),
        stat(col((r) => r.loadgen_cpu_percent)),
        stat(col((r) => r.others_cpu_percent)),
        `${stat(col((r) => r.latency_p50_ms))} / ${stat(col((r) => r.latency_p99_ms))} / ${stat(col((r) => r.latency_max_ms))}`,
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
}
process.stdout.write(lines.join('\n') + '\n');
