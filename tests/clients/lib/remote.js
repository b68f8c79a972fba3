'use strict';
// Remote adapters (Lightstreamer ARI) for the tests: adapters.xml files, the
// "waiting for remote adapter on ..." lines Shoal prints for each ARI port, and
// the remote adapter processes (tests/adapters/node, tests/adapters/python, or
// any command, e.g. an example's).
//
//   const { server, adapters } = await startWithRemotes(s, {
//     sets: [{ id: 'PROXY_NODE', lang: 'node', robust: true, statusItem: 'adapter_status' }],
//   });
//   adapters.PROXY_NODE.kill();  await adapters.PROXY_NODE.start();
//
// Every adapter process is killed when the test process exits, and stopped by
// the test's scope (lib/util.js) when the test ends; a failing test prints the
// adapter's stderr.

const { EventEmitter } = require('node:events');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ShoalServer, onLines, REPO_ROOT } = require('./server');
const { killedOnExit, waitUntil } = require('./util');

const LANGS = ['node', 'python'];
// Fields of the test adapters' items (tests/adapters/README.md).
const FIELDS = {
  stock: ['stock_name', 'last_price', 'time', 'pct_change', 'bid', 'ask', 'seq'],
  counter: ['seq', 'ts'],
  portfolio: ['key', 'command', 'qty'],
  news: ['seq', 'headline'],
  board: ['value'],
  seen: ['nus', 'nns', 'closed'],
};
const setId = (lang) => `PROXY_${lang.toUpperCase()}`;
const ADAPTERS_DIR = path.join(REPO_ROOT, 'tests', 'adapters');
const PORTS_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 3000;
const LOG_LIMIT = 2000;
const live = killedOnExit();

// ---------------------------------------------------------------------------
// The Python of the venv that scripts/test.sh fills from tests/python/requirements.txt.
let pythonChecked = null;
function pythonBin() {
  const bin = path.resolve(REPO_ROOT, process.env.SHOAL_PYTHON || 'target/python-venv/bin/python');
  if (pythonChecked === bin) return bin;
  const hint = 'scripts/test.sh makes it (python3 -m venv target/python-venv; ' +
    'target/python-venv/bin/pip install -r tests/python/requirements.txt), or set SHOAL_PYTHON';
  if (!fs.existsSync(bin)) throw new Error(`the Python for the remote adapters is missing: ${bin}. ${hint}`);
  try {
    execFileSync(bin, ['-c', 'import lightstreamer_adapter'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`${bin} cannot import lightstreamer_adapter (PyPI lightstreamer-adapter 1.3.1): ${e.stderr || e.message}. ${hint}`);
  }
  pythonChecked = bin;
  return bin;
}

// ---------------------------------------------------------------------------
// adapters.xml

function xmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// One adapter set: a metadata provider and the data provider DEFAULT, both proxies
// for a remote adapter, every port 0 (Shoal picks and prints them).
//   robust: ROBUST_PROXY_FOR_REMOTE_ADAPTER for both (first_connection_timeout_millis 0)
//   notify: a notify_port for the data provider (Node SDK 1.5.3); default: lang === 'node'
//   auth: { user, password } (remote credentials); tls: { cert, key } (PEM files)
//   statusItem, eventsRecovery: robust data provider params
//   params: { name: value } more params for both providers
function adaptersXml({ id, lang = 'node', robust = false, notify = lang === 'node', auth = null, tls = null,
  statusItem = null, eventsRecovery = null, params = {} }) {
  const common = [];
  const p = (name, value) => `    <param name="${xmlEscape(name)}">${xmlEscape(value)}</param>`;
  common.push(p('request_reply_port', 0));
  if (auth) {
    common.push(p('auth', 'Y'), p('auth.credentials.1.user', auth.user), p('auth.credentials.1.password', auth.password));
  }
  if (tls) {
    common.push(p('tls', 'Y'), p('tls.keystore.type', 'PEM'), p('tls.keystore.keystore_file', tls.cert), p('tls.keystore.key_file', tls.key));
  }
  if (robust) common.push(p('first_connection_timeout_millis', 0));
  for (const [k, v] of Object.entries(params)) common.push(p(k, v));
  const dataParams = [...common];
  if (notify) dataParams.push(p('notify_port', 0));
  if (robust && statusItem) dataParams.push(p('status_item', statusItem));
  if (robust && eventsRecovery) dataParams.push(p('events_recovery', eventsRecovery));
  const cls = robust ? 'ROBUST_PROXY_FOR_REMOTE_ADAPTER' : 'PROXY_FOR_REMOTE_ADAPTER';
  return `<?xml version="1.0"?>
<adapters_conf id="${xmlEscape(id)}">
  <metadata_provider>
    <adapter_class>${cls}</adapter_class>
    <classloader>log-enabled</classloader>
${common.join('\n')}
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>${cls}</adapter_class>
    <classloader>log-enabled</classloader>
${dataParams.join('\n')}
  </data_provider>
</adapters_conf>
`;
}

// Writes DIR/<id>/adapters.xml (the adapters_dir layout).
function writeAdapterSet(dir, set) {
  const folder = path.join(dir, set.id);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'adapters.xml'), set.xml || adaptersXml(set));
  return folder;
}

