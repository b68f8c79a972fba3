'use strict';
// A cluster kit made with `shoal cluster-plan ... --vrrp` run on a test LAN
// (lib/lan.js): the broker, HAProxy and the client machines on the host,
// each Shoal node and its keepalived in the node's own network namespace,
// where keepalived holds the node's public address (the one its control
// link names) and moves it to a live node when the node dies.
//
//   await withVrrpKit(t, { id: '1.B.2', feed: 'redis' }, async (kit, vrrp) => {
//     vrrp.lan.network                     // '198.18.<N>'
//     vrrp.publicOf('node1')               // '198.18.<N>.201'
//     await vrrp.waitHeld('node1', 'node2') // node1's public address in node2's namespace
//     vrrp.keepalivedLines('node1')
//   });
//
// opts: id (the option), feed ('redis'), nodes (2), hostAddresses (more
// host addresses on the bridge, last octets: the client machines), and the
// lib/cluster.js withKit options (nodeArgs, fastStop). Each node's
// keepalived runs inside its namespace as kit.json says
// (`keepalived.nodes.nodeK.args`, from the kit's folder: foreground,
// console log, VRRP only, process id files in logs/), with -D; its output
// goes to the kit's logs folder (keepalived-nodeK.log) and is kept in
// memory for the failure report. Before the start, every node's public
// address is on its own node and on no other.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createLan } = require('./lan');
const { withKit } = require('./cluster');
const { runDaemon } = require('./balancer');
const { shoalBin } = require('./server');
const { makeKit } = require('./topology');
const { waitUntil } = require('./util');

const KEEPALIVED = 'keepalived';
const LOG_LIMIT = 2000;

// The kit's keepalived file of each node: { node name -> path }, from
// kit.json's `keepalived.files` ({ nodeK: "keepalived/nodeK.conf" }).
function keepalivedFiles(dir, spec) {
  const k = spec.keepalived;
  if (!k || !k.files) throw new Error(`${dir}/kit.json has no "keepalived.files": the kit was not made with --vrrp`);
  const files = {};
  for (const n of spec.nodes) {
    if (!k.files[n.name]) throw new Error(`${dir}/kit.json "keepalived.files" names no file for ${n.name}: ${JSON.stringify(k.files)}`);
    files[n.name] = path.resolve(dir, k.files[n.name]);
  }
  return files;
}

