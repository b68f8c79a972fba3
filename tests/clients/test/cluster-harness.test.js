'use strict';
// Self-test of the cluster harness (lib/cluster.js, lib/cluster-client.js,
// lib/hosts.js) with a hand-written kit for option 1.A.2 of the clustering
// guide: HAProxy in HTTP mode in front of two nodes, sessions kept on their node
// by an inserted cookie. Four official clients, each a process of its own with
// its own source address, spread over both nodes; every request of a session
// must reach its node; when a node dies, its clients start over on the other.
// Runs on 127.0.31.x so that it never meets the other tests' addresses.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { withKit, parseLogLine } = require('../lib/cluster');
const { parseHosts, resolveMapped } = require('../lib/hosts');
const { shoalBin } = require('../lib/server');
const {
  CASES, GROUPS, groupsOf, skipReason, caseName, caseSlug, connect, failOver,
} = require('../lib/topology');
const { waitUntil } = require('../lib/util');

const NET = '127.0.31';
const VIP = `${NET}.10`;
const NODES = [1, 2].map((k) => ({ name: `node${k}`, address: `${NET}.${100 + k}` }));
const SOURCES = [1, 2, 3, 4].map((i) => `${NET}.${50 + i}`);
const URL = 'http://push.example.test:8000';

// The kit `shoal cluster-plan --topology 1.A.2 --network 127.0.31` is expected
// to write, by hand. X-Forwarded-For (skip_local_forwards 1) lets the nodes log
// the client's own address instead of the balancer's.
function writeKit(dir) {
  const nodeXml = (address) => `<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="HTTP Server">
    <port>8080</port>
    <listening_interface>${address}</listening_interface>
    <client_identification><skip_local_forwards>1</skip_local_forwards></client_identification>
  </http_server>
</lightstreamer_conf>
`;
  for (const n of NODES) fs.writeFileSync(path.join(dir, `${n.name}.xml`), nodeXml(n.address));
  fs.writeFileSync(path.join(dir, 'haproxy.cfg'), `global
  log stdout format raw local0

defaults
  mode http
  log global
  option httplog
  option dontlognull
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h

frontend push
  bind ${VIP}:8000
  default_backend nodes

backend nodes
  balance roundrobin
  cookie LSNODE insert indirect nocache
  option redispatch
  option forwardfor
  option httpchk GET /lightstreamer/healthcheck
${NODES.map((n) => `  server ${n.name} ${n.address}:8080 cookie ${n.name} check inter 1s`).join('\n')}
`);
  fs.writeFileSync(path.join(dir, 'hosts'), `# option 1.A.2: one name, the balancer's\n${VIP} push.example.test\n`);
  fs.writeFileSync(path.join(dir, 'kit.json'), JSON.stringify({
    topology: '1.A.2',
    multihosting: false,
    title: 'Load balancer with cookie stickiness (hand-written for the harness self-test)',
    public_urls: [URL],
    balancer: { kind: 'haproxy', config: 'haproxy.cfg', listens: [[VIP, 8000]], websocket: true },
    nodes: NODES.map((n) => ({
      name: n.name,
      config: `${n.name}.xml`,
      listens: [[n.address, 8080]],
      direct_url: `http://${n.address}:8080`,
      control_link: null,
    })),
    hosts: 'hosts',
    ca: null,
    cr_route: 'cookie',
    websocket_expected: true,
  }, null, 2));
}

// Alive and not a zombie (a reparented zombie waits for a reaper we do not control).
function processAlive(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (_) {
    return false;
  }
}

