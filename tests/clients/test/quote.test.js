'use strict';
// QUOTE_ADAPTER in MERGE mode with snapshot, over each forced transport; plus the
// health check endpoint.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped } = require('../lib/util');

const ITEMS = ['item1', 'item2', 'item3'];
const FIELDS = [
  'stock_name', 'last_price', 'time', 'pct_change', 'bid_quantity', 'bid',
  'ask', 'ask_quantity', 'min', 'max', 'ref_price', 'open_price',
];

function checkQuote(u) {
  assert.ok(ITEMS.includes(u.item), `update for an unexpected item ${JSON.stringify(u.item)}`);
  const name = u.values.stock_name;
  assert.ok(typeof name === 'string' && name.trim().length > 0,
    `${u.item}: stock_name should be a non-empty string, got ${JSON.stringify(name)} in ${JSON.stringify(u.values)}`);
  const raw = u.values.last_price;
  const price = Number(raw);
  assert.ok(typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(price) && price > 0,
    `${u.item}: last_price should parse as a positive number, got ${JSON.stringify(raw)} in ${JSON.stringify(u.values)}`);
}

describe('server basics', () => {
  it('GET /lightstreamer/healthcheck answers 200 OK', { timeout: 30000 }, (t) => scoped(t, async (s) => {
    const server = await s.startServer();
    const res = await fetch(`${server.url}/lightstreamer/healthcheck`, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    assert.equal(res.status, 200, `healthcheck status ${res.status}, body ${JSON.stringify(body)}`);
    assert.equal(body.trim(), 'OK', `healthcheck body ${JSON.stringify(body)}`);
  }));
});

for (const transport of TRANSPORTS) {
  describe(`QUOTE_ADAPTER MERGE over ${transport}`, () => {
    it('item1..item3 with snapshot: a snapshot update per item, then live updates, plausible values',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        await c.connectAndWait();

        const rec = c.subscribe({
          mode: 'MERGE', items: ITEMS, fields: FIELDS, dataAdapter: 'QUOTE_ADAPTER', snapshot: 'yes',
        });
        await rec.waitSubscribed();

        // The first update of each item must be its snapshot.
        await rec.waitFor((ups) => ITEMS.every((item) => ups.some((u) => u.item === item)), {
          timeoutMs: 10000, what: 'a first update for each of item1..item3',
        });
        for (const item of ITEMS) {
          const first = rec.updates.find((u) => u.item === item);
          assert.equal(first.snapshot, true, `${item}: first update should be a snapshot (isSnapshot())`);
          checkQuote(first);
        }

        // Then live updates for every item (a few per second per item).
        await rec.waitFor((ups) => ITEMS.every((item) => ups.some((u) => u.item === item && !u.snapshot)), {
          timeoutMs: 20000, what: 'a live (non-snapshot) update for each of item1..item3',
        });
        for (const u of rec.updates) checkQuote(u);
        for (const item of ITEMS) {
          const snaps = rec.updates.filter((u) => u.item === item && u.snapshot).length;
          assert.equal(snaps, 1, `${item}: expected exactly one snapshot update, got ${snaps}`);
        }
        assert.deepEqual(rec.errors, [], 'no subscription error expected');
        assert.equal(c.status, `CONNECTED:${transport}`, 'still connected on the forced transport');
      }));
  });
}