// ---------------------------------------------------------------------------
// "waiting for remote adapter on tcp://127.0.0.1:40123 (adapter set PROXY_NODE,
//  data adapter DEFAULT, request_reply_port)"

const PORT_LINE_RE = /waiting for remote adapter on (tcp|tls):\/\/(\S+):(\d+) \(adapter set ([^,]+), (metadata adapter|data adapter ([^,]+)), (request_reply_port|notify_port)\)/;

function parsePortLine(line) {
  const m = PORT_LINE_RE.exec(line);
  if (!m) return null;
  return {
    scheme: m[1],
    host: m[2].replace(/^\[|\]$/g, ''),
    port: Number(m[3]),
    set: m[4],
    adapter: m[5] === 'metadata adapter' ? 'metadata' : 'data',
    dataAdapter: m[6] || null,
    kind: m[7],
  };
}

class AriPorts extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(0);
    this.entries = [];
  }

  // Feeds one line of server output.
  add(line) {
    const e = parsePortLine(line);
    if (!e) return;
    this.entries.push(e);
    this.emit('change');
  }

  // { metadata, data, notify } ports of a set (its DEFAULT data adapter), and scheme.
  of(set, dataAdapter = 'DEFAULT') {
    const find = (adapter, kind) => this.entries.find((e) => e.set === set && e.adapter === adapter && e.kind === kind &&
      (adapter === 'metadata' || e.dataAdapter === dataAdapter));
    const m = find('metadata', 'request_reply_port');
    const d = find('data', 'request_reply_port');
    const n = find('data', 'notify_port');
    return { metadata: m && m.port, data: d && d.port, notify: n && n.port, scheme: (m || d || {}).scheme, host: (m || d || {}).host };
  }

  // Waits for the metadata and data request_reply_port lines of `set` (and the
  // notify_port line when `notify`).
  waitFor(set, { notify = false, timeoutMs = PORTS_TIMEOUT_MS, log = () => '' } = {}) {
    return waitUntil(this, () => {
      const p = this.of(set);
      return p.metadata && p.data && (!notify || p.notify) ? p : null;
    }, {
      timeoutMs,
      what: `Shoal's "waiting for remote adapter on ..." lines for adapter set ${set} ` +
        `(metadata and data request_reply_port${notify ? ', notify_port' : ''})`,
      state: () => `port lines so far: ${JSON.stringify(this.entries)}\n--- server output ---\n${log()}`,
    });
  }
}

// ---------------------------------------------------------------------------
// A remote adapter process.