// Servers on ports the system picks; the child reports the HTTP one (`port`).
const NETWORK_CHECK = `
const net = require('node:net'); const http = require('node:http'); const WebSocket = require('ws');
const { installHosts, parseHosts, bindSourceAddress } = require('./lib/hosts');
const srv = http.createServer((req, res) => res.end(req.socket.remoteAddress + ' ' + req.headers.host));
new WebSocket.Server({ server: srv }).on('connection', (ws, req) => ws.send(req.socket.remoteAddress));
const raw = net.createServer((s) => s.end(s.remoteAddress));
const text = (s) => new Promise((ok, ko) => { let b = ''; s.setEncoding('utf8'); s.on('data', (d) => { b += d; }); s.on('end', () => ok(b)); s.on('error', ko); });
srv.listen(0, '${NET}.77', () => raw.listen(0, '${NET}.77', async () => {
  const port = srv.address().port;
  installHosts(parseHosts('${NET}.77 name.example.test'));
  bindSourceAddress('${NET}.59');
  const r = { port };
  r.net = await text(net.connect(raw.address().port, 'name.example.test'));
  r.http = await new Promise((ok, ko) => http.get('http://name.example.test:' + port + '/', (res) => text(res).then(ok, ko)).on('error', ko));
  r.ws = await new Promise((ok, ko) => { const ws = new WebSocket('ws://name.example.test:' + port + '/'); ws.on('message', (m) => { ok(String(m)); ws.close(); }); ws.on('error', ko); });
  r.fetch = (await (await fetch('http://name.example.test:' + port + '/')).text()).split(' ')[0];
  process.stdout.write(JSON.stringify(r)); process.exit(0);
}));
`;

const ORPHAN_PARENT = `
const { ClusterClient } = require('./lib/cluster');
const c = new ClusterClient({ name: 'orphan', config: { url: 'http://127.0.31.1:9' }, cwd: process.cwd() });
c.waitReady().then(() => process.stdout.write(c.proc.pid + '\\n'));
setInterval(() => {}, 1000);
`;

// What the client went through between the kill and its first update on a new
// session, relative to the kill: the evidence when fail-over is slow.
function failoverStory(c, killT, untilT) {
  return c.events
    .filter((e) => e.t >= killT && e.t <= untilT && ['status', 'session', 'serverError', 'property'].includes(e.ev))
    .map((e) => {
      const what = { status: () => e.status, session: () => `session=${e.session}`, property: () => `${e.name}=${e.value}`, serverError: () => `serverError ${e.code} ${e.message}` };
      return `+${e.t - killT}ms ${what[e.ev]()}`;
    })
    .join('; ');
}

