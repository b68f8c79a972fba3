'use strict';
// The official clients' own suite (TestClient of the Haxe client library),
// subscription scenarios, through the official Node.js client on each
// transport, against Shoal's TEST adapter set. Each scenario asserts what
// upstream's does; see docs/protocol.md ("The official clients' suite").

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

    // JSON_COUNT declares its field JSONPATCH: the second update the client
    // gets came as a JSON Patch replacing /value, and the value is JSON with
    // a value member.
    it(`testJsonPatch ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const updates = [];
      const sub = new ls.Subscription('MERGE', ['count'], ['count']);
      sub.setRequestedSnapshot('no');
      sub.setDataAdapter('JSON_COUNT');
      sub.addListener({
        onItemUpdate: (update) => {
          updates.push(update);
          if (updates.length !== 2) return;
          const patch = update.getValueAsJSONPatchIfAvailable(1);
          x.isTrue(Array.isArray(patch) && patch.length > 0);
          x.equals('replace', patch[0].op);
          x.equals('/value', patch[0].path);
          x.isTrue(patch[0].value != null);
          x.isTrue(JSON.parse(update.getValue(1)).value != null);
          x.completed();
        },
      });
      client.subscribe(sub);
      client.connect();
    }));

    // DIFF_COUNT declares its field DIFF_MATCH_PATCH: the second update reads
    // value=<number> (the client shows no sign of a TLCP-diff; that the server
    // sends ^T for it is tests/clients/test/diff.test.js's and the engine's).
    it(`testDiffPatch ${transport}`, () => runScenario(server, transport, (x) => {
      const client = x.client();
      const updates = [];
      const sub = new ls.Subscription('MERGE', ['count'], ['count']);
      sub.setRequestedSnapshot('no');
      sub.setDataAdapter('DIFF_COUNT');
      sub.addListener({
        onItemUpdate: (update) => {
          updates.push(update);
          if (updates.length !== 2) return;
          const value = update.getValue(1);
          x.isTrue(/value=\d+/.test(value));
          // Beyond upstream: decoded to the text the adapter published.
          x.isTrue(/^value=\d+; .*as a diff$/.test(value), value);
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
