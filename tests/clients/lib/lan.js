'use strict';
// A test LAN: a Linux bridge in the host's namespace, and one network
// namespace per cluster node plugged into it, so that node addresses can
// move from one node to another (keepalived, lib/vrrp.js) while the
// balancer, the broker and the client machines stay on the host.
//
//   const lan = createLan({ nodes: 2 });      // needs root (CAP_NET_ADMIN)
//   lan.network                               // '198.18.<N>': a /24 no interface used
//   lan.addHost('198.18.<N>.10')              // one more host address on the bridge
//   lan.node(1).ns, .address                  // node1's namespace, its 198.18.<N>.101
//   lan.node(1).wrap(bin, args)               // { bin: 'ip', args: ['netns', 'exec', ...] }
//   lan.addressesOf(1)                        // IPv4 addresses in node1's namespace
//   await lan.waitAddress(1, '198.18.<N>.201', { present: true, timeoutMs })
//   lan.close()                               // bridge, veths and namespaces gone
//
// Inside node K's namespace: `lo` up, and `eth0` (one end of a veth pair
// whose other end is on the bridge) with the node's private address
// 198.18.<N>.(100+K)/24. On the host's bridge: 198.18.<N>.1/24 and what
// addHost adds. The block comes from 198.18.0.0/15 (RFC 2544, benchmarks),
// picked as lib/netns.js picks its /30s, so that parallel test files never
// collide. Names carry the test process's pid. Whatever way the test
// process exits, what was made here is removed (the processes started in
// the namespaces are stopped by their own exit hooks). Nothing is skipped:
// without root, createLan throws and says why.
//
// Waits are event driven: `ip monitor address` runs in each namespace and
// every line it prints makes the LAN emit 'change' (lib/util.js waitUntil).

const { spawn } = require('node:child_process');
const { EventEmitter } = require('node:events');
const { ip, freeBlock, IP } = require('./netns');
const { onLines } = require('./server');
const { killedOnExit, waitUntil } = require('./util');

const live = killedOnExit();
let made = 0;

// The IPv4 addresses of `dev` (or of every interface) in namespace `ns`
// (null: the host's).
function addresses(ns, dev = null) {
  const args = [...(ns ? ['-n', ns] : []), '-o', '-4', 'addr', 'show', ...(dev ? ['dev', dev] : [])];
  return ip(args).split('\n').map((l) => /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(l)).filter(Boolean).map((m) => m[1]);
}

class Lan extends EventEmitter {
  constructor(tag, n) {
    super();
    this.setMaxListeners(0);
    this.tag = tag;
    this.network = `198.18.${n}`;
    this.bridge = `${tag}b`;
    this.hostAddress = `${this.network}.1`;
    this.hostAddresses = [];
    this.nodes = []; // [{ k, ns, veth, address, wrap(bin, args), run(cmd, args) }]
    this.monitors = [];
    this.closed = false;
    this.exitHook = { kill: () => this.close() };
    live.add(this.exitHook);
  }

  node(k) {
    const node = this.nodes[k - 1];
    if (!node) throw new Error(`the LAN has no node ${k} (nodes 1..${this.nodes.length})`);
    return node;
  }

  // Adds `address` (a /24 of the LAN) to the host's side of the bridge.
  addHost(address) {
    if (this.hostAddresses.includes(address)) return;
    ip(['addr', 'add', `${address}/24`, 'dev', this.bridge]);
    this.hostAddresses.push(address);
  }

  _addNode(k) {
    const ns = `${this.tag}n${k}`;
    const veth = `${this.tag}v${k}`;
    const node = {
      k,
      ns,
      veth,
      address: `${this.network}.${100 + k}`,
      // `ip netns exec` execs `bin`: the process started is bin itself.
      wrap: (bin, args = []) => ({ bin: IP, args: ['netns', 'exec', ns, bin, ...args] }),
      run: (cmd, args = []) => ip(['netns', 'exec', ns, cmd, ...args]),
    };
    this.nodes.push(node);
    ip(['netns', 'add', ns]);
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['link', 'set', veth, 'master', this.bridge]);
    ip(['link', 'set', veth, 'up']);
    ip(['-n', ns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    this._monitor(ns);
    return node;
  }

  // `ip monitor address` in `ns`: each line it prints is a 'change'.
  _monitor(ns) {
    const proc = spawn(IP, ['-n', ns, 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    proc.on('error', () => live.delete(proc));
    onLines(proc.stdout, () => this.emit('change'));
    onLines(proc.stderr, () => {});
    this.monitors.push(proc);
  }

  // The IPv4 addresses in node k's namespace.
  addressesOf(k) {
    return addresses(this.node(k).ns);
  }

  // Which nodes' namespaces hold `address` now: [k, ...].
  holdersOf(address) {
    return this.nodes.filter((n) => this.addressesOf(n.k).includes(address)).map((n) => n.k);
  }

  // Waits until `address` is (present) or is no longer (!present) in node
  // k's namespace.
  waitAddress(k, address, { present = true, timeoutMs = 15000 } = {}) {
    return waitUntil(this, () => this.addressesOf(k).includes(address) === present, {
      timeoutMs,
      what: `${address} ${present ? 'in' : 'gone from'} node${k}'s namespace`,
      state: () => this.describe(),
    });
  }

  describe() {
    if (this.closed) return `LAN ${this.network}.0/24: closed`;
    const lines = [`LAN ${this.network}.0/24 on bridge ${this.bridge}; host ${[this.hostAddress, ...this.hostAddresses].join(' ')}`];
    for (const n of this.nodes) {
      let held;
      try {
        held = this.addressesOf(n.k).join(' ');
      } catch (err) {
        held = `(${err.message})`;
      }
      lines.push(`  node${n.k}: netns ${n.ns}, addresses ${held}`);
    }
    return lines.join('\n');
  }

  // Removes the monitors, the namespaces (their veth ends go with them) and
  // the bridge. Idempotent; synchronous, so that it can run from an exit
  // hook.
  close() {
    if (this.closed) return;
    this.closed = true;
    live.delete(this.exitHook);
    for (const proc of this.monitors) {
      try {
        proc.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
    const steps = [...this.nodes.map((n) => ['link', 'del', n.veth]), ...this.nodes.map((n) => ['netns', 'del', n.ns]), ['link', 'del', this.bridge]];
    for (const args of steps) {
      try {
        ip(args);
      } catch (_) {
        // already gone
      }
    }
  }
}

// Creates the bridge (with 198.18.<N>.1/24) and `nodes` namespaces on it.
function createLan({ nodes = 2 } = {}) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('createLan: the VRRP tests make a bridge and network namespaces: run them as root (CAP_NET_ADMIN and CAP_SYS_ADMIN)');
  }
  made += 1;
  const tag = `sv${process.pid}${made}`;
  if (tag.length + 2 > 15) throw new Error(`interface name ${tag}v1 is longer than 15 characters`);
  const lan = new Lan(tag, freeBlock());
  try {
    ip(['link', 'add', lan.bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${lan.hostAddress}/24`, 'dev', lan.bridge]);
    ip(['link', 'set', lan.bridge, 'up']);
    for (let k = 1; k <= nodes; k += 1) lan._addNode(k);
  } catch (err) {
    lan.close();
    throw new Error(`cannot make the test LAN (bridge and namespaces): ${err.message}`);
  }
  return lan;
}

module.exports = { createLan };
