'use strict';
// A broker shared by the nodes of a test (Redis, NATS JetStream), and the
// adapter set that feeds items from it (FEED, built-in shoal.redis or
// shoal.nats data adapter), with the publish API's helpers.
//
//   const b = await startBroker(s, 'redis');        // redis-server on 127.0.0.1:<free port>
//   const dir = feedAdaptersDir(s, b, { token });   // --adapters-dir for every node
//   await publish(node.url, token, { item: 'x', fields: { v: '1' } });
//   await b.kill(); await b.restart();              // same port, same data folder
//
// The data survives a restart (Redis: append-only file synced on every
// write; NATS: its store folder).

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { runDaemon } = require('./balancer');

const KINDS = {
  redis: { bin: 'redis-server', pkg: 'redis-server', adapterClass: 'shoal.redis' },
  nats: { bin: 'nats-server', pkg: 'nats-server', adapterClass: 'shoal.nats' },
};

function binary(kind) {
  const { bin, pkg } = KINDS[kind];
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const p = path.join(dir, bin);
    if (fs.existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
  } catch (_) {
    throw new Error(`${bin} is missing: apt-get install ${pkg} (scripts/test.sh installs it)`);
  }
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

class Broker {
  constructor(kind, dir, port) {
    this.kind = kind;
    this.dir = dir;
    this.port = port;
    this.daemon = null;
    this.log = [];
  }

  get url() {
    return this.kind === 'redis' ? `redis://127.0.0.1:${this.port}/0` : `nats://127.0.0.1:${this.port}`;
  }

  args() {
    if (this.kind === 'redis') {
      return ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir];
    }
    return ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir];
  }

  async start() {
    const bin = binary(this.kind);
    this.daemon = await runDaemon({
      name: this.kind,
      bin,
      file: this.dir,
      check: ['--version'],
      args: this.args(),
      cwd: this.dir,
      ports: [['127.0.0.1', this.port]],
      onLine: (l) => {
        this.log.push(l);
        if (this.log.length > 200) this.log.shift();
      },
    });
  }

  // SIGKILL, and wait until it is gone.
  async kill() {
    if (this.daemon) await this.daemon.stop();
    this.daemon = null;
  }

  async restart() {
    await this.kill();
    await this.start();
  }

  describe() {
    return `---- ${this.kind} at ${this.url} (last lines) ----\n${this.log.slice(-30).join('\n')}`;
  }

  close() {
    return this.kill();
  }
}

async function startBroker(s, kind) {
  const b = new Broker(kind, s.tempDir(`shoal-${kind}-`), await freePort());
  s.track(b);
  await b.start();
  return b;
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
// published to the node itself, no broker.
function memoryAdaptersDir(s, { token, params = {} } = {}) {
  return adaptersDir(s, 'shoal.memory', { publish_token: token, ...params });
}

function adaptersDir(s, adapterClass, params) {
  const dir = s.tempDir('shoal-feed-adapters-');
  const paramXml = Object.entries(params)
    .map(([k, v]) => `      <param name="${k}">${v}</param>`)
    .join('\n');
  const xml = `<?xml version="1.0"?>
<adapters_conf id="FEED">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>${adapterClass}</adapter_class>
${paramXml}
  </data_provider>
</adapters_conf>
`;
  fs.mkdirSync(path.join(dir, 'FEED'));
  fs.writeFileSync(path.join(dir, 'FEED', 'adapters.xml'), xml);
  return dir;
}

// POST /publish; answers { status, body } (body parsed when JSON).
async function publish(baseUrl, auth, body) {
  const headers = { 'content-type': 'application/json' };
  if (auth) headers.authorization = auth.startsWith('Basic ') ? auth : `Bearer ${auth}`;
  const res = await fetch(`${baseUrl}/publish`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify({ adapter_set: 'FEED', ...body }),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch (_) {
    // not JSON: kept as text
  }
  return { status: res.status, body: parsed, headers: res.headers };
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

module.exports = { startBroker, feedAdaptersDir, memoryAdaptersDir, publish, publishRetrying, KINDS };
