'use strict';
// One clustering option, checked for real: the kit made by `shoal cluster-plan`,
// its nodes (two, or three) and its balancer (HAProxy or nginx), and official
// clients in processes of their own (one source address each, host names from
// the kit's hosts file).
//
//   describeGroup('http');   // test/cluster-http.test.js: a test per case
//
// Checks: session creations spread over the nodes; every request of a
// session on the node that owns it and no request for a session a node does
// not know; the transport the option promises (WebSocket, or HTTP streaming
// where the balancer refuses WebSocket and CR requests pass through it), or
// the one the case forces on its clients (c.transport); the
// control link of the owner node where the option uses one; the client's own
// address on its node where the balancer may vouch for it; a chat message
// round trip. Then kill -9 of one node: its clients get a new session on the
// survivor with their subscriptions, by themselves; the other clients keep
// theirs. The fail-over times go to target/cluster-results/ for the docs.
//
// The cases are split into GROUPS, one test file each (test/cluster-GROUP.test.js,
// a describeGroup call), so that node --test runs them side by side.
//
// A case may force a transport on its clients (c.transport: WS-STREAMING,
// HTTP-STREAMING, WS-POLLING, HTTP-POLLING) and change their reconnection
// settings (c.settings: { retryDelay, sessionRecoveryTimeout }, in ms; see
// lib/cluster-client.js), since fail-over time depends on both (the official
// clients' state machine, ClientMachine.hx). A client whose stream or poll
// breaks sends a recovery (bind_session with LS_recovery_from) within
// firstRetryMaxDelay (100 ms); a survivor refuses it (CONERR,20) and the
// client opens a new session within firstRetryMaxDelay again. A plain
// bind_session that reaches a survivor (a polling client's next poll) is cut
// there, the session being another node's, so the client recovers as above;
// refused (CONERR,20) instead, the client would open a new session only
// retryDelay (4 s by default) after sending it. A recovery that fails (to the dead node's own address, 1.B.2) is tried
// again every retryDelay until sessionRecoveryTimeout (15 s) is over.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { withKit } = require('./cluster');
const { readHostsFile } = require('./hosts');
const { writeResult, settingsText } = require('./results');
const { shoalBin } = require('./server');
const { waitUntil } = require('./util');

const QUOTE = { id: 'quote', mode: 'MERGE', items: ['item1'], fields: ['last_price', 'stock_name'], dataAdapter: 'QUOTE_ADAPTER', snapshot: 'yes' };
const CHAT = { id: 'chat', mode: 'DISTINCT', items: ['chat_room'], fields: ['message', 'nick'], dataAdapter: 'CHAT_ROOM' };

// Every case of the matrix, with its own network 127.0.(40+i).0/24 so that
// cases can run at the same time.
const CASES = [
  { id: '1.A.1' },
  { id: '1.A.2' },
  { id: '1.A.2', websocket: 'off' },
  { id: '1.B.1' },
  { id: '1.B.1', multihosting: true },
  { id: '1.B.1', websocket: 'off' },
  { id: '1.B.2', websocket: 'off' },
  { id: '2.A.1' },
  { id: '2.A.1', multihosting: true },
  { id: '2.A.2' },
  { id: '2.B.1.1' },
  { id: '2.B.1.1', multihosting: true },
  { id: '2.B.1.2' },
  { id: '2.B.1.3' },
  { id: '2.B.1.4', websocket: 'off' },
  { id: '2.B.2.1' },
  { id: '2.B.2.1', multihosting: true },
  { id: '2.B.2.2' },
  { id: '2.B.2.3' },
  { id: '2.B.2.4', websocket: 'off' },
  { id: '4' },
  // Three nodes where it matters: a dead node's clients spread over two survivors.
  { id: '1.A.2', nodes: 3 },
  { id: '1.B.1', nodes: 3 },
  // nginx (the cookie options through maps: open-source nginx has no
  // cookie insertion of its own).
  { id: '1.A.1', balancer: 'nginx' },
  { id: '1.B.1', balancer: 'nginx' },
  { id: '1.B.2', balancer: 'nginx', websocket: 'off' },
  { id: '2.A.1', balancer: 'nginx' },
  { id: '2.B.1.1', balancer: 'nginx' },
  { id: '2.B.1.3', balancer: 'nginx' },
  { id: '2.B.2.3', balancer: 'nginx' },
  { id: '2.B.2.4', balancer: 'nginx' },
  { id: '1.A.2', balancer: 'nginx' },
  { id: '2.A.2', balancer: 'nginx' },
].map((c, i) => ({ nodes: 2, balancer: 'haproxy', ...c, network: `127.0.${40 + i}` }));