// The addresses the host holds on the bridge: the balancer's, the broker's,
// every name of the hosts file that is not a node's (100+K, 200+K), and the
// client machines'.
function hostAddressesOf(dir, spec, lan, extra) {
  const nodeOctets = new Set(spec.nodes.flatMap((_, i) => [101 + i, 201 + i]).map((o) => `${lan.network}.${o}`));
  const addrs = new Set();
  for (const [h] of spec.balancer.listens || []) addrs.add(h);
  if (spec.feed) addrs.add(spec.feed.listens[0]);
  const hosts = fs.readFileSync(path.join(dir, spec.hosts), 'utf8');
  for (const line of hosts.split('\n')) {
    const a = line.replace(/#.*/, '').trim().split(/\s+/)[0];
    if (a) addrs.add(a);
  }
  for (const o of extra) addrs.add(`${lan.network}.${o}`);
  return [...addrs].filter((a) => a.startsWith(`${lan.network}.`) && !nodeOctets.has(a) && a !== lan.hostAddress);
}

class Vrrp {
  constructor(lan, dir, spec) {
    this.lan = lan;
    this.dir = dir;
    this.spec = spec;
    this.files = keepalivedFiles(dir, spec);
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-keepalived-'));
    this.logs = path.join(dir, spec.logs || 'logs');
    this.daemons = new Map(); // node name -> runDaemon handle
    this.lines = new Map(); // node name -> [line]
  }

  k(name) {
    const i = this.spec.nodes.findIndex((n) => n.name === name);
    if (i < 0) throw new Error(`no node ${name} in the kit`);
    return i + 1;
  }

  // Node name's public address (its control link's: kit.json's `public`,
  // 200+K), which moves.
  publicOf(name) {
    const k = this.k(name);
    return this.spec.nodes[k - 1].public || `${this.lan.network}.${200 + k}`;
  }

  // keepalived's arguments for node `name`: the kit's (kit.json
  // `keepalived.nodes.<name>.args`, run from the kit's folder) with -D
  // (detailed log), else the equivalent with process id files in a folder
  // of the test's own.
  argsOf(name) {
    const given = ((this.spec.keepalived.nodes || {})[name] || {}).args;
    if (Array.isArray(given) && given.length) return [...given, '-D'];
    const k = this.k(name);
    return ['-n', '-l', '-D', '-f', this.files[name], '-p', path.join(this.tmp, `ka${k}.pid`), '-r', path.join(this.tmp, `vrrp${k}.pid`)];
  }

  async start(name) {
    const k = this.k(name);
    const args = this.argsOf(name);
    const { bin, args: wrapped } = this.lan.node(k).wrap(KEEPALIVED, args);
    fs.mkdirSync(this.logs, { recursive: true });
    const out = fs.createWriteStream(path.join(this.logs, `keepalived-${name}.log`), { flags: 'a' });
    const lines = this.lines.get(name) || [];
    this.lines.set(name, lines);
    lines.push(`---- [harness] ${bin} ${wrapped.join(' ')}`);
    this.daemons.set(name, await runDaemon({
      name: `keepalived of ${name}`,
      bin,
      file: this.files[name],
      check: [...wrapped.slice(0, 3), KEEPALIVED, '-t', '-f', this.files[name]],
      args: wrapped,
      cwd: this.dir,
      ports: [],
      group: true,
      onLine: (l) => {
        out.write(`${l}\n`);
        lines.push(l);
        if (lines.length > LOG_LIMIT) lines.shift();
        this.lan.emit('change');
      },
      onStop: () => out.end(),
    }));
  }

  // Waits until `name`'s public address is in `holder`'s namespace and in
  // no other.
  waitHeld(name, holder, { timeoutMs = 20000 } = {}) {
    const address = this.publicOf(name);
    const want = [this.k(holder)];
    return waitHolders(this.lan, address, want, timeoutMs, `${name}'s public address ${address} held by ${holder} only`);
  }

  holderOf(name) {
    return this.lan.holdersOf(this.publicOf(name)).map((k) => this.spec.nodes[k - 1].name);
  }

  keepalivedLines(name) {
    return this.lines.get(name) || [];
  }

  describe({ lines = 40 } = {}) {
    const out = [this.lan.describe()];
    for (const n of this.spec.nodes) {
      out.push(`---- keepalived of ${n.name} (last ${lines} lines) ----`);
      out.push(this.keepalivedLines(n.name).slice(-lines).join('\n') || '(no output)');
    }
    return out.join('\n');
  }

  async stop() {
    await Promise.all([...this.daemons.values()].map((d) => d.stop().catch(() => {})));
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

function waitHolders(lan, address, want, timeoutMs, what) {
  return waitUntil(lan, () => {
    const got = lan.holdersOf(address);
    return got.length === want.length && got.every((k, i) => k === want[i]);
  }, { timeoutMs, what, state: () => lan.describe() });
}

// Redis with no password and no protected-mode setting refuses every
// client that is not on its loopback interface (protected mode, on by
// default): nodes on hosts of their own (namespaces here) get DENIED.
// Until the kit says how, the test's Redis runs with --protected-mode no,
// and says so.
function openRedis(t, dir, spec) {
  const f = spec.feed;
  if (!f || f.kind !== 'redis' || f.args.some((a) => /protected-mode|requirepass/.test(a))) return;
  f.args.push('--protected-mode', 'no');
  fs.writeFileSync(path.join(dir, 'kit.json'), JSON.stringify(spec, null, 2));
  t.diagnostic('the kit\'s Redis sets neither protected-mode nor a password: it would refuse the nodes of other hosts; run with --protected-mode no');
}

// Makes the LAN, the kit (--network of the LAN, --vrrp) and runs fn(kit,
// vrrp) with everything started; removes everything afterwards, whatever
// happens.
async function withVrrpKit(t, { id, feed = 'redis', nodes = 2, hostAddresses = [], ...kitOpts }, fn) {
  const lan = createLan({ nodes });
  let dir = null;
  let vrrp = null;
  let started = null; // the kit, once started
  // One teardown, in order (node:test runs after hooks first come, first
  // served, and withKit's own comes later): the kit (clients first, while
  // the nodes answer), keepalived, the LAN, the kit's folder.
  t.after(async () => {
    if (started) await started.stop();
    if (vrrp) await vrrp.stop();
    lan.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  dir = makeKit({ id, network: lan.network, feed, nodes, balancer: 'haproxy', vrrp: true });
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'kit.json'), 'utf8'));
  openRedis(t, dir, spec);
  vrrp = new Vrrp(lan, dir, spec);
  const nodeCommand = (nodeSpec) => {
    const { bin, args } = lan.node(vrrp.k(nodeSpec.name)).wrap(shoalBin());
    return { bin, binArgs: args };
  };
  // The host's addresses before anything starts (the broker binds one).
  for (const a of hostAddressesOf(dir, spec, lan, hostAddresses)) lan.addHost(a);
  return withKit(t, dir, { ...kitOpts, nodeCommand }, async (kit) => {
    started = kit;
    try {
      await Promise.all(spec.nodes.map((n) => vrrp.start(n.name)));
      await Promise.all(spec.nodes.map((n) => vrrp.waitHeld(n.name, n.name)));
    } catch (err) {
      err.message = `${err.message}\n${vrrp.describe()}`;
      throw err;
    }
    try {
      return await fn(kit, vrrp);
    } catch (err) {
      for (const line of vrrp.describe().split('\n')) t.diagnostic(line);
      throw err;
    }
  });
}

module.exports = { withVrrpKit, Vrrp };
