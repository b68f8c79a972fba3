'use strict';
// A broker shared by Shoal nodes (Redis, NATS JetStream), the adapter set
// that feeds items from it (FEED, built-in shoal.redis or shoal.nats data
// adapter), and the publish API's helpers.
//
//   const b = await startBroker(s, 'redis');        // redis-server on 127.0.0.1:<free port>
//   const dir = feedAdaptersDir(s, b, { token });   // --adapters-dir for every node
//   await publish(node.url, token, { item: 'x', fields: { v: '1' } });
//   await b.kill(); await b.restart();              // same port, same data folder
//
//   const k = kitBroker(kitDir, kitJson.feed);      // a cluster kit's broker (lib/cluster.js)
//   await k.start();
//
// The data survives a restart (Redis: append-only file; NATS: its store
// folder).

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const { runDaemon } = require('./balancer');

const KINDS = {
  redis: { program: 'redis-server', pkg: 'redis-server', adapterClass: 'shoal.redis' },
  nats: { program: 'nats-server', pkg: 'nats-server', adapterClass: 'shoal.nats' },
};

// The path of `program`: on PATH, or in a bin or sbin folder (Debian puts
// nats-server in /usr/sbin, which is not on every PATH). Missing, it is an
// error that names the Debian package `pkg`.
function findProgram(program, pkg) {
  if (!/^[\w.+-]+$/.test(program)) throw new Error(`${JSON.stringify(program)} is not a program name`);
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean)
    .concat(['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    const p = path.join(dir, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch (_) {
      // not here
    }
  }
  throw new Error(`${program} is not installed: install the Debian package ${pkg} (apt-get install ${pkg})`);
}

// A port the system gives, freed for the broker (neither broker can be
// told to pick one and say which).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// One broker process: `program` (a name, looked up by findProgram; `pkg`
// is its Debian package) run with `args` from `cwd`, listening on
// host:port, reached by the nodes at `url`. dataDir (relative to cwd) is
// created before each start. onLine(line) sees each output line.
class Broker {
  constructor({ kind, url, host, port, args, cwd, program = KINDS[kind].program, pkg = KINDS[kind].pkg, dataDir = null, onLine = null }) {
    if (!KINDS[kind]) throw new Error(`unknown broker kind ${JSON.stringify(kind)} (known: ${Object.keys(KINDS).join(', ')})`);
    Object.assign(this, { kind, url, host, port, args, cwd, program, pkg, dataDir, onLine });
    this.daemon = null;
    this.log = [];
    this.starts = 0;
  }

  get running() {
    return !!this.daemon && this.daemon.proc.exitCode === null && this.daemon.proc.signalCode === null;
  }

  async start({ timeoutMs = 10000 } = {}) {
    if (this.running) throw new Error(`${this.kind}: already running (pid ${this.daemon.proc.pid})`);
    const bin = findProgram(this.program, this.pkg);
    if (this.dataDir) fs.mkdirSync(path.resolve(this.cwd, this.dataDir), { recursive: true });
    this.starts += 1;
    this.log.push(`---- [harness] start #${this.starts}: ${bin} ${this.args.join(' ')} (in ${this.cwd})`);
    this.daemon = await runDaemon({
      name: this.kind,
      bin,
      file: this.cwd,
      check: ['--version'],
      args: this.args,
      cwd: this.cwd,
      ports: [[this.host, this.port]],
      timeoutMs,
      onLine: (l) => {
        this.log.push(l);
        if (this.log.length > 400) this.log.shift();
        if (this.onLine) this.onLine(l);
      },
    });
  }

  // SIGKILL, and wait until it is gone.
  async kill() {
    if (this.daemon) await this.daemon.stop();
    this.daemon = null;
  }

  async restart(opts) {
    await this.kill();
    await this.start(opts);
  }

  describe({ lines = 30 } = {}) {
    const state = this.running ? `pid ${this.daemon.proc.pid}` : 'not running';
    return `---- ${this.kind} at ${this.url} (${state}; last ${lines} lines) ----\n${this.log.slice(-lines).join('\n') || '(no output)'}`;
  }

  close() {
    return this.kill();
  }
}

// The arguments of a test's own broker: everything in `dir`, every write on
// disk before it is acknowledged.
function testArgs(kind, dir, port) {
  if (kind === 'redis') {
    return ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
  }
  return ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir];
}

