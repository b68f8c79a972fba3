'use strict';
// Remote data adapters (Node SDK 1.5.3, Python SDK 1.3.1) in COMMAND and DISTINCT
// mode and with a cleared snapshot; the test drives the items with client
// messages, which the remote metadata adapter hands to its data adapter.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped, uniqueToken } = require('../lib/util');
const { LANGS, FIELDS, setId, startWithRemotes } = require('../lib/remote');

const TRANSPORT = 'WS-STREAMING';

async function connected(s, lang) {
  const id = setId(lang);
  const { server } = await startWithRemotes(s, { sets: [{ id, lang }] });
  const c = s.client(server.url, { transport: TRANSPORT, adapterSet: id });
  await c.connectAndWait();
  const send = (text) => c.sendMessage(text, { sequence: 'ops' });
  return { server, c, send, id };
}

for (const lang of LANGS) {
  describe(`${lang} remote adapter: COMMAND, DISTINCT, clear snapshot (${TRANSPORT})`, () => {
    it('COMMAND: snapshot row and EOS, then ADD, UPDATE and DELETE driven by messages', { timeout: 30000 }, (t) => scoped(t, async (s) => {
      const { c, send } = await connected(s, lang);
      const item = `portfolio_${uniqueToken()}`;
      const rec = c.subscribe({ mode: 'COMMAND', items: [item], fields: FIELDS.portfolio, snapshot: 'yes' });
      await rec.waitSubscribed();
      await rec.waitFor(() => rec.endOfSnapshot.length > 0, { what: 'onEndOfSnapshot' });
      assert.deepEqual(rec.updates.map((u) => [u.snapshot, u.values]), [[true, { key: 'base', command: 'ADD', qty: '1' }]],
        'the snapshot is the one row the adapter starts with');

      const row = (cmd) => (u) => u.values.key === 'k1' && u.values.command === cmd;
      let from = rec.updates.length;
      await send(`ADD|${item}|k1|100`);
      const add = await rec.waitUpdate(row('ADD'), { from, what: 'ADD k1' });
      assert.equal(add.values.qty, '100');
      assert.equal(add.snapshot, false);
      from = rec.updates.length;
      await send(`UPDATE|${item}|k1|150`);
      const upd = await rec.waitUpdate(row('UPDATE'), { from, what: 'UPDATE k1' });
      assert.equal(upd.values.qty, '150');
      assert.equal(rec.subscription.getCommandValue(item, 'k1', 'qty'), '150');
      from = rec.updates.length;
      await send(`DELETE|${item}|k1`);
      await rec.waitUpdate(row('DELETE'), { from, what: 'DELETE k1' });
      assert.equal(rec.subscription.getCommandValue(item, 'k1', 'qty'), null, 'k1 gone from the client state');
      assert.equal(rec.subscription.getCommandValue(item, 'base', 'qty'), '1', 'the base row untouched');
    }));

    it('DISTINCT: a history of three events as snapshot, EOS, a live event; a later subscriber gets all four as snapshot',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const { c, send } = await connected(s, lang);
        const item = `news_${uniqueToken()}`;
        const spec = { mode: 'DISTINCT', items: [item], fields: FIELDS.news, snapshot: 'yes' };
        const rec = c.subscribe(spec);
        await rec.waitFor(() => rec.endOfSnapshot.length > 0, { what: 'onEndOfSnapshot' });
        assert.deepEqual(rec.updates.map((u) => [u.snapshot, u.values.seq, u.values.headline]),
          [[true, '1', 'headline 1'], [true, '2', 'headline 2'], [true, '3', 'headline 3']]);
        await send(`NEWS|${item}|breaking news`);
        const live = await rec.waitUpdate((u) => u.values.seq === '4', { what: 'the live event' });
        assert.equal(live.snapshot, false);
        assert.equal(live.values.headline, 'breaking news');

        const later = c.subscribe(spec, 'later subscriber');
        await later.waitFor(() => later.endOfSnapshot.length > 0, { what: 'onEndOfSnapshot (later subscriber)' });
        assert.deepEqual(later.updates.map((u) => [u.snapshot, u.values.seq]),
          [[true, '1'], [true, '2'], [true, '3'], [true, '4']], 'the server kept the whole history as DISTINCT snapshot');
      }));

    // Lightstreamer's rule for MERGE: a cleared snapshot is as though an
    // update with every field null were sent (onClearSnapshot is for
    // DISTINCT and COMMAND items).
    it('clear snapshot (MERGE): an update with every field null, and a later subscriber gets no old value', { timeout: 30000 }, (t) => scoped(t, async (s) => {
      const { c, send } = await connected(s, lang);
      const item = `board_${uniqueToken()}`;
      const spec = { mode: 'MERGE', items: [item], fields: FIELDS.board, snapshot: 'yes' };
      const rec = c.subscribe(spec);
      const snap = await rec.waitUpdate(() => true, { what: 'the snapshot' });
      assert.deepEqual([snap.snapshot, snap.values.value], [true, 'v0']);
      await send(`SET|${item}|v1`);
      await rec.waitUpdate((u) => u.values.value === 'v1', { what: 'v1' });
      await send(`CLEAR|${item}`);
      const cleared = await rec.waitUpdate((u) => u.values.value === null, { what: 'the update that clears the value' });
      assert.equal(cleared.snapshot, false);
      assert.deepEqual(rec.clearSnapshot, [], 'onClearSnapshot is not for MERGE items');

      const later = c.subscribe(spec, 'later subscriber');
      const first = await later.waitUpdate(() => true, { what: 'the snapshot of the later subscriber' });
      assert.deepEqual([first.snapshot, first.values.value], [true, null], `no value from before the clear: ${JSON.stringify(later.updates)}`);
      await send(`SET|${item}|v2`);
      await later.waitUpdate((u) => u.values.value === 'v2', { what: 'v2 for the later subscriber' });
      await rec.waitUpdate((u) => u.values.value === 'v2', { what: 'v2 for the first subscriber' });
    }));
  });
}
