'use strict';
// Bandwidth management (TLCP CONS and constrain) with the official Node client:
// the metadata adapter (LiteralBasedProvider, max_bandwidth 40) grants 40 kbit/s,
// the client may ask for less; the server announces the lower of the two and
// paces the session's notifications to it. The sequence of the official
// clients' _testBandwidth, and the pacing and overflow of _testOverflow.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped, waitUntil, uniqueToken } = require('../lib/util');
const { publish, memoryAdaptersDir } = require('../lib/broker');

const SET = 'FEED';
const GRANTED = 40; // kbit/s, the literal provider's max_bandwidth
const BUFFER = 5; // the literal provider's buffer_size: events queued per item

// An adapters dir with the set FEED: the literal metadata provider granting
// GRANTED with BUFFER-event item buffers, and items held in memory, fed by
// POST /publish.
function adaptersDir(s, token) {
  return memoryAdaptersDir(s, { token, metadataParams: { max_bandwidth: GRANTED, buffer_size: BUFFER } });
}

async function start(s) {
  const token = uniqueToken('bw');
  const server = await s.startServer({ extraArgs: ['--adapters-dir', adaptersDir(s, token)] });
  return { server, token };
}

// Records every realMaxBandwidth the client notifies (onPropertyChange).
function watchBandwidth(c) {
  const seen = [];
  c.client.addListener({
    onPropertyChange: (prop) => {
      if (prop !== 'realMaxBandwidth') return;
      seen.push(c.client.connectionOptions.getRealMaxBandwidth());
      c.emit('change');
    },
  });
  return seen;
}

function waitBandwidth(c, seen, want, what) {
  return waitUntil(c, () => seen.length && seen[seen.length - 1] === want, {
    timeoutMs: 10000,
    what: `${c.name}: realMaxBandwidth ${want} (${what})`,
    state: () => `seen: ${JSON.stringify(seen)}\n${c.describe()}`,
  });
}

// Publishes to `item`, one request after the other, until stop() is called.
function publisher(server, token, item, size) {
  let running = true;
  let sent = 0;
  const done = (async () => {
    while (running) {
      sent += 1;
      // Every value new: an unchanged field would be sent as an empty token.
      const pad = String(sent).padStart(size, 'x');
      const r = await publish(server.url, token, { adapter_set: SET, item, fields: { n: String(sent), pad } });
      if (r.status !== 200) throw new Error(`publish answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
  })();
  return {
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

for (const transport of TRANSPORTS) {
  describe(`bandwidth over ${transport}`, () => {
    it('realMaxBandwidth follows the official _testBandwidth sequence: 40, 20.1, 40, 39, 40',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const { server } = await start(s);
        const c = s.client(server.url, { transport, adapterSet: SET });
        const seen = watchBandwidth(c);
        const options = c.client.connectionOptions;
        assert.equal(options.getRequestedMaxBandwidth(), 'unlimited');
        await c.connectAndWait();
        await waitBandwidth(c, seen, '40', 'the grant, on connect');
        for (const [asked, want] of [['20.1', '20.1'], ['70.1', '40'], ['39', '39'], ['unlimited', '40']]) {
          options.setRequestedMaxBandwidth(asked);
          await waitBandwidth(c, seen, want, `after asking ${asked}`);
        }
        assert.deepEqual(seen, ['40', '20.1', '40', '39', '40']);
      }));
  });
}

for (const transport of ['WS-STREAMING', 'HTTP-STREAMING']) {
  describe(`pacing over ${transport}`, () => {
    it('at 10 kbit/s a fast RAW item arrives at about the rate, with onItemLostUpdates, and unsubscribes promptly',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const { server, token } = await start(s);
        const c = s.client(server.url, {
          transport,
          adapterSet: SET,
          configure: (client) => client.connectionOptions.setRequestedMaxBandwidth('10'),
        });
        const seen = watchBandwidth(c);
        await c.connectAndWait();
        await waitBandwidth(c, seen, '10', 'asked before connecting');
        const rec = c.subscribe({ mode: 'RAW', items: ['fast'], fields: ['n', 'pad'] });
        await rec.waitSubscribed();
        // Lines of about 220 bytes: 10 kbit/s (1250 bytes/s) is about 6 a second.
        const pub = publisher(server, token, 'fast', 200);
        try {
          await rec.waitCount(3, { timeoutMs: 10000 });
          const from = rec.updates.length;
          const t0 = Date.now();
          await new Promise((resolve) => setTimeout(resolve, 4000));
          const secs = (Date.now() - t0) / 1000;
          const window = rec.updates.slice(from);
          // The bytes of their U lines: U,1,1,<n>|<pad> and CRLF (OV lines not counted).
          const bytes = window.reduce((sum, u) => sum + 'U,1,1,|\r\n'.length + u.values.n.length + u.values.pad.length, 0);
          const atRate = 1250 * secs;
          const what = `${window.length} updates, ${bytes} bytes in ${secs} s; the rate allows about ${atRate}; published ${pub.sent}`;
          // Generous: the bucket's one second of burst, a line of debt, timers.
          assert.ok(bytes <= atRate + 1250 + 2 * 220, what);
          assert.ok(bytes >= atRate / 2, what);
          assert.ok(pub.sent > 3 * (rec.updates.length + 10), `published only ${pub.sent}: not enough to overflow`);
          await rec.waitFor(() => rec.lost.length > 0, { timeoutMs: 10000, what: 'onItemLostUpdates' });
          assert.equal(rec.lost[0].item, 'fast');
          assert.ok(rec.lost.every((l) => l.lost > 0), JSON.stringify(rec.lost));
          // As _testOverflow: unsubscribing gets its answer at once, backlog or not.
          const t1 = Date.now();
          c.unsubscribe(rec);
          await rec.waitFor(() => rec.unsubscribedCount > 0, { timeoutMs: 3000, what: 'onUnsubscription' });
          t.diagnostic(`${what}; lost ${JSON.stringify(rec.lost.slice(0, 3))}; unsubscribed in ${Date.now() - t1} ms`);
        } finally {
          await pub.stop();
        }
      }));
  });
}