async function startBroker(s, kind) {
  const dir = s.tempDir(`shoal-${kind}-`);
  const port = await freePort();
  const url = kind === 'redis' ? `redis://127.0.0.1:${port}/0` : `nats://127.0.0.1:${port}`;
  const b = new Broker({ kind, url, host: '127.0.0.1', port, args: testArgs(kind, dir, port), cwd: dir });
  s.track(b);
  await b.start();
  return b;
}

// The broker of a cluster kit: kit.json's `feed` entry (what the kit's
// start.sh runs: program, package, args, from the kit's folder).
function kitBroker(kitDir, feed, { onLine = null } = {}) {
  const [host, port] = feed.listens;
  return new Broker({
    kind: feed.kind,
    url: feed.url,
    host,
    port,
    args: feed.args,
    cwd: kitDir,
    program: feed.program,
    pkg: feed.package,
    dataDir: feed.data_dir,
    onLine,
  });
}

// Writes an adapters folder with the set FEED: LiteralBasedProvider and a
// DEFAULT data provider reading `broker`, publishing with `token`.
function feedAdaptersDir(s, broker, { token, params = {} } = {}) {
  return adaptersDir(s, KINDS[broker.kind].adapterClass, {
    url: broker.url,
    publish_token: token,
    linger_millis: '500',
    ...(broker.kind === 'redis' ? { stream_prefix: 'test:' } : { subject_prefix: 'test' }),
    ...params,
  });
}

// The same set FEED with the in-memory data adapter (shoal.memory): items
// published to the node itself, no broker. metadataParams: the literal
// metadata provider's (max_bandwidth, buffer_size, ...).
function memoryAdaptersDir(s, { token, params = {}, metadataParams = {} } = {}) {
  return adaptersDir(s, 'shoal.memory', { publish_token: token, ...params }, metadataParams);
}

function adaptersDir(s, adapterClass, params, metadataParams = {}) {
  const dir = s.tempDir('shoal-feed-adapters-');
  const paramsXml = (ps) => Object.entries(ps)
    .map(([k, v]) => `\n      <param name="${k}">${v}</param>`)
    .join('');
  const xml = `<?xml version="1.0"?>
<adapters_conf id="FEED">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>${paramsXml(metadataParams)}
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>${adapterClass}</adapter_class>${paramsXml(params)}
  </data_provider>
</adapters_conf>
`;
  fs.mkdirSync(path.join(dir, 'FEED'));
  fs.writeFileSync(path.join(dir, 'FEED', 'adapters.xml'), xml);
  return dir;
}

// POST /publish; answers { status, body, headers } (body parsed when JSON,
// headers a Headers). auth: a token (sent as Bearer) or a whole "Basic ..."
// value. body: an object (adapter_set defaults to FEED) or raw text.
// opts: agent, ca, lookup (resolve names another way), localAddress,
// timeoutMs. A request that fails on the network rejects.
function publish(baseUrl, auth, body, { agent, ca, lookup, localAddress, timeoutMs = 15000 } = {}) {
  const url = new URL('/publish', baseUrl);
  const text = typeof body === 'string' ? body : JSON.stringify({ adapter_set: 'FEED', ...body });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  if (auth) headers.authorization = auth.startsWith('Basic ') ? auth : `Bearer ${auth}`;
  const mod = url.protocol === 'https:' ? https : http;
  const options = { method: 'POST', headers };
  for (const [k, v] of Object.entries({ agent, ca, lookup, localAddress })) if (v !== undefined) options[k] = v;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed = raw;
        try {
          parsed = JSON.parse(raw);
        } catch (_) {
          // not JSON: kept as text
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode, body: parsed, headers: h });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`POST ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}

// Publishes, retrying while the node says the broker is unreachable (503),
// until `timeoutMs`.
async function publishRetrying(baseUrl, auth, body, { timeoutMs = 20000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await publish(baseUrl, auth, body);
    if (r.status === 200) return r;
    if (r.status !== 503 || Date.now() > deadline) {
      throw new Error(`publish ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

module.exports = { Broker, startBroker, kitBroker, findProgram, feedAdaptersDir, memoryAdaptersDir, publish, publishRetrying, KINDS };