describe('cluster harness', () => {
  it('parses node log lines, quoted or not', () => {
    const a = parseLogLine('2026-11-24T10:00:00.123456Z  INFO shoal_engine: session created session=Sabc adapter_set=DEMO client=127.0.10.51 user=None');
    assert.equal(a.message, 'session created');
    assert.deepEqual(a.fields, { session: 'Sabc', adapter_set: 'DEMO', client: '127.0.10.51', user: 'None' });
    assert.equal(a.t, Date.parse('2026-11-24T10:00:00.123Z'));
    const b = parseLogLine('2026-11-24T10:00:00.123456Z DEBUG shoal::requests: request session="Sabc" request="control"');
    assert.deepEqual([b.target, b.message, b.fields.session, b.fields.request], ['shoal::requests', 'request', 'Sabc', 'control']);
    const c = parseLogLine('2026-11-24T10:00:00Z  INFO shoal::requests: request for an unknown session session=Sxyz request="bind_session"');
    assert.deepEqual([c.message, c.fields.session, c.fields.request], ['request for an unknown session', 'Sxyz', 'bind_session']);
    assert.equal(parseLogLine('listening on http://127.0.0.1:8080'), null);
  });

  it('reads hosts files like glibc', () => {
    const map = parseHosts('# comment\n127.0.31.10 push.example.test Push2.example.test # trailing\n\n::1 push.example.test\n');
    assert.deepEqual(resolveMapped(map, 'PUSH.example.test.', {}), { address: '127.0.31.10', family: 4 });
    assert.deepEqual(resolveMapped(map, 'push.example.test', { all: true }), [
      { address: '127.0.31.10', family: 4 }, { address: '::1', family: 6 }]);
    assert.deepEqual(resolveMapped(map, 'push.example.test', 6), { address: '::1', family: 6 });
    assert.throws(() => resolveMapped(map, 'push2.example.test', { family: 'IPv6' }), { code: 'ENOTFOUND' });
    assert.equal(resolveMapped(map, 'localhost', {}), null);
  });

  // In a child process, since both change process-wide state.
  it('hosts file and source address cover net, http, ws and fetch', { timeout: 30000 }, () => {
    const out = JSON.parse(execFileSync(process.execPath, ['-e', NETWORK_CHECK], { cwd: path.join(__dirname, '..'), timeout: 20000 }).toString());
    assert.ok(Number.isInteger(out.port) && out.port > 0, `port ${out.port}`);
    assert.deepEqual(out, {
      port: out.port, net: `${NET}.59`, http: `${NET}.59 name.example.test:${out.port}`, ws: `${NET}.59`, fetch: `${NET}.59`,
    });
  });

  it('every clustering case is in exactly one group, and every group has its test file', () => {
    for (const c of CASES) {
      assert.equal(groupsOf(c).length, 1, `${caseName(c)} is in groups [${groupsOf(c).join(', ')}]`);
    }
    for (const g of Object.keys(GROUPS)) {
      const file = path.join(__dirname, `cluster-${g}.test.js`);
      assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`describeGroup\\('${g}'\\)`), `${file} registers group ${g}`);
    }
  });

  it('every clustering case has its own network, name and result file', () => {
    for (const [what, key] of [['network', (c) => c.network], ['name', caseName], ['result file', caseSlug]]) {
      const seen = new Map();
      for (const c of CASES) {
        const k = key(c);
        assert.ok(!seen.has(k), `${caseName(c)} and ${seen.get(k)} share the ${what} ${k}`);
        seen.set(k, caseName(c));
      }
    }
  });

  it('a group that runs a subset skips the rest with the reason, and runs them all when told', () => {
    const g = GROUPS.transports;
    const cases = CASES.filter(g.has);
    const run = cases.filter((c) => !skipReason(g, c, {}));
    assert.deepEqual(run.map(caseName), ['1.A.2, HTTP-POLLING', '2.A.2, HTTP-STREAMING', '1.B.1, WS-POLLING']);
    for (const c of cases.filter((x) => !run.includes(x))) assert.match(skipReason(g, c, {}), /SHOAL_FAILOVER_ALL=1 runs it/);
    assert.deepEqual(cases.filter((c) => skipReason(g, c, { SHOAL_FAILOVER_ALL: '1' })), []);
    assert.equal(skipReason(g, run[0], { SHOAL_FAILOVER_ALL: '1', SHOAL_TOPOLOGY: '^2\\.' }), 'not selected by SHOAL_TOPOLOGY');
  });

  it('a client process exits when its parent dies', { timeout: 30000 }, async (t) => {
    // The parent starts a client (pointed at nothing) and is then SIGKILLed:
    // the client must notice (stdin EOF) and go.
    const parent = require('node:child_process').spawn(process.execPath, ['-e', ORPHAN_PARENT], {
      cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => parent.kill('SIGKILL'));
    const childPid = await new Promise((resolve, reject) => {
      parent.stdout.setEncoding('utf8');
      let buf = '';
      parent.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(Number(buf.trim())); });
      parent.on('exit', (code) => reject(new Error(`parent exited early (${code}): ${buf}`)));
    });
    // Should this test fail, the client must not outlive it.
    t.after(() => {
      if (processAlive(childPid)) process.kill(childPid, 'SIGKILL');
    });
    assert.ok(processAlive(childPid), 'the client runs');
    parent.kill('SIGKILL');
    const deadline = Date.now() + 10000;
    while (processAlive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(processAlive(childPid), false, `client ${childPid} still alive after its parent died`);
  });

  it('1.A.2 (HTTP, cookie stickiness): sessions spread, stay on their node, move when it dies',
    { timeout: 120000 }, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-kit-1a2-'));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      writeKit(dir);
      for (const n of NODES) execFileSync(shoalBin(), ['check-config', path.join(dir, `${n.name}.xml`)]);

      await withKit(t, dir, {}, async (kit) => {
        // The inserted cookie must have Path=/, or the Node client never sends it back.
        const res = await fetch(`http://${VIP}:8000/lightstreamer/healthcheck`);
        assert.match(res.headers.get('set-cookie') || '', /^LSNODE=node[12]; path=\//i, 'cookie inserted with Path=/');

        const clients = await Promise.all(SOURCES.map((source, i) => kit.spawnClient({ source, name: `client${i + 1}` })));
        await Promise.all(clients.map((c, i) => connect(c, { chat: i === 0 })));

        // Where each session lives, seen from the nodes' logs.
        const before = new Map(); // client -> { sid, node }
        for (const c of clients) {
          assert.equal(c.status(), 'CONNECTED:WS-STREAMING', `${c.name} transport`);
          const sid = c.sessionId();
          const info = await kit.waitSession(sid);
          assert.equal(info.client, c.source, `${c.name}: the node saw the client's own source address`);
          before.set(c, { sid, node: info.node });
        }
        const byNode = (node) => clients.filter((c) => before.get(c).node === node);
        t.diagnostic(`sessions: ${clients.map((c) => `${c.name}@${before.get(c).node}`).join(' ')}`);
        assert.ok(byNode('node1').length > 0 && byNode('node2').length > 0, 'sessions on both nodes');

        // A message round trip through the balancer.
        const sender = clients[0];
        const from = sender.mark();
        const outcome = await sender.sendMessage('CHAT|hello');
        assert.equal(outcome.outcome, 'processed', JSON.stringify(outcome));
        await sender.waitUpdate('chat', { from, pred: (u) => u.values.message === 'hello' });
        const senderSid = before.get(sender).sid;
        await waitUntil(kit, () => kit.requestsOf(senderSid).some((r) => r.request === 'msg'), {
          timeoutMs: 5000, what: `the msg request of ${senderSid} in a node log`,
        });

        // Stickiness: every request of a session on its node, none anywhere else.
        for (const c of clients) {
          const { sid, node } = before.get(c);
          const reqs = kit.requestsOf(sid);
          assert.ok(reqs.length > 0, `${c.name}: requests logged`);
          assert.deepEqual(reqs.filter((r) => r.node !== node), [], `${c.name}: requests off ${node}`);
        }
        assert.deepEqual(kit.unknownSessionRequests(), [], 'no request reached a node that did not know its session');

        // node1 dies: its clients must start over on node2; node2's keep going.
        const { kill, moved } = await failOver(kit, clients, before, 'node1');
        const times = [];
        for (const { client: c, update: u, info, ms } of moved) {
          assert.equal(info.node, 'node2', `${c.name}: new session on node2`);
          assert.equal(info.client, c.source, `${c.name}: source address on the new session`);
          assert.match(c.status(), /^CONNECTED:/, `${c.name} connected`);
          times.push({ client: c.name, ms });
          t.diagnostic(`${c.name}: fail-over ${ms} ms (kill -> first update on ${u.session}); ${failoverStory(c, kill.t, u.t)}`);
        }

        // After the fail-over, the new sessions too are served by their node only;
        // the only unknown-session requests are the dead node's old sessions
        // (the clients' recovery attempts, redispatched to node2).
        const oldNode1 = new Set(byNode('node1').map((c) => before.get(c).sid));
        for (const c of byNode('node1')) {
          const sid = c.sessionId();
          assert.deepEqual(kit.requestsOf(sid).filter((r) => r.node !== 'node2'), [], `${c.name}: new session's requests off node2`);
        }
        const stray = kit.unknownSessionRequests().filter((u) => !oldNode1.has(u.session));
        assert.deepEqual(stray, [], 'unknown-session requests only for the dead node\'s sessions');
        t.diagnostic(`unknown-session requests after the kill: ${JSON.stringify(kit.unknownSessionRequests().map((u) => ({ node: u.node, session: u.session, request: u.request, after: u.t - kill.t })))}`);
        const summary = times.map((x) => `${x.client} ${x.ms} ms`).join(', ');
        console.log(`[cluster-harness] fail-over times (kill -> first update on the new session): ${summary}`);
        t.diagnostic(`fail-over times: ${summary}`);
      });
    });
});
