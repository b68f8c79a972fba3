'use strict';
// Writes the measured fail-over and drain figures (target/cluster-results/,
// left there by the cluster tests) into docs/clustering.md, between its
// cluster-results markers, and the session handoff figures (handoff-*.json,
// from test/cluster-handoff.test.js) between its handoff-results markers.
// Each block is rewritten only when its results are there, so that one test
// file's figures can be written alone. Run by scripts/cluster-report.sh.

const fs = require('node:fs');
const path = require('node:path');
const { REPO_ROOT } = require('../lib/server');
const { RESULTS, settingsText } = require('../lib/results');

const DOC = path.join(REPO_ROOT, 'docs', 'clustering.md');
const BEGIN = '<!-- cluster-results:begin (made by scripts/cluster-report.sh; do not edit) -->';
const END = '<!-- cluster-results:end -->';
const HANDOFF_BEGIN = '<!-- handoff-results:begin (made by scripts/cluster-report.sh; do not edit) -->';
const HANDOFF_END = '<!-- handoff-results:end -->';

function read(name) {
  return JSON.parse(fs.readFileSync(path.join(RESULTS, name), 'utf8'));
}

const files = fs.readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort();
const failover = files.filter((f) => !f.startsWith('drain-') && !f.startsWith('handoff-')).map(read);
const drains = files.filter((f) => f.startsWith('drain-') && !f.includes('rolling')).map(read);
const rolling = files.filter((f) => f.startsWith('drain-') && f.includes('rolling')).map(read);
const handoffs = files.filter((f) => f.startsWith('handoff-')).map(read);
if (!failover.length && !handoffs.length) throw new Error(`no results in ${RESULTS}: run the cluster tests first`);

const order = (id) => id.split('.').map((p) => (/^\d+$/.test(p) ? p.padStart(3, '0') : p)).join('.');
// Fail-over rows by option, then transport (streaming before polling,
// WebSocket before HTTP), then client settings (the library's defaults first).
// Results written before forced transports and client settings have no
// `option` (their `case` is the option) and no `settings`.
const TRANSPORTS = ['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING'];
const optionOf = (r) => r.option ?? r.case;
const settingsOf = (r) => settingsText(r.settings);
failover.sort((a, b) => order(a.id).localeCompare(order(b.id)) || optionOf(a).localeCompare(optionOf(b)) ||
  TRANSPORTS.indexOf(a.transport) - TRANSPORTS.indexOf(b.transport) || settingsOf(a).localeCompare(settingsOf(b)));

const clientVersion = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests', 'clients', 'node_modules', 'lightstreamer-client-node', 'package.json'), 'utf8')).version;
const measured = `Measured ${new Date().toISOString().slice(0, 10)} on one machine (2 cores), HAProxy and nginx from Debian, official Node.js client ${clientVersion} in one process per client.`;

// Replaces what lies between the markers begin and end in doc.
function between(doc, begin, end, lines) {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < 0) throw new Error(`${DOC} lacks the markers ${begin} / ${end}`);
  return doc.slice(0, a) + lines.join('\n') + doc.slice(b + end.length);
}

let doc = fs.readFileSync(DOC, 'utf8');
if (failover.length) doc = between(doc, BEGIN, END, clusterTables());
if (handoffs.length) doc = between(doc, HANDOFF_BEGIN, HANDOFF_END, handoffTable());
fs.writeFileSync(DOC, doc);
console.log(`cluster-report: ${failover.length} fail-over cases, ${drains.length} drains, ${rolling.length} rolling restarts, ` +
  `${handoffs.length} handoff scenarios written to ${DOC}`);

