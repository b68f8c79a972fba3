'use strict';
// The network view of a simulated client machine, inside one Node process:
// the kit's host names without touching /etc/hosts, and a source address of
// its own for every outgoing TCP connection.
//
//   const map = readHostsFile('kit/hosts');   // Map name -> [{ address, family }]
//   installHosts(map);                        // this process now resolves them
//   http.request(url, { lookup: mappedLookup(map) });  // or only this request does
//   bindSourceAddress('127.0.10.51');         // every socket now binds to it
//
// installHosts replaces `require('node:dns').lookup` (and dns.promises.lookup).
// Node's net.connect (hence tls, http, https and the `ws` package, which all
// open their sockets through net) looks `dns.lookup` up at each connection when
// no `lookup` option is given, so replacing the property is enough; names not in
// the map go to the original resolver. Addresses given as IP literals never
// reach lookup at all.

const dns = require('node:dns');
const fs = require('node:fs');
const net = require('node:net');

// Parses /etc/hosts-style text: `ADDRESS NAME [NAME...]`, `#` comments, blank
// lines. A name on several lines gets every address, in file order (as glibc
// does with `multi on`). Names are case-insensitive; a trailing dot is dropped.
function parseHosts(text) {
  const map = new Map();
  const lines = String(text).split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [address, ...names] = line.split(/\s+/);
    const family = net.isIP(address);
    if (!family) throw new Error(`hosts line ${i + 1}: ${JSON.stringify(address)} is not an IP address`);
    if (!names.length) throw new Error(`hosts line ${i + 1}: no host name after ${address}`);
    for (const name of names) {
      const key = normalizeName(name);
      if (!map.has(key)) map.set(key, []);
      const list = map.get(key);
      if (!list.some((e) => e.address === address)) list.push({ address, family });
    }
  });
  return map;
}

function readHostsFile(file) {
  return parseHosts(fs.readFileSync(file, 'utf8'));
}

function normalizeName(name) {
  return String(name).toLowerCase().replace(/\.$/, '');
}

// dns.lookup accepts the family as a number, or as options { family, all, ... }
// where family may be 0, 4, 6, 'IPv4' or 'IPv6'.
function lookupOptions(options) {
  if (typeof options === 'number') return { family: options, all: false };
  const o = options || {};
  let family = o.family ?? 0;
  if (family === 'IPv4') family = 4;
  else if (family === 'IPv6') family = 6;
  return { family: Number(family) || 0, all: !!o.all };
}

function notFound(hostname) {
  // Same shape as the error of a failed getaddrinfo, so callers react as usual.
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname} (kit hosts file)`);
  err.code = 'ENOTFOUND';
  err.errno = -3008; // UV_EAI_NONAME
  err.syscall = 'getaddrinfo';
  err.hostname = hostname;
  return err;
}

// The answer for a mapped name, or null when the name is not in the map.
// Throws ENOTFOUND when the name is mapped but has no address of that family
// (a hosts file is authoritative for the names it lists).
function resolveMapped(map, hostname, options) {
  const entries = map.get(normalizeName(hostname));
  if (!entries) return null;
  const { family, all } = lookupOptions(options);
  const matching = entries.filter((e) => family === 0 || e.family === family);
  if (!matching.length) throw notFound(hostname);
  return all ? matching.map((e) => ({ address: e.address, family: e.family })) : matching[0];
}

// A function shaped like dns.lookup that answers the names of `map` and
// hands the others to `original` (dns.lookup as it is now, by default): a
// `lookup` option for one request, or the process-wide one of installHosts.
function mappedLookup(map, original = dns.lookup) {
  return function lookup(hostname, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    let answer;
    try {
      answer = resolveMapped(map, hostname, options);
    } catch (err) {
      process.nextTick(callback, err);
      return {};
    }
    if (answer === null) return original.call(dns, hostname, options, callback);
    // Node's contract: the callback is never called synchronously.
    if (Array.isArray(answer)) process.nextTick(callback, null, answer);
    else process.nextTick(callback, null, answer.address, answer.family);
    return {};
  };
}

let hostsInstalled = false;

// Makes `map` (from parseHosts / readHostsFile) resolve in this process, for
// the rest of its life; once per process.
function installHosts(map) {
  if (hostsInstalled) throw new Error('installHosts: already installed');
  hostsInstalled = true;
  const originalPromise = dns.promises.lookup;
  const lookup = mappedLookup(map, dns.lookup);

  async function lookupPromise(hostname, options) {
    const answer = resolveMapped(map, hostname, options);
    if (answer === null) return originalPromise.call(dns.promises, hostname, options);
    return answer;
  }

  dns.lookup = lookup;
  dns.promises.lookup = lookupPromise;
}

// Makes every outgoing TCP connection of this process (plain or TLS, whoever
// opens it: http, https, ws, fetch) use `address` as its source address, so a
// server sees this process as a separate client machine (on Linux, any
// 127.x.y.z can be bound without configuration). Done by wrapping
// net.Socket.prototype.connect, the one place all of them go through, and
// adding `localAddress` unless the caller chose one. The family is pinned to
// the address's, since a socket bound to an IPv4 address cannot reach an IPv6
// one. For the rest of the process's life; once per process.
let sourceBound = false;

function bindSourceAddress(address) {
  const family = net.isIP(address);
  if (!family) throw new Error(`bindSourceAddress: ${JSON.stringify(address)} is not an IP address`);
  if (sourceBound) throw new Error('bindSourceAddress: already installed');
  sourceBound = true;
  const connect = net.Socket.prototype.connect;
  const withSource = (options) => {
    if (!options || typeof options !== 'object' || options.path || options.localAddress) return options;
    return { ...options, localAddress: address, family: options.family || family };
  };
  net.Socket.prototype.connect = function connectFromSource(...args) {
    const first = args[0];
    if (Array.isArray(first)) {
      // net.connect/createConnection pass their normalized [options, callback]
      // array (tagged with an internal symbol): rewrite the options in place.
      first[0] = withSource(first[0]);
    } else if (first && typeof first === 'object') {
      // tls.connect calls socket.connect(options) itself.
      args[0] = withSource(first);
    }
    // socket.connect(port, host) or (path): neither net, tls, http, ws nor
    // fetch calls it so (net.connect(port, host) arrives as the array above).
    return connect.apply(this, args);
  };
}

module.exports = { parseHosts, readHostsFile, installHosts, mappedLookup, resolveMapped, bindSourceAddress };
