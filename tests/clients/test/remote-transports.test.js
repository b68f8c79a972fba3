'use strict';
// Remote adapters (Node SDK 1.5.3, Python SDK 1.3.1) behind plain proxies, over
// each forced transport: a MERGE item with its snapshot, then a fast RAW counter
// whose every update arrives once and in order.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped, sequenceProblems, compactRanges, parseSeq } = require('../lib/util');
const { LANGS, FIELDS, setId, startWithRemotes } = require('../lib/remote');

const RATE = 1000;
const WANTED = 2000;

for (const lang of LANGS) {
  for (const transport of TRANSPORTS) {
    describe(`${lang} remote adapter over ${transport}`, () => {
      it(`MERGE stock with snapshot, then RAW counter_${RATE}: ${WANTED} updates, no gap, no duplicate`,
        { timeout: 60000 }, (t) => scoped(t, async (s) => {
          const id = setId(lang);
          const { server } = await startWithRemotes(s, { sets: [{ id, lang }] });
          const c = s.client(server.url, { transport, adapterSet: id });
          await c.connectAndWait();

          const stock = c.subscribe({ mode: 'MERGE', items: ['stock_ACME'], fields: FIELDS.stock, snapshot: 'yes' });
          await stock.waitSubscribed();
          await stock.waitCount(3, { what: 'the snapshot and two live updates of stock_ACME' });
          const [snap, ...live] = stock.updates;
          assert.equal(snap.snapshot, true, `first update is the snapshot: ${JSON.stringify(snap)}`);
          assert.equal(snap.values.stock_name, 'ACME');
          assert.equal(snap.values.last_price, '100.00', 'the adapter starts every stock at 100.00');
          assert.equal(snap.values.seq, '0');
          for (const f of FIELDS.stock) assert.notEqual(snap.values[f], null, `snapshot field ${f}`);
          const seqs = live.map((u) => parseSeq(u.values.seq));
          for (const u of live) assert.equal(u.snapshot, false, `live update: ${JSON.stringify(u)}`);
          for (let i = 1; i < seqs.length; i += 1) assert.ok(seqs[i] > seqs[i - 1], `MERGE seq goes up: ${seqs}`);
          assert.ok(seqs[0] >= 1, `live updates follow the snapshot: ${seqs}`);

          const item = `counter_${RATE}`;
          const counter = c.subscribe({ mode: 'RAW', items: [item], fields: FIELDS.counter });
          await counter.waitSubscribed();
          await counter.waitCount(WANTED, { timeoutMs: 30000 });
          const got = counter.updates.map((u) => parseSeq(u.values.seq));
          assert.equal(got[0], 1, `the counter starts at 1: ${compactRanges(got)}`);
          assert.deepEqual(sequenceProblems(got), [], `${item}: seq +1 per update; seqs: ${compactRanges(got)}`);
          assert.deepEqual(counter.lost, [], 'no onItemLostUpdates');
          assert.equal(c.status, `CONNECTED:${transport}`);
        }));
    });
  }
}
