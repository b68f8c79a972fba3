'use strict';
// Writes the measured fail-over and drain figures (target/cluster-results/,
// left there by the cluster tests) into docs/clustering.md, between its
// cluster-results markers. Run by scripts/cluster-report.sh.

const fs = require('node:fs');
const path = require('node:path');
const { REPO_ROOT } = require('../lib/server');
const { RESULTS } = require('../lib/results');

const DOC = path.join(REPO_ROOT, 'docs', 'clustering.md');
const BEGIN = '<!-- cluster-results:begin (made by scripts/cluster-report.sh; do not edit) -->';
const END = '<!-- cluster-results:end -->';

function read(name) {
  return JSON.parse(fs.readFileSync(path.join(RESULTS, name), 'utf8'));
}

const files = fs.readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort();
const failover = files.filter((f) => !f.startsWith('drain-')).map(read);
const drains = files.filter((f) => f.startsWith('drain-') && !f.includes('rolling')).map(read);
const rolling = files.filter((f) => f.includes('rolling')).map(read);
if (!failover.length) throw new Error(`no results in ${RESULTS}: run the cluster tests first`);

const order = (id) => id.split('.').map((p) => (/^\d+$/.test(p) ? p.padStart(3, '0') : p)).join('.');
failover.sort((a, b) => order(a.id).localeCompare(order(b.id)) || a.case.localeCompare(b.case));

const out = [BEGIN, ''];
const clientVersion = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests', 'clients', 'node_modules', 'lightstreamer-client-node', 'package.json'), 'utf8')).version;
out.push(`Measured ${new Date().toISOString().slice(0, 10)} on one machine (2 cores), HAProxy and nginx from Debian, official Node.js client ${clientVersion} in one process per client.`);
out.push('');
out.push('**Fail over** (`kill -9` of one node; two nodes unless the option says 3): time from the kill to the first update on the new session, per client of the dead node.');
out.push('');
out.push('| option | CR route | transport | clients | moved | p50 ms | p99 ms | max ms |');
out.push('|---|---|---|--:|--:|--:|--:|--:|');
for (const r of failover) {
  out.push(`| ${r.case} | ${r.cr_route} | ${r.transport} | ${r.clients ?? '-'} | ${r.failover_ms.length} | ${r.failover_p50_ms} | ${r.failover_p99_ms ?? '-'} | ${r.failover_max_ms} |`);
}
if (drains.length) {
  out.push('');
  out.push(`**Drain** (\`SIGTERM\`, grace ${drains[0].grace_s} s, window ${drains[0].window_s} s): when the balancer saw the 503, when the node exited, and per moved client the silence between its last update on the old node and its first on the new one.`);
  out.push('');
  out.push('| option | balancer saw 503 after ms | node exited after ms | silence per moved client ms |');
  out.push('|---|--:|--:|---|');
  for (const d of drains) {
    out.push(`| ${d.id} | ${d.down_after_ms} | ${d.exit_after_ms} | ${d.moves.map((m) => m.silence).join(', ')} |`);
  }
}
for (const r of rolling) {
  out.push('');
  out.push(`**Rolling restart** (${r.id}, both nodes one after the other, ${r.clients} clients on a \`rate-10\` RAW counter): took ${r.took_ms} ms; longest silence per client ${r.longest_silence_ms.join(', ')} ms; sessions per client ${r.sessions_per_client.join(', ')}. No update was lost or repeated inside any session.`);
}
out.push('', END);

const doc = fs.readFileSync(DOC, 'utf8');
const a = doc.indexOf(BEGIN);
const b = doc.indexOf(END);
if (a < 0 || b < 0) throw new Error(`${DOC} lacks the markers ${BEGIN} / ${END}`);
fs.writeFileSync(DOC, doc.slice(0, a) + out.join('\n') + doc.slice(b + END.length));
console.log(`cluster-report: ${failover.length} fail-over cases, ${drains.length} drains, ${rolling.length} rolling restarts written to ${DOC}`);