function clusterTables() {
  const out = [BEGIN, ''];
  out.push(measured);
  out.push('');
  out.push('**Fail over** (`kill -9` of one node; two nodes unless the option says 3): time from the kill to the first update on the new session, per client of the dead node. ' +
    'Transport: the one the option gives, or *forced* by the client (`setForcedTransport`). ' +
    'Client settings: `setRetryDelay` and `setSessionRecoveryTimeout` where they differ from the library\'s defaults (4 s and 15 s).');
  out.push('');
  out.push('| option | CR route | transport | client settings | clients | moved | p50 ms | p99 ms | max ms |');
  out.push('|---|---|---|---|--:|--:|--:|--:|--:|');
  for (const r of failover) {
    const transport = r.transport_forced ? `${r.transport} *forced*` : r.transport;
    out.push(`| ${optionOf(r)} | ${r.cr_route} | ${transport} | ${settingsOf(r) || 'defaults'} | ${r.clients ?? '-'} | ${r.failover_ms.length} | ` +
      `${r.failover_p50_ms} | ${r.failover_p99_ms ?? '-'} | ${r.failover_max_ms} |`);
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
  return out;
}

// "Zero-loss fail-over (session handoff)": one row per scenario of
// test/cluster-handoff.test.js, then those of test/cluster-vrrp.test.js
// (vrrp: keepalived moved the node's address; back: the killed node
// started again, its address back on it).
function handoffTable() {
  const how = { kill: 0, drain: 1, rolling: 2, partition: 3, back: 4 };
  const v = (x) => (x == null ? '-' : x);
  const rows = [...handoffs].sort((a, b) => !!a.vrrp - !!b.vrrp || how[a.how] - how[b.how] || order(a.id).localeCompare(order(b.id)) ||
    a.nodes - b.nodes || (a.balancer || '').localeCompare(b.balancer || '') || a.broker.localeCompare(b.broker) || (a.transport || '').localeCompare(b.transport || ''));
  const drained = rows.find((r) => r.drain_grace_s != null);
  const out = [HANDOFF_BEGIN, ''];
  out.push(measured.replace('HAProxy and nginx from Debian', 'HAProxy, Redis and NATS from Debian'));
  out.push('');
  out.push('**Zero-loss fail-over (session handoff)** (kits made with `--feed`, one publisher through the balancer, each client with RAW `counter` and `counter2`, DISTINCT `news`, COMMAND `book` and MERGE `quote` in one session): ' +
    `\`kill -9\` of one node, a drain (\`SIGTERM\`${drained ? `, grace ${drained.drain_grace_s} s, window ${drained.drain_window_s} s` : ''}), or a rolling restart (each node drained, started again, seen UP, then the next). ` +
    'Re-attach: from the kill, or from the drained node handing the session over, to the client streaming again; first update: from the same instant to its first RAW entry after that. ' +
    'Kept: moved clients that ended with their first session; new: sessions opened beyond each client\'s first. Lost / dup: entries of 1..last missing or repeated, over every client (RAW `counter`, `counter2`, DISTINCT `news`). ' +
    'Partition: one node cut off the broker (not off the balancer) until its liveness key expired, then back; no client is to move. ' +
    '*keepalived*: kits made with `--vrrp`, the client\'s requests going straight to its node\'s own address, which keepalived moved to the live node; ' +
    '*back*: the killed node started again and its address returned to it: moved are the taken-over clients whose stream that cut, re-attach from the node\'s start.');
  out.push('');
  out.push('| option | broker | disruption | clients | moved | kept | new sessions | re-attach p50 / p99 / max ms | first update p50 / p99 / max ms | lost / dup per item |');
  out.push('|---|---|---|--:|--:|--:|--:|--:|--:|---|');
  for (const r of rows) {
    const cut = r.steps[0] || {};
    const what = {
      kill: 'kill -9',
      drain: 'drain',
      rolling: `rolling restart (${r.moves} moves)`,
      back: `${cut.node} started again after its kill -9, its address back on it after ${v(r.address_moved_ms)} ms`,
      partition: `${cut.node} cut off the broker for ${(cut.healed_after_ms / 1000).toFixed(1)} s (its liveness key gone after ${(cut.dead_after_ms / 1000).toFixed(1)} s)`,
    }[r.how] + (r.vrrp && r.how !== 'back' ? ` (its address moved after ${v(r.address_moved_ms)} ms)` : '');
    const option = `${r.id}${r.nodes > 2 ? `, ${r.nodes} nodes` : ''}${r.balancer && r.balancer !== 'haproxy' ? `, ${r.balancer}` : ''}${r.vrrp ? ', keepalived' : ''}${r.transport ? `, ${r.transport}` : ''}${r.failed_checks ? ` (${r.failed_checks} check${r.failed_checks > 1 ? 's' : ''} failed)` : ''}`;
    const items = Object.entries(r.lost_dup).map(([item, x]) => `${item.replace(/^(RAW|DISTINCT) /, '')} ${x.lost} / ${x.dup}`).join(', ');
    const times = (k) => (r[`${k}_max_ms`] == null ? '-' : `${r[`${k}_p50_ms`]} / ${v(r[`${k}_p99_ms`])} / ${r[`${k}_max_ms`]}`);
    out.push(`| ${option} | ${r.broker} | ${what} | ${r.clients} | ${r.moved} | ${r.moved ? `${r.kept_sessions}/${r.moved}` : '-'} | ${r.new_sessions} | ` +
      `${times('reattach')} | ${times('first_update')} | ${items} |`);
  }
  out.push('', HANDOFF_END);
  return out;
}
