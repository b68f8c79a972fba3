'use strict';
// HTTPS and WSS: an https_server listener with a certificate from a test CA
// (lib/certs.js, with openssl), reached by the official client, which trusts
// the CA through NODE_EXTRA_CA_CERTS.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { scoped } = require('../lib/util');
const { makeCerts } = require('../lib/certs');

function runClient(url, transport, caFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'tls-client.js'), url, transport], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, report: JSON.parse(out.trim().split('\n').pop()), stderr: err });
      } catch {
        reject(new Error(`client printed no report (exit ${code}): ${out} ${err}`));
      }
    });
  });
}

describe('HTTPS and WSS listeners', () => {
  it('the official client connects over WSS and HTTPS with a test CA', { timeout: 90000 }, (t) => scoped(t, async (s) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-tls-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    makeCerts(dir);
    const conf = path.join(dir, 'lightstreamer_conf.xml');
    fs.writeFileSync(conf, `<lightstreamer_conf>
  <https_server name="Secure">
    <port>0</port><listening_interface>127.0.0.1</listening_interface>
    <keystore type="PEM"><keystore_file>server.pem</keystore_file><key_file>server.key</key_file></keystore>
  </https_server>
</lightstreamer_conf>`);
    const check = execFileSync(process.env.SHOAL_BIN || require('../lib/server').shoalBin(), ['check-config', conf]).toString();
    assert.match(check, /https:\/\/127\.0\.0\.1:0 .*Secure/);
    assert.match(check, /certificate .*subject CN=localhost; names localhost, 127\.0\.0\.1/);
    const server = await s.startServer({ listen: [], listeners: 1, extraArgs: ['--config', conf] });
    assert.match(server.url, /^https:\/\//, 'the listener says https');
    const url = `https://localhost:${server.port}`;
    for (const transport of ['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING']) {
      const { code, report, stderr } = await runClient(url, transport, path.join(dir, 'ca.pem'));
      assert.equal(code, 0, `${transport}: ${JSON.stringify(report)} ${stderr}`);
      assert.ok(report.statuses.includes(`CONNECTED:${transport}`), `${transport}: ${report.statuses}`);
      assert.equal(report.updates, 5);
      assert.equal(report.serverSocketName, 'Secure');
    }
    // Without the CA, the client does not trust the server.
    const untrusted = await runClient(url, 'WS-STREAMING', path.join(dir, 'server.csr'));
    assert.notEqual(untrusted.code, 0, 'a client that does not trust the CA must not connect');
  }));
});
