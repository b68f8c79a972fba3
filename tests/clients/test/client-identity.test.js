'use strict';
// CLIENTIP behind a real HAProxy. HAProxy reaches Shoal from 127.0.0.9, the
// client connects from 127.0.0.1: Shoal must report 127.0.0.1 when the
// listener trusts what HAProxy says (PROXY protocol v2 with send-proxy-v2,
// or one trusted X-Forwarded-For hop with option forwardfor), and must not
// believe an X-Forwarded-For that a client wrote itself.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { scoped } = require('../lib/util');
const { startHaproxy } = require('../lib/haproxy');

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

async function rawClientIp(url, headers = {}) {
  const res = await fetch(`${url}/lightstreamer/create_session.txt?LS_protocol=TLCP-2.5.0`, {
    method: 'POST', headers, body: 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0',
  });
  const line = (await res.text()).split('\r\n').find((l) => l.startsWith('CLIENTIP,'));
  return line && line.slice('CLIENTIP,'.length);
}

describe('client identity behind HAProxy', () => {
  it('PROXY protocol v2 and trusted X-Forwarded-For give the real client; untrusted headers are ignored',
    { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const [proxyPort, xffPort, plainPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ident-'));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const conf = path.join(dir, 'lightstreamer_conf.xml');
      fs.writeFileSync(conf, `<lightstreamer_conf>
  <http_server name="Behind TCP balancer">
    <port>${proxyPort}</port><listening_interface>127.0.0.1</listening_interface>
    <client_identification><proxy_protocol_enabled>Y</proxy_protocol_enabled></client_identification>
  </http_server>
  <http_server name="Behind HTTP balancer">
    <port>${xffPort}</port><listening_interface>127.0.0.1</listening_interface>
    <client_identification><skip_local_forwards>1</skip_local_forwards></client_identification>
  </http_server>
  <http_server name="Direct">
    <port>${plainPort}</port><listening_interface>127.0.0.1</listening_interface>
  </http_server>
</lightstreamer_conf>`);
      await s.startServer({ listen: [], listeners: 3, extraArgs: ['--config', conf] });
      const [tcpFront, httpFront, plainFront] = [await freePort('127.0.0.3'), await freePort('127.0.0.3'), await freePort('127.0.0.3')];
      const haproxy = await startHaproxy(`
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend tcp_in
  bind 127.0.0.3:${tcpFront}
  mode tcp
  default_backend tcp_nodes
backend tcp_nodes
  mode tcp
  server n1 127.0.0.1:${proxyPort} send-proxy-v2 source 127.0.0.9
frontend http_in
  bind 127.0.0.3:${httpFront}
  mode http
  option forwardfor
  default_backend http_nodes
backend http_nodes
  mode http
  server n1 127.0.0.1:${xffPort} source 127.0.0.9
frontend plain_in
  bind 127.0.0.3:${plainFront}
  mode http
  option forwardfor
  default_backend plain_nodes
backend plain_nodes
  mode http
  server n1 127.0.0.1:${plainPort} source 127.0.0.9
`, [['127.0.0.3', tcpFront], ['127.0.0.3', httpFront], ['127.0.0.3', plainFront]]);

      // Control: a listener that trusts nothing sees HAProxy's own address,
      // which shows that HAProxy does connect from 127.0.0.9.
      assert.equal(await rawClientIp(`http://127.0.0.3:${plainFront}`), '127.0.0.9');
      t.after(() => haproxy.stop());

      // The official client, through each balancer, on WebSocket and HTTP.
      for (const [front, label] of [[tcpFront, 'send-proxy-v2'], [httpFront, 'X-Forwarded-For']]) {
        for (const transport of ['WS-STREAMING', 'HTTP-STREAMING']) {
          const c = s.client(`http://127.0.0.3:${front}`, { transport });
          await c.connectAndWait();
          assert.equal(c.client.connectionDetails.getClientIp(), '127.0.0.1', `${label} over ${transport}`);
          await c.close();
        }
      }
      // A client's own X-Forwarded-For goes before HAProxy's entry: one hop
      // is trusted, so the forged entry is not taken.
      assert.equal(await rawClientIp(`http://127.0.0.3:${httpFront}`, { 'x-forwarded-for': '6.6.6.6' }), '127.0.0.1');
      // A listener that trusts no hop ignores the header.
      assert.equal(await rawClientIp(`http://127.0.0.1:${plainPort}`, { 'x-forwarded-for': '6.6.6.6' }), '127.0.0.1');
      // Without the balancer, the PROXY listener refuses a connection with no header.
      await assert.rejects(rawClientIp(`http://127.0.0.1:${proxyPort}`));
    }));
});