// The same options with the client's transport forced, or its reconnection
// settings changed: the fail-over figures per transport. Each on its own
// network 127.0.(140+i).0/24 (127.0.80 to 127.0.131 are other tests'). Only
// the cases marked ci run in the test suite; SHOAL_FAILOVER_ALL=1 (set by
// scripts/cluster-report.sh) runs them all.
const FORCED = ['HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING'];
const CI_SUBSET = new Set(['1.A.2 HTTP-POLLING', '1.B.1 WS-POLLING', '2.A.2 HTTP-STREAMING']);
const VARIANTS = [
  // Cookie (HTTP, then HTTPS), source address, control link through the
  // balancer: their WS-STREAMING rows are the cases above.
  ...['1.A.2', '2.A.2', '1.A.1', '1.B.1'].flatMap((id) => FORCED.map((transport) => ({ id, transport }))),
  // The client's reconnection settings changed: polling, which waited
  // retryDelay after a refused bind before nodes cut such binds; 1.B.2's
  // recovery tries go to
  // the dead node's own address (its control link), every retryDelay, until
  // sessionRecoveryTimeout is over.
  { id: '1.A.2', transport: 'HTTP-POLLING', settings: { retryDelay: 1000 } },
  { id: '1.B.2', websocket: 'off', settings: { retryDelay: 1000 } },
  { id: '1.B.2', websocket: 'off', settings: { retryDelay: 1000, sessionRecoveryTimeout: 3000 } },
].map((c, i) => ({
  nodes: 2, balancer: 'haproxy', ...c, network: `127.0.${140 + i}`, ci: CI_SUBSET.has(`${c.id} ${c.transport}`) && !c.settings,
}));
CASES.push(...VARIANTS);

// A case of the transports group (a forced transport or client settings).
const isVariant = (c) => Boolean(c.transport || c.settings);

// Every case in exactly one group (test/cluster-harness.test.js checks it);
// scripts/cluster-report.sh names the group files.
// A group may run only part of its cases unless an environment variable is
// set (all: its name): the others are reported as skipped, with the reason.
const GROUPS = {
  http: { title: 'clustering options http', has: (c) => !isVariant(c) && c.balancer === 'haproxy' && /^(1|4)/.test(c.id) },
  'https-1': { title: 'clustering options https-1', has: (c) => !isVariant(c) && c.balancer === 'haproxy' && /^2\.(A|B\.1)/.test(c.id) },
  'https-2': { title: 'clustering options https-2', has: (c) => !isVariant(c) && c.balancer === 'haproxy' && /^2\.B\.2/.test(c.id) },
  nginx: { title: 'clustering options behind nginx', has: (c) => !isVariant(c) && c.balancer === 'nginx' },
  transports: {
    title: 'clustering options per transport and client settings',
    has: isVariant,
    all: 'SHOAL_FAILOVER_ALL',
    subset: (c) => c.ci,
  },
};

const CLIENTS = Math.min(40, Math.max(4, Number(process.env.SHOAL_CLUSTER_CLIENTS) || 4));

// Options where a node's listener is also reached by clients directly, so it
// trusts no forwarded address: the node sees the balancer's.
const CLIENT_ADDRESS_UNTRUSTED = new Set(['1.B.2', '2.B.1.2', '4']);

// The option part of a case's name ("1.B.2, balancer without WebSocket").
function optionName(c) {
  return `${c.id}${c.multihosting ? ' multihosting' : ''}${c.nodes > 2 ? `, ${c.nodes} nodes` : ''}` +
    `${c.balancer === 'nginx' ? ', nginx' : ''}${c.websocket === 'off' ? ', balancer without WebSocket' : ''}`;
}

