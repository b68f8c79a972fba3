'use strict';
// PORTFOLIO_ADAPTER: COMMAND-mode item portfolio1 driven by BUY/SELL messages, over
// each forced transport. Robust to rows already in the portfolio: the snapshot
// (up to EOS) gives the starting state.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped } = require('../lib/util');

const PORTFOLIO = {
  mode: 'COMMAND', items: ['portfolio1'], fields: ['key', 'command', 'qty'], dataAdapter: 'PORTFOLIO_ADAPTER', snapshot: 'yes',
};
const STOCKS = Array.from({ length: 30 }, (_, i) => `item${i + 1}`);

// key -> qty (number) from the updates so far.
function portfolioState(updates) {
  const state = new Map();
  for (const u of updates) {
    const key = u.values.key;
    if (u.values.command === 'DELETE') state.delete(key);
    else state.set(key, Number(u.values.qty));
  }
  return state;
}

for (const transport of TRANSPORTS) {
  describe(`PORTFOLIO_ADAPTER COMMAND over ${transport}`, () => {
    it('BUY adds a row, BUY again updates its qty, SELL of everything deletes it',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        await c.connectAndWait();
        const rec = c.subscribe(PORTFOLIO);
        await rec.waitSubscribed();
        await rec.waitFor(() => rec.endOfSnapshot.length > 0, {
          timeoutMs: 10000, what: 'onEndOfSnapshot for portfolio1 (EOS of the COMMAND snapshot)',
        });

        const initial = portfolioState(rec.updates);
        for (const [key, qty] of initial) {
          assert.ok(Number.isFinite(qty) && qty > 0, `snapshot row ${key} has qty ${qty}`);
        }
        // A stock not in the portfolio; if every stock is there, sell one out first.
        let key = STOCKS.find((k) => !initial.has(k));
        const send = (text) => c.sendMessage(text, { sequence: 'portfolio_ops' });
        const isKey = (cmd) => (u) => u.values.key === key && u.values.command === cmd;
        if (!key) {
          key = STOCKS[0];
          const from = rec.updates.length;
          await send(`SELL|portfolio1|${key}|${initial.get(key)}`);
          await rec.waitUpdate(isKey('DELETE'), { from, what: `DELETE of pre-existing row ${key}` });
        }
        s.note(`portfolio key under test: ${key}; initial rows ${JSON.stringify([...initial])}`);

        // BUY 100 -> ADD with qty 100.
        let from = rec.updates.length;
        await send(`BUY|portfolio1|${key}|100`);
        const add = await rec.waitUpdate((u) => u.values.key === key, { from, what: `the row for ${key} after BUY 100` });
        assert.equal(add.values.command, 'ADD', `first update for ${key}: ${JSON.stringify(add.values)}`);
        assert.equal(Number(add.values.qty), 100, `qty after BUY 100: ${JSON.stringify(add.values)}`);
        assert.equal(add.snapshot, false, 'a live update, not a snapshot');

        // BUY 50 -> UPDATE with qty 150.
        from = rec.updates.length;
        await send(`BUY|portfolio1|${key}|50`);
        const upd = await rec.waitUpdate((u) => u.values.key === key, { from, what: `the row for ${key} after BUY 50` });
        assert.equal(upd.values.command, 'UPDATE', `update for ${key} after second BUY: ${JSON.stringify(upd.values)}`);
        assert.equal(Number(upd.values.qty), 150, `qty after BUY 100 + BUY 50: ${JSON.stringify(upd.values)}`);

        // SELL 150 -> DELETE.
        from = rec.updates.length;
        await send(`SELL|portfolio1|${key}|150`);
        const del = await rec.waitUpdate((u) => u.values.key === key, { from, what: `the row for ${key} after SELL 150` });
        assert.equal(del.values.command, 'DELETE', `update for ${key} after selling everything: ${JSON.stringify(del.values)}`);
        assert.equal(rec.subscription.getCommandValue('portfolio1', key, 'qty'), null, 'row gone from the client state');

        // Other rows were not touched.
        const final = portfolioState(rec.updates);
        for (const [k, q] of initial) {
          if (k !== key) assert.equal(final.get(k), q, `row ${k} should be untouched`);
        }
        assert.equal(final.has(key), false, `${key} deleted`);
      }));
  });
}
