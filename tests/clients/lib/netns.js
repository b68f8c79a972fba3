'use strict';
// A network namespace of the test's own, joined to the host by a veth pair,
// so that a server inside it sees the test's clients come from an address
// that is not loopback (a "remote" client, without leaving the machine).
//
//   const ns = createNetns();          // needs root (CAP_NET_ADMIN)
//   ns.address, ns.hostAddress         // 198.18.<k>.2 (inside), 198.18.<k>.1 (host side)
//   ns.run('ip', ['-4', 'addr'])       // runs a command inside, returns its stdout
//   ns.wrap(bin, args)                 // { bin: 'ip', args: ['netns', 'exec', name, bin, ...args] }
//   ns.close()                         // namespace and veth gone
//
// Addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for
// benchmarks, and are only ever configured on the pairs made here: one /30
// per namespace. Whatever way the test process exits, what it made is
// removed (processes started inside must be stopped first: they are, by
// their own exit hooks). Names carry the test process's pid, so parallel
// test files never collide. Nothing is skipped: without `ip`, or when the
// kernel refuses a namespace, createNetns throws and says why.

const { execFileSync } = require('node:child_process');
const { killedOnExit } = require('./util');

const IP = '/usr/sbin/ip';
const live = killedOnExit();
let made = 0;

// Runs `ip` with `args`; throws with its standard error on failure.
function ip(args) {
  try {
    return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new Error(`${IP} is missing: the namespace tests need iproute2 (apt-get install -y iproute2; scripts/test.sh does it)`);
    }
    const why = String(err.stderr || err.message).trim();
    throw new Error(`ip ${args.join(' ')} failed: ${why}`);
  }
}

// A block 198.18.<k>.0 that no interface of the host uses yet (a /30 here,
// a /24 for lib/lan.js). Starting from the pid spreads parallel test
// processes apart.
function freeBlock() {
  const used = ip(['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 254; i += 1) {
    const k = ((process.pid + made + i) % 254) + 1;
    if (!used.includes(` 198.18.${k}.`)) return k;
  }
  throw new Error('no free 198.18.<k>.0 block for a test network');
}

class Netns {
  constructor(name, k) {
    this.name = name;
    this.hostVeth = `${name}h`;
    this.nsVeth = `${name}n`;
    this.hostAddress = `198.18.${k}.1`;
    this.address = `198.18.${k}.2`;
    this.closed = false;
    // Run at exit if the test did not close it (a crash, a failed assert).
    this.exitHook = { kill: () => this.close() };
    live.add(this.exitHook);
  }

  // Runs `cmd` inside the namespace and returns its standard output.
  run(cmd, args = []) {
    return ip(['netns', 'exec', this.name, cmd, ...args]);
  }

  // The command line that starts `bin` inside the namespace (`ip netns
  // exec` execs it: the process started is `bin` itself, signals reach it).
  wrap(bin, args = []) {
    return { bin: IP, args: ['netns', 'exec', this.name, bin, ...args] };
  }

  describe() {
    return `netns ${this.name}: ${this.address} inside, ${this.hostAddress} on ${this.hostVeth}`;
  }

  // Removes the veth pair (both ends go with either) and the namespace.
  // Idempotent; synchronous, so that it can run from an exit hook.
  close() {
    if (this.closed) return;
    this.closed = true;
    live.delete(this.exitHook);
    for (const args of [['link', 'del', this.hostVeth], ['netns', 'del', this.name]]) {
      try {
        ip(args);
      } catch (_) {
        // already gone
      }
    }
  }
}

// Creates a namespace with a veth pair, both ends up, and `lo` up inside.
function createNetns() {
  made += 1;
  const name = `shoal${process.pid}${made}`;
  if (name.length + 1 > 15) throw new Error(`interface name ${name}h is longer than 15 characters`);
  try {
    ip(['netns', 'add', name]);
  } catch (err) {
    throw new Error(`cannot create a network namespace (the tests need root or CAP_SYS_ADMIN and CAP_NET_ADMIN): ${err.message}`);
  }
  const k = freeBlock();
  const ns = new Netns(name, k);
  try {
    ip(['link', 'add', ns.hostVeth, 'type', 'veth', 'peer', 'name', ns.nsVeth]);
    ip(['link', 'set', ns.nsVeth, 'netns', name]);
    ip(['addr', 'add', `${ns.hostAddress}/30`, 'dev', ns.hostVeth]);
    ip(['link', 'set', ns.hostVeth, 'up']);
    ns.run(IP, ['addr', 'add', `${ns.address}/30`, 'dev', ns.nsVeth]);
    ns.run(IP, ['link', 'set', ns.nsVeth, 'up']);
    ns.run(IP, ['link', 'set', 'lo', 'up']);
  } catch (err) {
    ns.close();
    throw err;
  }
  return ns;
}

module.exports = { createNetns, ip, freeBlock, IP };
