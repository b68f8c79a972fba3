'use strict';
// The official clients' own suite (TestClient of the Haxe client library),
// message scenarios, through the official Node.js client on each transport,
// against Shoal's TEST adapter set. Each scenario asserts what upstream's
// does; see docs/protocol.md ("The official clients' suite").

const { describe, it, before, after } = require('node:test');
const { TRANSPORTS, startTestServer, runScenario } = require('../lib/testclient');

// What the TEST metadata adapter answers "throw me an error" with.
const ERROR_CODE = -123;
const ERROR_TEXT = 'test error';
// Upstream's long message: a JSON text holding a JSON text of 1680
// four-byte characters.
const GLOBE = '\u{1F310}';
const GLOBES = 1680;
const LONG_MESSAGE = JSON.stringify({
  n: 'MESSAGE_SEND',
  c: { u: 'GEiIxthxD-1gf5Tk5O1NTw', s: 'S29120e92e162c244T2004863', p: 'localhost:3000/html/widget-responsive.html', t: '2017-08-08T10:20:05.665Z' },
  d: JSON.stringify({ p: GLOBE.repeat(GLOBES) }),
});

let server;
before(async () => {
  server = await startTestServer();
});
after(() => server && server.stop());

describe('TestClient message scenarios', { concurrency: true }, () => {
  for (const transport of TRANSPORTS) {
    it(`testMessage ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const processed = (msg) => x.exps.signal(`onProcessed ${msg}`);
      x.exps
        .then(() => client.connect())
        // no outcome asked for
        .then(() => client.sendMessage('test message ()', null, 0, null, true))
        .then(() => client.sendMessage('test message (sequence)', 'test_seq', 0, null, true))
        .then(() => client.sendMessage('test message (listener)', null, -1, { onProcessed: processed }, true))
        .await('onProcessed test message (listener)')
        .then(() => client.sendMessage('test message (sequence+listener)', 'test_seq', -1, { onProcessed: processed }, true))
        .await('onProcessed test message (sequence+listener)')
        .then(() => x.completed())
        .verify();
    }));

    it(`testMessageWithReturnValue ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      x.exps
        .then(() => client.connect())
        .then(() => client.sendMessage('give me a result', 'test_seq', -1, {
          onProcessed: (msg, resp) => x.exps.signal(`onProcessed \`${msg}\` \`${resp}\``),
        }, true))
        .await('onProcessed `give me a result` `result:ok`')
        .then(() => x.completed())
        .verify();
    }));

    it(`testMessageWithSpecialChars ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      client.connect();
      client.sendMessage('hello +&=%\r\n', null, -1, {
        onProcessed: (msg) => {
          x.equals('hello +&=%\r\n', msg);
          x.completed();
        },
      }, false);
    }));

    it(`testUnorderedMessage ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      client.connect();
      client.sendMessage('test message', 'UNORDERED_MESSAGES', -1, {
        onProcessed: (msg) => {
          x.equals('test message', msg);
          x.completed();
        },
      }, false);
    }));

    it(`testMessageError ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      client.connect();
      client.sendMessage('throw me an error', 'test_seq', -1, {
        onDeny: (msg, code, error) => {
          x.equals('throw me an error', msg);
          x.equals(ERROR_CODE, code);
          x.equals(ERROR_TEXT, error);
          x.completed();
        },
      }, false);
    }));

    it(`testLongMessage ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      client.connect();
      client.sendMessage(LONG_MESSAGE, 'test_seq', -1, { onProcessed: () => x.completed() }, false);
    }));
  }
});
