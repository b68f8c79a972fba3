'use strict';
// Runs a cluster kit (the directory `shoal cluster-plan` writes): its broker
// (a kit made with --feed), its Shoal nodes, its balancer (HAProxy or nginx),
// and official clients as child processes, each one a separate client machine
// (own source address, own cookie jar, the kit's host names). Then tells where
// each session and each of its requests went, from the nodes' logs.
//
//   await withKit(t, dir, {}, async (kit) => {       // broker, nodes, then the balancer
//     const c = await kit.spawnClient({ source: '127.0.10.51' });
//     c.connect(); await c.waitStatus(/^CONNECTED:/);
//     (await kit.waitSession(c.sessionId())).node; kit.requestsOf(sid); kit.unknownSessionRequests();
//     kit.handoffsOf(sid); kit.holderOf(sid);           // session handoff lines; who holds it now
//     const { t } = await kit.kill('node1');          // SIGKILL, time recorded
//     await kit.publish({ item: 'x', fields: { v: '1' } }); // POST /publish through the balancer
//     await kit.killBroker(); await kit.startBroker();      // same address, same data
//   });
//
// withKit(t, dir, opts, fn) starts the kit for a node:test test, stops it after
// the test whatever happens, and prints every log tail when the test fails (or
// always, with SHOAL_CLUSTER_DUMP=1).

const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');
const { ShoalServer, onLines } = require('./server');
const { kitBroker, publish } = require('./broker');
const { readHostsFile, mappedLookup } = require('./hosts');
const { startHaproxyFile } = require('./haproxy');
const { startNginxFile } = require('./nginx');
const { killedOnExit, waitUntil } = require('./util');

const NODE_LOG_LEVEL = 'info,shoal::requests=debug';
const CLIENT_PROGRAM = path.join(__dirname, 'cluster-client.js');
const CLIENT_LOG_LIMIT = 5000; // library log lines kept per client

// Every client process started here dies with the test process, whatever the way
// it exits (the clients also exit by themselves when their stdin closes).
const liveClients = killedOnExit();

// ---------------------------------------------------------------------------
// Node logs

// tracing's fmt output: `2026-11-24T10:00:00.123456Z  INFO target: message k=v k="v"`.
const LOG_RE = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+([\w:]+):\s?(.*)$/;
const FIELD_START_RE = /(?:^|\s)[A-Za-z_][\w.]*=/;
const FIELD_RE = /([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

function unquote(value) {
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value);
  } catch (_) {
    return value.slice(1, -1);
  }
}

