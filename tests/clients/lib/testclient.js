'use strict';
// Harness for the official clients' own suite (TestClient of the Haxe client
// library, which the Node.js client is built from), run against Shoal's TEST
// adapter set (`shoal serve --test-adapters`, crates/testset).
//
//   const server = await startTestServer();
//   it(..., () => runScenario(server, 'WS-STREAMING', (x) => {
//     const client = x.client();            // TEST, forced transport, polling 100 ms
//     client.addListener({ onStatusChange: (s) => { ...; x.completed(); } });
//     client.connect();
//   }));
//
// A scenario ends when its body calls x.completed(), fails at the first
// x.equals/x.isTrue that does not hold or the first exception, and fails on
// its own after SCENARIO_TIMEOUT_MS. Its clients are disconnected at the end.
// x.exps is an Expectations chain: awaited signals must come in order.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ls = require('lightstreamer-client-node');
const { ShoalServer } = require('./server');

const TRANSPORTS = ['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING'];
// The name of the listener in the factory configuration of Lightstreamer
// Server, which the suite's round trip expects as SERVNAME.
const SERVER_NAME = 'Lightstreamer HTTP Server';
// Upstream gives each scenario 3 s; two cores shared by parallel scenarios
// (and other tests) need more.
const SCENARIO_TIMEOUT_MS = 15000;
// The polling settings the suite forces on the polling transports.
const POLLING_INTERVAL_MS = 100;
const POLLING_IDLE_MS = 0;

// Starts Shoal with one listener named as Lightstreamer's factory one, on a
// free port of 127.0.0.1, and the TEST adapter set. Stop it with stop().
async function startTestServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-testclient-'));
  const file = path.join(dir, 'lightstreamer_conf.xml');
  fs.writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="${SERVER_NAME}">
    <port>0</port>
    <listening_interface>127.0.0.1</listening_interface>
  </http_server>
</lightstreamer_conf>
`);
  const server = new ShoalServer({ name: 'shoal-test', listen: [], listeners: 1, extraArgs: ['--config', file, '--test-adapters'] });
  await server.start();
  const stop = server.stop.bind(server);
  server.stop = async (opts) => {
    await stop(opts);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return server;
}

// Forces the transport as the suite's setTransport does.
function setTransport(client, transport) {
  client.connectionOptions.setForcedTransport(transport);
  if (transport.endsWith('POLLING')) {
    client.connectionOptions.setIdleTimeout(POLLING_IDLE_MS);
    client.connectionOptions.setPollingInterval(POLLING_INTERVAL_MS);
  }
}

// Ordered expectations on named signals, as the suite's utils.Expectations:
// await(s) consumes the next signal, which must be s; then(block) runs
// block once the awaits before it are met; signals past the last
// expectation are ignored.
class Expectations {
  constructor(fail) {
    this.slots = [];
    this.fail = fail;
    this.seen = [];
  }

  await(expected) {
    this.slots.push({ expected });
    return this;
  }

  then(block) {
    this.slots.push({ block });
    return this;
  }

  verify() {
    this._runBlocks();
  }

  signal(actual) {
    this.seen.push(actual);
    const slot = this.slots.shift();
    if (slot) {
      if (slot.block) {
        this.fail(new Error(`signal ${JSON.stringify(actual)} while a block was due`));
      } else if (slot.expected !== actual) {
        this.fail(new Error(`expected signal ${JSON.stringify(slot.expected)}, got ${JSON.stringify(actual)}`));
      }
    }
    this._runBlocks();
  }

  _runBlocks() {
    while (this.slots.length && this.slots[0].block) {
      const { block } = this.slots.shift();
      setImmediate(() => {
        try {
          block();
        } catch (err) {
          this.fail(err);
        }
      });
    }
  }
}

// Runs one scenario of the suite over `transport`; resolves when it
// completes, rejects with the first failed check.
function runScenario(server, transport, body, { timeoutMs = SCENARIO_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const clients = [];
    const statuses = [];
    let finished = false;
    let timer = null;
    const finish = (err) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const c of clients) c.disconnect();
      if (err) {
        err.message += `\n  ${transport}: statuses ${JSON.stringify(statuses)}; signals ${JSON.stringify(x.exps.seen)}`;
        reject(err);
      } else {
        resolve();
      }
    };
    const x = {
      transport,
      url: server.url,
      client(adapterSet = 'TEST', url = server.url) {
        const c = new ls.LightstreamerClient(url, adapterSet);
        setTransport(c, transport);
        c.addListener({ onStatusChange: (s) => statuses.push(s) });
        clients.push(c);
        return c;
      },
      equals(expected, actual, what) {
        try {
          assert.deepStrictEqual(actual, expected, what);
        } catch (err) {
          finish(err);
        }
      },
      isTrue(value, what) {
        x.equals(true, value, what);
      },
      completed: () => finish(),
      fail: (err) => finish(err),
      exps: null,
    };
    x.exps = new Expectations(x.fail);
    timer = setTimeout(() => finish(new Error(`scenario not completed within ${timeoutMs} ms`)), timeoutMs);
    try {
      body(x);
    } catch (err) {
      finish(err);
    }
  });
}

module.exports = { TRANSPORTS, SERVER_NAME, SCENARIO_TIMEOUT_MS, POLLING_INTERVAL_MS, startTestServer, setTransport, Expectations, runScenario, ls };