// "1.A.2, HTTP-POLLING, retry delay 1 s".
function caseName(c) {
  const settings = settingsText(c.settings);
  return `${optionName(c)}${c.transport ? `, ${c.transport}` : ''}${settings ? `, ${settings}` : ''}`;
}

// "1.A.2-http-polling-retry1000".
function caseSlug(c) {
  const s = c.settings || {};
  return `${c.id}${c.multihosting ? '-mh' : ''}${c.nodes > 2 ? `-${c.nodes}n` : ''}` +
    `${c.balancer === 'nginx' ? '-nginx' : ''}${c.websocket === 'off' ? '-nows' : ''}${c.feed ? `-${c.feed}` : ''}` +
    `${c.transport ? `-${c.transport.toLowerCase()}` : ''}` +
    `${s.retryDelay != null ? `-retry${s.retryDelay}` : ''}${s.sessionRecoveryTimeout != null ? `-recovery${s.sessionRecoveryTimeout}` : ''}`;
}

// The status every client of a case must be in: the forced transport, or
// the one the option promises (WebSocket where the balancer passes it).
function expectedStatus(c, spec) {
  if (c.transport) {
    assert.ok(spec.websocket_expected || !c.transport.startsWith('WS-'), `${caseName(c)}: ${c.transport} through a balancer without WebSocket`);
    return `CONNECTED:${c.transport}`;
  }
  return spec.websocket_expected ? 'CONNECTED:WS-STREAMING' : 'CONNECTED:HTTP-STREAMING';
}

// The names of the groups a case is in.
function groupsOf(c) {
  return Object.keys(GROUPS).filter((g) => GROUPS[g].has(c));
}

// Writes the kit of a case into a fresh folder; returns the folder (removed
// again if cluster-plan fails). c.feed: 'redis' or 'nats' (--feed); c.vrrp:
// --vrrp (lib/vrrp.js); c.pageOrigins: --page-origin each; c.ca: { cert,
// key } PEM files of the authority that signs the kit (--ca-cert, --ca-key).
function makeKit(c) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shoal-kit-${caseSlug(c)}-`));
  const args = ['cluster-plan', '--topology', c.id, '--network', c.network, '--out', dir];
  if (c.nodes) args.push('--nodes', String(c.nodes));
  if (c.balancer) args.push('--balancer', c.balancer);
  if (c.multihosting) args.push('--multihosting');
  if (c.websocket === 'off') args.push('--balancer-websocket', 'off');
  if (c.feed) args.push('--feed', c.feed);
  if (c.vrrp) args.push('--vrrp');
  for (const origin of c.pageOrigins || []) args.push('--page-origin', origin);
  if (c.ca) args.push('--ca-cert', c.ca.cert, '--ca-key', c.ca.key);
  try {
    execFileSync(shoalBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`shoal ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
  return dir;
}

// Subscribes a client (to QUOTE, and CHAT with chat), connects it and waits for
// its first QUOTE update.
async function connect(c, { chat = false } = {}) {
  c.subscribe(QUOTE);
  if (chat) c.subscribe(CHAT);
  c.connect();
  await c.waitStatus(/^CONNECTED:(WS|HTTP)-(STREAMING|POLLING)$/, { timeoutMs: 20000 });
  await c.waitSubscribed('quote', { timeoutMs: 15000 });
  if (chat) await c.waitSubscribed('chat', { timeoutMs: 15000 });
  await c.waitUpdate('quote', { timeoutMs: 15000 });
}