// { t (ms), level, target, message, fields } or null for other lines.
// String field values may or may not be quoted; both read the same.
function parseLogLine(raw) {
  const line = raw.replace(/\x1b\[[0-9;]*m/g, ''); // in case colours are on
  const m = LOG_RE.exec(line);
  if (!m) return null;
  const rest = m[4];
  const start = FIELD_START_RE.exec(rest);
  const cut = start ? start.index : rest.length;
  const fields = {};
  for (const f of rest.slice(cut).matchAll(FIELD_RE)) fields[f[1]] = unquote(f[2]);
  return { t: Date.parse(m[1]), level: m[2], target: m[3], message: rest.slice(0, cut).trim(), fields, line };
}

// The node log lines of session handoff (crates/engine: adopt.rs, lib.rs).
const HANDOFF_RE = /taken over|handed over|took this session over/;

function indent(text, prefix = '  ') {
  return String(text).split('\n').map((l) => prefix + l).join('\n');
}

// ---------------------------------------------------------------------------
// Client processes

class ClusterClient extends EventEmitter {
  constructor({ name, config, env = {}, cwd }) {
    super();
    this.setMaxListeners(0);
    this.name = name;
    this.config = config;
    this.source = config.sourceAddress || null;
    this.events = []; // every event line of the child, parsed
    this.log = []; // the child's stderr: the client library's log
    this.exit = null; // { code, signal, t } once the process is gone
    this.nextId = 1;
    this.proc = spawn(process.execPath, [CLIENT_PROGRAM, JSON.stringify(config)], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    liveClients.add(this.proc);
    this.proc.stdin.on('error', () => {}); // EPIPE when the child is gone
    onLines(this.proc.stdout, (line) => this._onEvent(line));
    onLines(this.proc.stderr, (line) => {
      this.log.push(line);
      if (this.log.length > CLIENT_LOG_LIMIT) this.log.splice(0, this.log.length - CLIENT_LOG_LIMIT);
    });
    this.proc.on('error', (err) => {
      this.log.push(`[harness] spawn error: ${err.message}`);
      this.emit('change');
    });
    this.proc.on('close', (code, signal) => {
      liveClients.delete(this.proc);
      this.exit = { code, signal, t: Date.now() };
      this.emit('change');
    });
  }

  _onEvent(line) {
    let ev;
    try {
      ev = JSON.parse(line);
    } catch (_) {
      ev = { t: Date.now(), ev: 'stdout', text: line };
    }
    ev.index = this.events.length;
    this.events.push(ev);
    this.emit('change');
  }

  get running() {
    return this.exit === null;
  }

  // Index of the next event: pass it as `from` to wait for what comes after now.
  mark() {
    return this.events.length;
  }

  send(cmd) {
    if (!this.running) throw new Error(`${this.name}: cannot send ${JSON.stringify(cmd)}: the process has exited\n${this.describe()}`);
    this.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  // Resolves with the first event at index >= from satisfying pred. Fails at once
  // when the process exits, or when a command was refused.
  waitEvent(pred, { timeoutMs = 15000, what = 'an event', from = 0 } = {}) {
    return waitUntil(this, () => {
      for (let i = from; i < this.events.length; i += 1) {
        const ev = this.events[i];
        if (pred(ev)) return ev;
        if (ev.ev === 'commandError') throw new Error(`${this.name}: command ${ev.cmd} refused: ${ev.message} (waiting for ${what})\n${this.describe()}`);
      }
      if (!this.running) throw new Error(`${this.name}: process exited (${JSON.stringify(this.exit)}) while waiting for ${what}\n${this.describe()}`);
      return null;
    }, { timeoutMs, what: `${this.name}: ${what}`, state: () => this.describe() });
  }

  waitReady({ timeoutMs = 15000 } = {}) {
    return this.waitEvent((e) => e.ev === 'ready', { timeoutMs, what: 'ready' });
  }

  connect() {
    this.send({ cmd: 'connect' });
  }

  // expected: exact status string, RegExp, or predicate(event). A server error
  // fails the wait at once unless allowServerError.
  waitStatus(expected, { timeoutMs = 15000, from = 0, allowServerError = false } = {}) {
    const match = typeof expected === 'function' ? expected
      : expected instanceof RegExp ? (e) => expected.test(e.status) : (e) => e.status === expected;
    const what = `status ${expected}`;
    return this.waitEvent((e) => {
      if (e.ev === 'serverError' && !allowServerError) {
        throw new Error(`${this.name}: onServerError(${e.code}, ${JSON.stringify(e.message)}) while waiting for ${what}\n${this.describe()}`);
      }
      return e.ev === 'status' && match(e);
    }, { timeoutMs, from, what });
  }

  status() {
    const last = this.events.filter((e) => e.ev === 'status').pop();
    return last ? last.status : null;
  }

  // The current session id as the client last reported it.
  sessionId() {
    const last = this.events.filter((e) => e.ev === 'session').pop();
    return last ? last.session : null;
  }

  // Every session id the client had, in order.
  sessions() {
    const ids = [];
    for (const e of this.events) if (e.ev === 'session' && e.session && !ids.includes(e.session)) ids.push(e.session);
    return ids;
  }

  // Sends the subscription command; returns its id (given or generated).
  subscribe(spec) {
    const id = spec.id ?? `sub${this.nextId++}`;
    this.send({ cmd: 'subscribe', ...spec, id });
    return id;
  }

  waitSubscribed(id, { timeoutMs = 15000, from = 0 } = {}) {
    return this.waitEvent((e) => {
      if (e.ev === 'subscriptionError' && e.id === id) {
        throw new Error(`${this.name}: subscription ${id}: onSubscriptionError(${e.code}, ${JSON.stringify(e.message)})\n${this.describe()}`);
      }
      return e.ev === 'subscribed' && e.id === id;
    }, { timeoutMs, from, what: `subscription ${id} confirmed` });
  }

  // The first update of `id` at index >= from (and of `session`, if given) that
  // satisfies pred.
  waitUpdate(id, { from = 0, session = undefined, pred = () => true, timeoutMs = 15000, what = null } = {}) {
    return this.waitEvent((e) => e.ev === 'update' && e.id === id && (session === undefined || e.session === session) && pred(e), {
      from,
      timeoutMs,
      what: what || `an update of ${id}${session !== undefined ? ` on session ${session}` : ''}`,
    });
  }

  // Sends a message and resolves with its outcome event (processed, deny,
  // error, abort or discarded: the caller decides what is acceptable).
  async sendMessage(text, { sequence = null, timeoutMs = 15000, ...rest } = {}) {
    const id = `msg${this.nextId++}`;
    const from = this.mark();
    this.send({ cmd: 'send', id, text, sequence, ...rest });
    return this.waitEvent((e) => e.ev === 'message' && e.id === id, { from, timeoutMs, what: `outcome of message ${JSON.stringify(text)}` });
  }

  // Asks the client process to disconnect and exit; SIGKILL if it does not
  // within timeoutMs. Never throws.
  async stop({ timeoutMs = 3000 } = {}) {
    if (!this.running) return;
    try {
      this.proc.stdin.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
    } catch (_) {
      // already closing
    }
    await waitUntil(this, () => !this.running, { timeoutMs, what: `${this.name} exit` }).catch(() => {});
    if (this.running) {
      this.proc.kill('SIGKILL');
      await waitUntil(this, () => !this.running, { timeoutMs: 5000, what: `${this.name} exit after SIGKILL` }).catch(() => {});
    }
  }

  summary() {
    const t0 = this.events.length ? this.events[0].t : 0;
    const statuses = this.events
      .filter((e) => e.ev === 'status' || e.ev === 'serverError')
      .map((e) => (e.ev === 'status' ? `${e.status}${e.session ? `[${e.session}]` : ''}` : `serverError(${e.code},${e.message})`) + `@+${e.t - t0}`);
    return `${this.name} (source ${this.source}, pid ${this.proc.pid}${this.exit ? `, exited ${JSON.stringify(this.exit)}` : ''}): ` +
      `status ${this.status()}, session ${this.sessionId()}, sessions ${this.sessions().join(' ')}; ${statuses.join(' -> ')}`;
  }

  describe({ events = 25, log = 60 } = {}) {
    const skip = new Set(['index']);
    const evLines = this.events.slice(-events).map((e) => JSON.stringify(e, (k, v) => (skip.has(k) ? undefined : v)));
    return [
      this.summary(),
      `  -- last events of ${this.name} --`,
      indent(evLines.join('\n') || '(none)', '    '),
      `  -- client library log of ${this.name} (last ${log} lines) --`,
      indent(this.log.slice(-log).join('\n') || '(none)', '    '),
    ].join('\n');
  }
}

// ---------------------------------------------------------------------------
// The kit

function readKitSpec(dir) {
  const file = path.join(dir, 'kit.json');
  let spec;
  try {
    spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err.message}`);
  }
  if (!Array.isArray(spec.nodes) || !spec.nodes.length) throw new Error(`${file}: no nodes`);
  if (!spec.balancer || !spec.balancer.config) throw new Error(`${file}: no balancer.config`);
  for (const n of spec.nodes) {
    if (!n.name || !n.config || !Array.isArray(n.listens) || !n.listens.length) {
      throw new Error(`${file}: node ${JSON.stringify(n)} needs name, config and listens`);
    }
  }
  const f = spec.feed;
  if (f != null) {
    const ok = f.kind && f.program && f.package && Array.isArray(f.args) && f.url && f.publish_token &&
      Array.isArray(f.listens) && f.listens.length === 2;
    if (!ok) throw new Error(`${file}: feed ${JSON.stringify(f)} needs kind, program, package, args, url, listens [host, port] and publish_token`);
  }
  return spec;
}

const hostPort = (host, port) => `${String(host).replace(/^\[(.*)\]$/, '$1')}:${port}`;

// opts: nodeArgs (more `shoal serve` arguments for every node), fastStop (see
// ShoalServer: false when nodeArgs set the drain), logLevel, startTimeoutMs,
// nodeCommand (nodeSpec => { bin, binArgs }: what runs `serve` for a node,
// e.g. `ip netns exec NS shoal`; by default the Shoal binary itself).
class Kit extends EventEmitter {
  constructor(dir, spec, { logLevel = NODE_LOG_LEVEL, startTimeoutMs = 15000, nodeArgs = [], fastStop = true, nodeCommand = () => ({}) } = {}) {
    super();
    this.setMaxListeners(0);
    this.dir = path.resolve(dir);
    this.spec = spec;
    this.logLevel = logLevel;
    this.startTimeoutMs = startTimeoutMs;
    this.publicUrl = (spec.public_urls || [])[0] || null;
    this.hostsFile = spec.hosts ? path.join(this.dir, spec.hosts) : null;
    this.caFile = spec.ca ? path.join(this.dir, spec.ca) : null;
    this.nodes = new Map(); // name -> { name, spec, server }
    // The shared feed's broker (kit.json `feed`), run as the kit's start.sh
    // runs it; waits on the kit wake up on each of its lines.
    this.feed = spec.feed || null;
    this.broker = this.feed ? kitBroker(this.dir, this.feed, { onLine: () => this.emit('change') }) : null;
    this.brokerEvents = []; // [{ what: 'kill' | 'start', t }]
    this.publishAgent = null; // keep-alive connections of kit.publish
    this.balancer = null; // lib/balancer.js: { proc, log (lines), stop }
    this.clients = [];
    this.sessions = new Map(); // session id -> { node, client, adapterSet, user, t, closed }
    this.requests = new Map(); // session id -> [{ node, request, t }]
    this.unknown = []; // [{ node, session, request, t }]
    // Session handoff lines ("session taken over from a dead node", "session
    // handed over to the other nodes", "... not taken over ...", "another node
    // took this session over first"): [{ node, session, message, fields, t }].
    this.handoffs = [];
    // "bind_session cut" lines (a plain bind_session cut so that the client
    // recovers its session; the session id is in the message only):
    // [{ node, session, message, t }].
    this.bindCuts = [];
    this.kills = []; // [{ node, signal, t }]
    this.stopped = false;
    for (const nodeSpec of spec.nodes) {
      const node = { name: nodeSpec.name, spec: nodeSpec, server: null };
      node.server = new ShoalServer({
        ...nodeCommand(nodeSpec),
        name: nodeSpec.name,
        listen: [],
        listeners: nodeSpec.listens.length,
        extraArgs: ['--config', path.join(this.dir, nodeSpec.config), '--log-level', logLevel, ...nodeArgs],
        fastStop,
        onLine: (line) => this._onNodeLine(node, line),
      });
      this.nodes.set(node.name, node);
    }
  }

  _onNodeLine(node, line) {
    const rec = parseLogLine(line);
    if (!rec) return;
    const f = rec.fields;
    if (rec.message === 'session created' && f.session) {
      this.sessions.set(f.session, { node: node.name, client: f.client ?? null, adapterSet: f.adapter_set ?? null, user: f.user ?? null, t: rec.t, closed: null });
    } else if (rec.message.startsWith('session closed') && f.session && this.sessions.has(f.session)) {
      this.sessions.get(f.session).closed = { message: rec.message, code: f.code ?? null, t: rec.t };
    } else if (rec.target === 'shoal::requests' && rec.message === 'request' && f.session) {
      if (!this.requests.has(f.session)) this.requests.set(f.session, []);
      this.requests.get(f.session).push({ node: node.name, request: f.request, t: rec.t });
    } else if (f.session && HANDOFF_RE.test(rec.message)) {
      this.handoffs.push({ node: node.name, session: f.session, message: rec.message, fields: f, t: rec.t });
    } else if (rec.message.startsWith('bind_session cut')) {
      const m = /\bsession (\S+)/.exec(rec.message); // not "bind_session cut"
      this.bindCuts.push({ node: node.name, session: m ? m[1] : null, message: rec.message, t: rec.t });
    } else if (rec.message.startsWith('request for an unknown session')) {
      this.unknown.push({ node: node.name, session: f.session ?? null, request: f.request ?? null, t: rec.t });
    }
    this.emit('change');
  }

  node(name) {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${JSON.stringify(name)} in the kit (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  // Starts (or starts again, after kill) one node and checks that it listens
  // where kit.json says.
  async startNode(name) {
    const node = this.node(name);
    await node.server.start({ timeoutMs: this.startTimeoutMs });
    // A node listening on every interface (a --vrrp kit) serves kit.json's
    // address of that port (the node host's own one).
    const anyHost = new Set(['0.0.0.0', '[::]', '::']);
    const got = node.server.addresses.map((a) => {
      const same = anyHost.has(a.host) && node.spec.listens.find(([, p]) => p === a.port);
      return same ? hostPort(same[0], a.port) : hostPort(a.host, a.port);
    }).sort();
    const want = node.spec.listens.map(([h, p]) => hostPort(h, p)).sort();
    if (got.join(' ') !== want.join(' ')) {
      throw new Error(`${name} listens on ${got.join(', ')}, kit.json says ${want.join(', ')}\n${node.server.logTail(40)}`);
    }
    return node;
  }

  async _start() {
    // The broker first, as start.sh does: the nodes read it from the start.
    if (this.broker) await this.startBroker();
    // Nodes before the balancer, so that its first health checks find them up.
    await Promise.all([...this.nodes.keys()].map((name) => this.startNode(name)));
    const file = path.join(this.dir, this.spec.balancer.config);
    const listens = this.spec.balancer.listens || [];
    // Waits on the balancer's log (a node seen DOWN or UP) wake up on each line.
    const onLine = () => this.emit('change');
    this.balancer = this.spec.balancer.kind === 'nginx'
      ? await startNginxFile(file, listens, { timeoutMs: this.startTimeoutMs, onLine })
      : await startHaproxyFile(file, listens, { cwd: this.dir, timeoutMs: this.startTimeoutMs, onLine });
  }

  // Starts one official client in a process of its own. source: its source
  // address (127.x.y.z); url: where it connects (default: the kit's first public
  // URL); hostsFile: the names it resolves (default: the kit's); adapterSet,
  // ignoreControlLink, forcedTransport, retryDelay, sessionRecoveryTimeout: see
  // cluster-client.js. Resolves once the process is up.
  async spawnClient({
    source = null, url = this.publicUrl, name = null, adapterSet = 'DEMO', ignoreControlLink = false, forcedTransport = null, hostsFile = this.hostsFile,
    retryDelay = null, sessionRecoveryTimeout = null,
  } = {}) {
    if (this.stopped) throw new Error('spawnClient after kit.stop()');
    if (!url) throw new Error('spawnClient: no url and kit.json has no public_urls');
    const config = {
      name: name || `client${this.clients.length + 1}`,
      url,
      adapterSet,
      hostsFile,
      sourceAddress: source,
      ignoreControlLink,
      forcedTransport,
      retryDelay,
      sessionRecoveryTimeout,
    };
    const childEnv = this.caFile ? { NODE_EXTRA_CA_CERTS: this.caFile } : {};
    const client = new ClusterClient({ name: config.name, config, env: childEnv, cwd: path.join(__dirname, '..') });
    this.clients.push(client);
    await client.waitReady();
    return client;
  }

  // What the owner node logged at creation: { node, client, adapterSet, user, t, closed }.
  sessionInfo(sessionId) {
    return this.sessions.get(sessionId) || null;
  }

  // Node logs arrive through pipes, possibly after the client already reported
  // its session: wait for the creation line.
  waitSession(sessionId, { timeoutMs = 5000 } = {}) {
    return waitUntil(this, () => this.sessions.get(sessionId), {
      timeoutMs,
      what: `a node logging "session created" for ${sessionId}`,
      state: () => this.describeNodes({ lines: 40 }),
    });
  }

  // The handoff lines logged about a session, in time order (see handoffs).
  // The "bind_session cut" lines about a session: [{ node, session, message, t }].
  bindCutsOf(sessionId) {
    return this.bindCuts.filter((c) => c.session === sessionId);
  }

  handoffsOf(sessionId) {
    return this.handoffs.filter((h) => h.session === sessionId).sort((a, b) => a.t - b.t);
  }

  // The node that holds a session now, as the logs tell: the last one that
  // logged taking it over, else the one that created it; null if unknown.
  holderOf(sessionId) {
    const taken = this.handoffsOf(sessionId).filter((h) => h.message.startsWith('session taken over from')).pop();
    if (taken) return taken.node;
    const info = this.sessions.get(sessionId);
    return info ? info.node : null;
  }

  // Every request of a session the nodes served: [{ node, request, t }], in the
  // order each node logged them (nodes merged by time).
  requestsOf(sessionId) {
    return [...(this.requests.get(sessionId) || [])].sort((a, b) => a.t - b.t);
  }

  // Requests that reached a node which did not know their session:
  // [{ node, session, request, t }]; only those of `node` when given.
  unknownSessionRequests(node = null) {
    return this.unknown.filter((u) => node === null || u.node === node);
  }

  // The balancer's output lines so far (the array itself: it grows).
  balancerLines() {
    return this.balancer ? this.balancer.log : [];
  }

  // Kills a node (SIGKILL by default: a crash) and waits until it is gone.
  // Resolves with { node, signal, t }, t = Date.now() just before the signal.
  // graceMs: how long a SIGTERM may take (a draining node) before SIGKILL.
  async kill(name, signal = 'SIGKILL', { graceMs } = {}) {
    const node = this.node(name);
    if (!node.server.running) throw new Error(`kill ${name}: not running`);
    const record = { node: name, signal, t: Date.now() };
    this.kills.push(record);
    await node.server.stop(graceMs == null ? { signal } : { signal, graceMs });
    record.gone = Date.now();
    return record;
  }

  // Starts the kit's broker (again, after killBroker): same address, same
  // data folder. A missing program fails, naming its Debian package.
  async startBroker() {
    if (!this.broker) throw new Error('startBroker: kit.json has no feed (make the kit with --feed redis|nats)');
    await this.broker.start({ timeoutMs: this.startTimeoutMs });
    this.brokerEvents.push({ what: 'start', t: Date.now() });
  }

  // SIGKILL of the broker; resolves once it is gone, with { t } (just before
  // the signal).
  async killBroker() {
    if (!this.broker) throw new Error('killBroker: kit.json has no feed');
    if (!this.broker.running) throw new Error(`killBroker: ${this.feed.kind} is not running`);
    const record = { what: 'kill', t: Date.now() };
    this.brokerEvents.push(record);
    await this.broker.kill();
    record.gone = Date.now();
    return record;
  }

  async restartBroker() {
    await this.killBroker();
    await this.startBroker();
  }

  // POST /publish through the balancer (the kit's first public URL, its
  // host names from the kit's hosts file, its CA), with the kit's
  // publish_token; body: { item, fields, ... } (adapter_set FEED unless
  // given). Resolves with { status, body, headers }; rejects on a network
  // error. source: the publisher's source address.
  publish(body, { url = this.publicUrl, source, timeoutMs = 15000 } = {}) {
    if (!this.feed) return Promise.reject(new Error('publish: kit.json has no feed (make the kit with --feed redis|nats)'));
    if (!this.publishAgent) {
      const mod = url.startsWith('https:') ? https : http;
      this.publishAgent = new mod.Agent({ keepAlive: true, maxSockets: 4 });
      // The kit's names as its hosts file says, others as the system does.
      this.publishLookup = mappedLookup(this.hostsFile ? readHostsFile(this.hostsFile) : new Map());
      this.publishCa = this.caFile ? fs.readFileSync(this.caFile) : undefined;
    }
    return publish(url, this.feed.publish_token, body, {
      agent: this.publishAgent, ca: this.publishCa, lookup: this.publishLookup, localAddress: source, timeoutMs,
    });
  }

  describeNodes({ lines = 80 } = {}) {
    const out = [];
    for (const node of this.nodes.values()) {
      out.push(`---- ${node.name} (${node.spec.config}; ${node.server.running ? `pid ${node.server.proc.pid}` : 'not running'}) last ${lines} lines ----`);
      out.push(node.server.logTail(lines));
    }
    return out.join('\n');
  }

  describe({ nodeLines = 80, balancerLines = 60, clientEvents = 25, clientLog = 60 } = {}) {
    const out = [`==== kit ${this.dir} (${this.spec.topology || '?'}) ====`];
    if (this.kills.length) out.push(`kills: ${JSON.stringify(this.kills)}`);
    if (this.brokerEvents.length) out.push(`broker: ${JSON.stringify(this.brokerEvents)}`);
    for (const [sid, s] of this.sessions) {
      const reqs = this.requestsOf(sid);
      const elsewhere = reqs.filter((r) => r.node !== s.node).length;
      out.push(`session ${sid} on ${s.node} from ${s.client}: ${reqs.length} requests${elsewhere ? ` (${elsewhere} on another node!)` : ''}${s.closed ? `, closed: ${s.closed.message}` : ''}`);
    }
    if (this.unknown.length) out.push(`unknown-session requests: ${JSON.stringify(this.unknown)}`);
    for (const h of this.handoffs) out.push(`handoff: ${h.node} ${h.session}: ${h.message} ${JSON.stringify(h.fields)}`);
    if (this.broker) out.push(this.broker.describe({ lines: Math.min(nodeLines, 40) }));
    out.push(this.describeNodes({ lines: nodeLines }));
    out.push(`---- ${this.spec.balancer.kind || 'balancer'} (last ${balancerLines} lines) ----`);
    out.push(this.balancer ? this.balancer.log.slice(-balancerLines).join('\n') || '(no output)' : '(not started)');
    for (const c of this.clients) out.push(`---- ${c.name} ----`, c.describe({ events: clientEvents, log: clientLog }));
    return out.join('\n');
  }

  // Stops the clients (while the servers still answer), the balancer, the
  // nodes, the broker. Idempotent; never throws.
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.clients.map((c) => c.stop().catch(() => {})));
    if (this.publishAgent) this.publishAgent.destroy();
    if (this.balancer) await this.balancer.stop().catch(() => {});
    await Promise.all([...this.nodes.values()].map((n) => n.server.stop().catch(() => {})));
    if (this.broker) await this.broker.kill().catch(() => {});
  }
}

async function startKit(dir, opts = {}) {
  const kit = new Kit(dir, readKitSpec(dir), opts);
  try {
    await kit._start();
  } catch (err) {
    const details = kit.describe({ nodeLines: 40 });
    await kit.stop();
    err.message = `${err.message}\n${details}`;
    throw err;
  }
  return kit;
}

// Runs fn(kit) in a node:test test: the kit is stopped after the test whatever
// happens, and a failure prints the kit's state and every log tail.
async function withKit(t, dir, opts, fn) {
  let kit = null;
  t.after(() => (kit ? kit.stop() : undefined));
  kit = await startKit(dir, opts);
  try {
    const result = await fn(kit);
    // SHOAL_CLUSTER_DUMP=1: the whole story even when the test passes.
    if (process.env.SHOAL_CLUSTER_DUMP) {
      for (const line of kit.describe({ nodeLines: 400, balancerLines: 400, clientEvents: 400, clientLog: 1000 }).split('\n')) t.diagnostic(line);
    }
    return result;
  } catch (err) {
    try {
      for (const line of kit.describe().split('\n')) t.diagnostic(line);
    } catch (reportErr) {
      t.diagnostic(`(diagnostics failed: ${reportErr.message})`);
    }
    throw err;
  }
}

module.exports = { withKit, ClusterClient, parseLogLine };