class RemoteAdapter extends EventEmitter {
  // command: [bin, ...args]; cwd; name: label in reports;
  // ready: regexps that the adapter prints once initialised by Shoal.
  constructor({ command, cwd = REPO_ROOT, name = 'remote', ready = [/INIT metadata/, /INIT data/], env = {} }) {
    super();
    this.setMaxListeners(0);
    this.command = command;
    this.cwd = cwd;
    this.name = name;
    this.readyPatterns = ready;
    this.env = env;
    this.proc = null;
    this.generation = 0;
    this.log = []; // { gen, line }
    this.exits = []; // { gen, code, signal }
  }

  _addLog(gen, line) {
    this.log.push({ gen, line });
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
    this.emit('change');
  }

  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // Starts the process; resolves once it is spawned (see waitReady).
  start() {
    if (this.running) throw new Error(`${this.name}: already running (pid ${this.proc.pid})`);
    this.generation += 1;
    const gen = this.generation;
    this._addLog(gen, `---- [harness] start #${gen}: ${this.command.join(' ')}`);
    const proc = spawn(this.command[0], this.command.slice(1), {
      cwd: this.cwd,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    live.add(proc);
    onLines(proc.stdout, (line) => this._addLog(gen, `[out#${gen}] ${line}`));
    onLines(proc.stderr, (line) => this._addLog(gen, `[err#${gen}] ${line}`));
    return new Promise((resolve, reject) => {
      proc.on('spawn', () => resolve(this));
      proc.on('error', (err) => {
        this._addLog(gen, `---- [harness] spawn error: ${err.message}`);
        reject(new Error(`${this.name}: cannot start ${this.command[0]}: ${err.message}`));
      });
      proc.on('exit', () => live.delete(proc));
      proc.on('close', (code, signal) => {
        this.exits.push({ gen, code, signal });
        this._addLog(gen, `---- [harness] process #${gen} exited (code ${code}, signal ${signal})`);
      });
    });
  }

  // Lines of the current (or given) process.
  lines(gen = this.generation) {
    return this.log.filter((l) => l.gen === gen).map((l) => l.line);
  }

  // Waits for a line of the current process matching `re`; fails at once if
  // the process exits first.
  waitLog(re, { timeoutMs = 10000, what = null, gen = this.generation } = {}) {
    return waitUntil(this, () => {
      const hit = this.lines(gen).find((l) => re.test(l));
      if (hit) return hit;
      const exit = this.exits.find((e) => e.gen === gen);
      if (exit) throw new Error(`${this.name}: exited (code ${exit.code}, signal ${exit.signal}) before printing ${re}\n${this.logTail(40)}`);
      return null;
    }, { timeoutMs, what: what || `${this.name}: a line matching ${re}`, state: () => this.logTail(40) });
  }

  // Waits until Shoal has initialised both adapters of this process.
  async waitReady({ timeoutMs = 10000 } = {}) {
    for (const re of this.readyPatterns) await this.waitLog(re, { timeoutMs, what: `${this.name}: initialised (${re})` });
    return this;
  }

  // Waits for the current process to exit by itself; resolves with { code, signal }.
  waitExit({ timeoutMs = 10000, gen = this.generation } = {}) {
    return waitUntil(this, () => this.exits.find((e) => e.gen === gen), {
      timeoutMs, what: `${this.name}: process #${gen} to exit`, state: () => this.logTail(40),
    });
  }

  async _signal(signal, graceMs) {
    const proc = this.proc;
    if (!proc) return;
    const gen = this.generation;
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        proc.kill(signal);
      } catch (_) {
        // already gone
      }
    }
    try {
      await this.waitExit({ timeoutMs: graceMs, gen });
    } catch (_) {
      this._addLog(gen, `---- [harness] no exit ${graceMs} ms after ${signal}: SIGKILL`);
      try {
        proc.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
      await this.waitExit({ timeoutMs: 10000, gen }).catch(() => {});
    }
    live.delete(proc);
  }

  // kill -9: a crash.
  kill() {
    return this._signal('SIGKILL', 10000);
  }

  // SIGTERM, SIGKILL after a grace.
  stop() {
    return this._signal('SIGTERM', STOP_GRACE_MS);
  }

  close() {
    return this.stop();
  }

  logTail(n = 80) {
    return this.log.slice(-n).map((l) => l.line).join('\n');
  }

  describe() {
    return `---- remote adapter ${this.name} (${this.command.join(' ')}): exits ${JSON.stringify(this.exits)} ----\n${this.logTail(80)}`;
  }
}

// The test adapter of tests/adapters/<lang> dialing `ports` ({ metadata, data,
// notify }), with remote credentials `auth` and TLS trusting `ca`.
function testAdapter(lang, { ports, host = '127.0.0.1', auth = null, tls = null, name = null }) {
  const args = ['--host', host, '--metadata-port', String(ports.metadata), '--data-port', String(ports.data)];
  let command;
  if (lang === 'node') {
    if (!ports.notify) throw new Error('the Node SDK 1.5.3 adapter needs a notify_port');
    args.push('--notify-port', String(ports.notify));
    command = [process.execPath, path.join(ADAPTERS_DIR, 'node', 'adapter.js')];
  } else if (lang === 'python') {
    command = [pythonBin(), path.join(ADAPTERS_DIR, 'python', 'adapter.py')];
  } else {
    throw new Error(`unknown adapter language ${lang}`);
  }
  if (auth) args.push('--user', auth.user, '--password', auth.password);
  if (tls) args.push('--tls', '--ca', tls.ca);
  const label = name || lang;
  args.push('--name', label);
  return new RemoteAdapter({ command: [...command, ...args], name: label });
}

// Starts Shoal with `sets` in a fresh adapters dir and, for each set with a
// `lang`, its test adapter on the ports Shoal printed (`adapterAuth` /
// `adapterTls` override what the adapter sends; default: the set's own).
// Resolves once Shoal listens and every robust set's adapter is initialised.
// With startAdapters false it starts no adapter and resolves once the port
// lines are there: the test starts its adapters and awaits `listening`.
// `dir`: an adapters dir already written (then `sets` only name the sets, with
// `notify` when their data adapter has a notify_port).
async function startWithRemotes(s, { sets, dir = null, extraArgs = [], startAdapters = true, serverOpts = {} }) {
  if (!dir) {
    dir = s.tempDir('shoal-adapters-');
    for (const set of sets) writeAdapterSet(dir, set);
  }
  const ports = new AriPorts();
  const server = new ShoalServer({
    ...serverOpts,
    extraArgs: ['--adapters-dir', dir, ...extraArgs],
    onLine: (line) => ports.add(line),
  });
  s.watchServer(server, { owned: true });
  const started = server.start().then(() => null, (err) => err);
  const failed = started.then((err) => {
    if (err) throw err;
    return new Promise(() => {});
  });
  const adapters = {};
  for (const set of sets) {
    const p = await Promise.race([
      ports.waitFor(set.id, { notify: set.notify ?? set.lang === 'node', log: () => server.logTail(40) }),
      failed,
    ]);
    if (!set.lang || !startAdapters) continue;
    const a = testAdapter(set.lang, {
      ports: p,
      auth: set.adapterAuth !== undefined ? set.adapterAuth : set.auth,
      tls: set.adapterTls !== undefined ? set.adapterTls : set.tls,
      name: `${set.lang}:${set.id}`,
    });
    s.track(a);
    adapters[set.id] = a;
    await a.start();
  }
  // Rejects if Shoal exits or never listens (lib/server.js bounds the wait).
  const listening = started.then((err) => {
    if (err) throw err;
    return server;
  });
  listening.catch(() => {});
  if (!startAdapters) return { server, adapters, ports, dir, listening };
  await listening;
  await Promise.all(sets.filter((set) => set.robust && adapters[set.id]).map((set) => adapters[set.id].waitReady()));
  return { server, adapters, ports, dir, listening };
}

module.exports = {
  LANGS,
  FIELDS,
  setId,
  AriPorts,
  RemoteAdapter,
  adaptersXml,
  writeAdapterSet,
  parsePortLine,
  pythonBin,
  testAdapter,
  startWithRemotes,
};