// kill -9 of `victim`: each of its clients gets, by itself, an update of
// 'quote' on a new session on another node; the other clients keep their
// session and never leave CONNECTED. owner: Map client -> { sid, node }.
// Resolves with { kill, moved: [{ client, update, info, ms }] }: info is what
// the new node logged, ms the time from the kill to that update.
async function failOver(kit, clients, owner, victim) {
  const marks = new Map(clients.map((cl) => [cl, cl.mark()]));
  const kill = await kit.kill(victim);
  const moved = await Promise.all(clients.filter((cl) => owner.get(cl).node === victim).map(async (cl) => {
    const old = owner.get(cl).sid;
    const update = await cl.waitUpdate('quote', {
      from: marks.get(cl),
      pred: (e) => e.session && e.session !== old,
      timeoutMs: 45000,
      what: `an update on a new session after ${victim} was killed (old session ${old})`,
    });
    const info = await kit.waitSession(update.session);
    assert.notEqual(info.node, victim, `${cl.name}: new session on a survivor`);
    return { client: cl, update, info, ms: update.t - kill.t };
  }));
  await Promise.all(clients.filter((cl) => owner.get(cl).node !== victim).map(async (cl) => {
    await cl.waitUpdate('quote', { from: marks.get(cl), session: owner.get(cl).sid, timeoutMs: 15000 });
    assert.equal(cl.sessionId(), owner.get(cl).sid, `${cl.name} kept its session on ${owner.get(cl).node}`);
    const left = cl.events.filter((e) => e.t >= kill.t && e.ev === 'status' && !e.status.startsWith('CONNECTED'));
    assert.deepEqual(left, [], `${cl.name} never left CONNECTED`);
  }));
  return { kill, moved };
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function checkTopology(t, c) {
  const dir = makeKit(c);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await withKit(t, dir, {}, async (kit) => {
    const { spec } = kit;
    // Client machines (4, or SHOAL_CLUSTER_CLIENTS for the fail-over report),
    // spread over the public URLs (two domains with multihosting).
    const urls = spec.public_urls;
    const clients = [];
    for (let i = 0; i < CLIENTS; i += 1) {
      const url = urls[i % urls.length];
      clients.push(await kit.spawnClient({
        source: `${c.network}.${51 + i}`, url, name: `client${i + 1}`, forcedTransport: c.transport || null, ...c.settings,
      }));
    }
    await Promise.all(clients.map((cl, i) => connect(cl, { chat: i === 0 })));

    const expectedTransport = expectedStatus(c, spec);
    const owner = new Map(); // client -> { sid, node }
    for (const cl of clients) {
      assert.equal(cl.status(), expectedTransport, `${cl.name}: transport`);
      const sid = cl.sessionId();
      const info = await kit.waitSession(sid);
      owner.set(cl, { sid, node: info.node });
      if (!CLIENT_ADDRESS_UNTRUSTED.has(c.id)) {
        assert.equal(info.client, cl.source, `${cl.name}: the node sees the client's own address`);
      }
      if (spec.cr_route === 'control-link') {
        const k = info.node.replace(/^node/, '');
        const domain = new URL(cl.config.url).hostname.replace(/^push\./, '');
        const link = cl.events.filter((e) => e.ev === 'session' && e.session === sid).map((e) => e.serverInstanceAddress).pop() || '';
        assert.equal(new URL(link).hostname, `push${k}.${domain}`, `${cl.name}: control link of ${info.node}`);
      }
    }
    t.diagnostic(`${caseName(c)}: ${clients.map((cl) => `${cl.name}@${owner.get(cl).node}`).join(' ')}`);
    const used = new Set(clients.map((cl) => owner.get(cl).node));
    // Round robin reaches every node; a hash of the client's address at least two.
    const want = spec.cr_route === 'source-ip' ? 2 : spec.nodes.length;
    assert.ok(used.size >= want, `session creations reach ${want} nodes (got ${[...used].join(', ')})`);

    const sender = clients[0];
    const from = sender.mark();
    const outcome = await sender.sendMessage('CHAT|hello from the cluster');
    assert.equal(outcome.outcome, 'processed', JSON.stringify(outcome));
    await sender.waitUpdate('chat', { from, pred: (u) => u.values.message === 'hello from the cluster' });
    await waitUntil(kit, () => kit.requestsOf(owner.get(sender).sid).some((r) => r.request === 'msg'), {
      timeoutMs: 5000, what: 'the msg request in a node log',
    });

    for (const cl of clients) {
      const { sid, node } = owner.get(cl);
      const reqs = kit.requestsOf(sid);
      assert.ok(reqs.some((r) => r.request === 'control'), `${cl.name}: control requests logged`);
      assert.deepEqual(reqs.filter((r) => r.node !== node), [], `${cl.name}: requests of ${sid} off ${node}`);
    }
    assert.deepEqual(kit.unknownSessionRequests(), [], 'no request reached a node that did not know its session');

    if (c.id === '4') await checkDirectAccess(t, c, kit, clients);

    // Fail over: the node of the first client dies.
    const { moved } = await failOver(kit, clients, owner, owner.get(clients[0]).node);
    const times = moved.map((m) => m.ms).sort((a, b) => a - b);
    t.diagnostic(`${caseName(c)}: fail-over ms ${times.join(', ')}`);
    writeResult(caseSlug(c), {
      case: caseName(c),
      ...c,
      option: optionName(c),
      title: spec.title,
      balancer: spec.balancer.kind,
      cr_route: spec.cr_route,
      transport: expectedTransport.replace('CONNECTED:', ''),
      transport_forced: Boolean(c.transport),
      settings: c.settings || {},
      failover_ms: times,
      clients: clients.length,
      failover_p50_ms: percentile(times, 50),
      failover_p99_ms: percentile(times, 99),
      failover_max_ms: times[times.length - 1],
    });
  });
}

// §4: a client that connects straight to node1 by its own name, where the
// public pushK names do not resolve, works when it ignores the control link;
// the balancer's clients keep working meanwhile.
async function checkDirectAccess(t, c, kit, viaBalancer) {
  const { spec } = kit;
  // The kit's hosts file without the public names (push, pushK).
  const inside = path.join(kit.dir, 'hosts.inside');
  const lines = [];
  for (const [name, entries] of readHostsFile(kit.hostsFile)) {
    if (!name.startsWith('push')) for (const e of entries) lines.push(`${e.address} ${name}`);
  }
  fs.writeFileSync(inside, `${lines.join('\n')}\n`);
  const direct = await kit.spawnClient({
    source: `${c.network}.60`, url: spec.nodes[0].direct_url, name: 'inside', ignoreControlLink: true, hostsFile: inside,
  });
  await connect(direct);
  const sid = direct.sessionId();
  const info = await kit.waitSession(sid);
  assert.equal(info.node, 'node1', 'the direct client is on the node it named');
  assert.deepEqual(kit.requestsOf(sid).filter((r) => r.node !== 'node1'), [], 'its requests stay on node1');
  const marks = viaBalancer.map((cl) => cl.mark());
  await Promise.all(viaBalancer.map((cl, i) => cl.waitUpdate('quote', { from: marks[i], session: cl.sessionId(), timeoutMs: 15000 })));
  await direct.stop();
  t.diagnostic(`direct access: ${spec.nodes[0].direct_url} served by node1, balancer clients unaffected`);
}

// Why a case of group g is not run (false: it is run). SHOAL_TOPOLOGY=<regexp>
// runs only the cases whose name matches; a group with a subset runs the rest
// only when its environment variable (g.all) is set.
function skipReason(g, c, env = process.env) {
  if (env.SHOAL_TOPOLOGY && !new RegExp(env.SHOAL_TOPOLOGY).test(caseName(c))) return 'not selected by SHOAL_TOPOLOGY';
  if (g.subset && !g.subset(c) && !env[g.all]) return `not in the test suite's subset of this group: ${g.all}=1 runs it (scripts/cluster-report.sh does)`;
  return false;
}

// Registers, in the calling test file, the tests of a group's cases.
function describeGroup(group) {
  const g = GROUPS[group];
  if (!g) throw new Error(`no group ${JSON.stringify(group)} (groups: ${Object.keys(GROUPS).join(', ')})`);
  describe(g.title, () => {
    for (const c of CASES.filter(g.has)) {
      it(caseName(c), { timeout: 150000, skip: skipReason(g, c) }, (t) => checkTopology(t, c));
    }
  });
}

module.exports = {
  CASES, GROUPS, groupsOf, describeGroup, skipReason, caseName, caseSlug, optionName, makeKit, connect, failOver, percentile, QUOTE, CHAT,
};
