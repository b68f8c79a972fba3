'use strict';
// A test CA and a certificate for localhost / 127.0.0.1 signed by it, made with
// openssl in `dir`: ca.pem, ca.key, server.pem, server.key (and server.csr, which
// a test can hand to a client as a CA file that does not sign the server).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed (is openssl installed?): ${e.stderr || e.message}`);
  }
}

// A test authority alone (ca.pem, ca.key in `dir`), for a cluster kit made
// with --ca-cert/--ca-key and the other servers of a test (a web site) that
// must be trusted the same way.
function makeAuthority(dir, name = 'Shoal test CA') {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  return { cert: path.join(dir, 'ca.pem'), key: path.join(dir, 'ca.key') };
}

// A server certificate for `names` (host names, IP addresses), signed by
// `authority` (makeAuthority): <stem>.pem, <stem>.key and <stem>.csr in `dir`.
function signServer(dir, authority, names, stem = 'site') {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `/CN=${names[0]}`, '-keyout', `${stem}.key`, '-out', `${stem}.csr`], dir);
  const san = names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  fs.writeFileSync(path.join(dir, `${stem}.cnf`), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', `${stem}.csr`, '-CA', authority.cert, '-CAkey', authority.key, '-CAcreateserial',
    '-days', '2', '-extfile', `${stem}.cnf`, '-out', `${stem}.pem`], dir);
  return { cert: path.join(dir, `${stem}.pem`), key: path.join(dir, `${stem}.key`) };
}

function makeCerts(dir) {
  const authority = makeAuthority(dir);
  const server = signServer(dir, authority, ['localhost', '127.0.0.1'], 'server');
  return { ca: authority.cert, cert: server.cert, key: server.key, csr: path.join(dir, 'server.csr') };
}

module.exports = { makeCerts, makeAuthority, signServer };
