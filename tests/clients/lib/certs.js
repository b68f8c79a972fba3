'use strict';
// A test CA and a certificate for localhost / 127.0.0.1 signed by it, made with
// openssl in `dir`: ca.pem, ca.key, server.pem, server.key (and server.csr, which
// a test can hand to a client as a CA file that does not sign the server).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed (is openssl installed?): ${e.stderr || e.message}`);
  }
}

function makeCerts(dir) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=Shoal test CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem'], dir);
  return {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server.key'),
    csr: path.join(dir, 'server.csr'),
  };
}

// A test authority alone (ca.pem, ca.key in `dir`), for a cluster kit made
// with --ca-cert/--ca-key and the other servers of a test (a web site) that
// must be trusted the same way.
function makeAuthority(dir, name = 'Shoal test CA') {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  return { cert: path.join(dir, 'ca.pem'), key: path.join(dir, 'ca.key') };
}

// A server certificate for host `names`, signed by `authority` (makeAuthority):
// <stem>.pem and <stem>.key in `dir`.
function signServer(dir, authority, names, stem = 'site') {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', `/CN=${names[0]}`, '-keyout', `${stem}.key`, '-out', `${stem}.csr`], dir);
  fs.writeFileSync(path.join(dir, `${stem}.cnf`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  openssl(['x509', '-req', '-in', `${stem}.csr`, '-CA', authority.cert, '-CAkey', authority.key, '-CAcreateserial',
    '-days', '2', '-extfile', `${stem}.cnf`, '-out', `${stem}.pem`], dir);
  return { cert: path.join(dir, `${stem}.pem`), key: path.join(dir, `${stem}.key`) };
}

module.exports = { makeCerts, makeAuthority, signServer };
