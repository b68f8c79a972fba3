'use strict';
// The official clients' own suite (TestClient of the Haxe client library),
// subscription scenarios, through the official Node.js client on each
// transport, against Shoal's TEST adapter set. Each scenario asserts what
// upstream's does; see docs/protocol.md ("The official clients' suite").
// Not run here yet: testJsonPatch and testDiffPatch (diff encodings).

const { describe, it, before, after } = require('node:test');
const { TRANSPORTS, startTestServer, runScenario, ls } = require('../lib/testclient');

let server;
before(async () => {
  server = await startTestServer();
});
after(() => server && server.stop());

function countSubscription(mode = 'MERGE') {
  const sub = new ls.Subscription(mode, ['count'], ['count']);
  sub.setDataAdapter('COUNT');
  return sub;
}

describe('TestClient subscription scenarios', { concurrency: true }, () => {
  // Listed, not run: they need JSON_COUNT and DIFF_COUNT, items sent with
  // JSON Patch and TLCP-diff encodings, which Shoal does not send yet.
  it.todo('testJsonPatch (all transports): Shoal sends no JSON Patch encoding yet');
  it.todo('testDiffPatch (all transports): Shoal sends no TLCP-diff encoding yet');

  for (const transport of TRANSPORTS) {
    it(`testSubscribe ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = countSubscription();
      sub.addListener({
        onSubscription: () => {
          x.isTrue(sub.isSubscribed());
          x.completed();
        },
      });
      client.subscribe(sub);
      const subs = client.getSubscriptions();
      x.equals(1, subs.length);
      x.isTrue(sub === subs[0]);
      client.connect();
    }));

    it(`testSubscribeEmptyGroup ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('MERGE', ['empty_group'], ['count']);
      sub.setDataAdapter('COUNT');
      sub.addListener({
        // The server's table has no items: the client's own error 61.
        onSubscriptionError: (code, msg) => {
          x.equals(61, code);
          x.equals('Expected 1 items but got 0', msg);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testSubscriptionError ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = countSubscription('RAW');
      sub.addListener({
        onSubscriptionError: (code, msg) => {
          x.equals('24 Invalid mode for these items', `${code} ${msg}`);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testSubscribeCommand ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('COMMAND', ['mult_table'], ['key', 'value1', 'value2', 'command']);
      sub.setDataAdapter('MULT_TABLE');
      sub.addListener({
        onSubscription: () => {
          x.isTrue(sub.isSubscribed());
          x.equals(1, sub.getKeyPosition());
          x.equals(4, sub.getCommandPosition());
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testSubscribeCommand2Level ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('COMMAND', [`two_level_command_count${transport}`], ['key', 'command']);
      sub.setDataAdapter('TWO_LEVEL_COMMAND');
      sub.setCommandSecondLevelDataAdapter('COUNT');
      sub.setCommandSecondLevelFields(['count']);
      sub.addListener({
        onSubscription: () => {
          x.isTrue(sub.isSubscribed());
          x.equals(1, sub.getKeyPosition());
          x.equals(2, sub.getCommandPosition());
        },
        onItemUpdate: (update) => {
          const val = update.getValue('count') ?? '';
          const key = update.getValue('key') ?? '';
          const cmd = update.getValue('command') ?? '';
          if (/\d+/.test(val) && key === 'count' && cmd === 'UPDATE') x.completed();
        },
      });
      client.subscribe(sub);
      const subs = client.getSubscriptions();
      x.equals(1, subs.length);
      x.isTrue(sub === subs[0]);
      client.connect();
    }));

    it(`testUnsubscribe ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = countSubscription();
      sub.addListener({
        onSubscription: () => {
          x.isTrue(sub.isSubscribed());
          client.unsubscribe(sub);
        },
        onUnsubscription: () => {
          x.equals(false, sub.isSubscribed());
          x.equals(false, sub.isActive());
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testSubscribeNonAscii ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('MERGE', ['strange:àìùòlè'], ['value🌐-', 'value&+=\r\n%']);
      sub.setDataAdapter('STRANGE_NAMES');
      sub.addListener({
        onSubscription: () => {
          x.isTrue(sub.isSubscribed());
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testClearSnapshot ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('DISTINCT', ['clear_snapshot'], ['dummy']);
      sub.setDataAdapter('CLEAR_SNAPSHOT');
      sub.addListener({
        onClearSnapshot: (name, pos) => {
          x.equals('clear_snapshot', name);
          x.equals(1, pos);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testEndOfSnapshot ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('DISTINCT', ['end_of_snapshot'], ['value']);
      sub.setRequestedSnapshot('yes');
      sub.setDataAdapter('END_OF_SNAPSHOT');
      sub.addListener({
        onEndOfSnapshot: (name, pos) => {
          x.equals('end_of_snapshot', name);
          x.equals(1, pos);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    // Updates faster than 10 kbit/s lets go, into a buffer of 10 events, in
    // unfiltered mode: the server must say it lost some.
    it(`testOverflow ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = new ls.Subscription('MERGE', ['overflow'], ['value']);
      sub.setRequestedSnapshot('yes');
      sub.setDataAdapter('OVERFLOW');
      sub.setRequestedMaxFrequency('unfiltered');
      sub.addListener({
        onItemLostUpdates: (name, pos) => {
          x.equals('overflow', name);
          x.equals(1, pos);
          client.unsubscribe(sub);
        },
        onUnsubscription: () => x.completed(),
      });
      client.subscribe(sub);
      client.connectionOptions.setRequestedMaxBandwidth('10');
      client.connect();
    }));

    it(`testFrequency ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = countSubscription();
      sub.addListener({
        onRealMaxFrequency: (freq) => {
          x.equals('unlimited', freq);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    it(`testChangeFrequency ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const sub = countSubscription();
      sub.addListener({ onRealMaxFrequency: (freq) => x.exps.signal(`frequency=${freq}`) });
      sub.setRequestedMaxFrequency('unlimited');
      client.subscribe(sub);
      client.connect();
      x.exps
        .await('frequency=unlimited')
        .then(() => sub.setRequestedMaxFrequency('2.5'))
        .await('frequency=2.5')
        .then(() => sub.setRequestedMaxFrequency('unlimited'))
        .await('frequency=unlimited')
        .then(() => x.completed())
        .verify();
    }));
  }
});
