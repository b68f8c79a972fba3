'use strict';
// Control link from lightstreamer_conf.xml: a session created through one
// listener (the "balancer" address, reached here through a TCP proxy) is
// sent by CONOK to the listener named by <control_link_address>; once the
// client has moved there, the first address can disappear and the session
// goes on. Also: <control_link_machine_name> follows the client's domain,
// and a CONTROL_ONLY listener refuses session creation with code 70.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { TRANSPORTS } = require('../lib/client');
const { scoped, sequenceProblems, parseSeq } = require('../lib/util');

// A port that is free on host now (the server binds it right after).
function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function writeConfig(xml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-conf-'));
  const file = path.join(dir, 'lightstreamer_conf.xml');
  fs.writeFileSync(file, xml);
  return { file, dir };
}

async function clusterNode(s) {
  const directPort = await freePort('127.0.0.2');
  const { file, dir } = writeConfig(`<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="Balanced">
    <port>0</port>
    <listening_interface>127.0.0.1</listening_interface>
  </http_server>
  <http_server name="Direct">
    <port>${directPort}</port>
    <listening_interface>127.0.0.2</listening_interface>
    <port_type>CONTROL_ONLY</port_type>
  </http_server>
  <control_link_address>127.0.0.2:${directPort}</control_link_address>
</lightstreamer_conf>
`);
  s.t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await s.startServer({ listen: [], listeners: 2, extraArgs: ['--config', file] });
  assert.equal(server.addresses.length, 2, 'two listeners');
  return { server, balanced: server.addresses[0], directPort };
}

for (const transport of TRANSPORTS) {
  describe(`control link over ${transport}`, () => {
    it('control and rebind requests go to the control link; the creation address can vanish',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const { balanced, directPort } = await clusterNode(s);
        const proxy = await s.startProxy({ targetPort: balanced.port });
        const c = s.client(proxy.url, { transport });
        const sid = await c.connectAndWait();
        assert.equal(c.client.connectionDetails.getServerInstanceAddress(), `http://127.0.0.2:${directPort}/`);
        const rec = c.subscribe({ mode: 'RAW', items: ['rate-20'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
        await rec.waitCount(10, { timeoutMs: 15000 });
        // The "balancer" goes away: nothing of the session may need it.
        await proxy.close();
        const before = rec.updates.length;
        await rec.waitCount(before + 40, { timeoutMs: 15000 });
        const done = await c.sendMessage('CHAT|via the control link', { timeoutMs: 10000 });
        assert.ok(done, 'the message was processed');
        assert.equal(c.sessionId(), sid, 'same session throughout');
        assert.deepEqual(sequenceProblems(rec.updates.map((u) => parseSeq(u.values.seq))), []);
      }));
  });
}

describe('control link settings', () => {
  it('a CONTROL_ONLY listener refuses session creation with code 70', { timeout: 30000 }, (t) => scoped(t, async (s) => {
    const { directPort } = await clusterNode(s);
    const res = await fetch(`http://127.0.0.2:${directPort}/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0`, {
      method: 'POST', body: 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0',
    });
    assert.match(await res.text(), /^CONERR,70,.*CONTROL_ONLY/);
  }));

  it('control_link_machine_name follows the domain the client used', { timeout: 30000 }, (t) => scoped(t, async (s) => {
    const { file, dir } = writeConfig(`<lightstreamer_conf>
  <http_server name="HTTP Server"><port>0</port><listening_interface>127.0.0.1</listening_interface></http_server>
  <control_link_machine_name>push1</control_link_machine_name>
  <control_link_address>push1.mycompany.com</control_link_address>
</lightstreamer_conf>`);
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const server = await s.startServer({ listen: [], listeners: 1, extraArgs: ['--config', file] });
    const http = require('node:http');
    const create = (host) => new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: server.port, method: 'POST', headers: { host },
        path: '/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0',
      }, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(b)); });
      req.on('error', reject);
      req.end('LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0');
    });
    assert.match(await create('push.mycompany.com'), /^CONOK,S\w+,\d+,\d+,push1\.mycompany\.com\r\n/);
    assert.match(await create('push.ourcompany.com:8080'), /^CONOK,S\w+,\d+,\d+,push1\.ourcompany\.com\r\n/);
    assert.match(await create(`127.0.0.1:${server.port}`), /^CONOK,S\w+,\d+,\d+,push1\.mycompany\.com\r\n/);
  }));
});
