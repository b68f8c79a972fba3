'use strict';
// The ARI connections of remote adapters (Node SDK 1.5.3, Python SDK 1.3.1):
// remote credentials, TLS, and a robust proxy whose remote is killed (kill -9)
// and started again while another adapter set keeps streaming.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped, sequenceProblems, compactRanges, parseSeq } = require('../lib/util');
const { makeCerts } = require('../lib/certs');
const { LANGS, FIELDS, setId, startWithRemotes, testAdapter } = require('../lib/remote');

const TRANSPORT = 'WS-STREAMING';
const AUTH = { user: 'ari-remote', password: 'right pass|word%' };

// A client of `id` sees stock_<name>'s snapshot: the set works end to end.
async function seesStock(s, server, id, name = 'ACME') {
  const c = s.client(server.url, { transport: TRANSPORT, adapterSet: id });
  await c.connectAndWait();
  const rec = c.subscribe({ mode: 'MERGE', items: [`stock_${name}`], fields: FIELDS.stock, snapshot: 'yes' });
  const first = await rec.waitUpdate(() => true, { what: `the snapshot of stock_${name}` });
  assert.equal(first.values.stock_name, name);
  await rec.waitCount(2, { what: 'a live update after the snapshot' });
  return c;
}

const LISTENING_RE = /listening on https?:\/\//;
const lineIndex = (server, re) => server.log.findIndex((l) => re.test(l));

for (const lang of LANGS) {
  describe(`${lang} remote adapter connections`, () => {
    it('plain proxies with auth: wrong credentials get CLOSE and a "refused" log line, Shoal does not listen yet; ' +
      'right ones: Shoal listens and the set serves', { timeout: 40000 }, (t) => scoped(t, async (s) => {
      const id = setId(lang);
      const { server, ports, listening } = await startWithRemotes(s, { sets: [{ id, lang, auth: AUTH }], startAdapters: false });
      const p = ports.of(id);
      const wrong = s.track(testAdapter(lang, { ports: p, auth: { user: AUTH.user, password: 'wrong' }, name: `${lang}-wrong` }));
      await wrong.start();
      const exit = await wrong.waitExit();
      assert.equal(exit.code, 2, `the adapter saw a CLOSE (its exit code 2); its log:\n${wrong.logTail(20)}`);
      await wrong.waitLog(/server sent CLOSE/, { gen: 1 });
      const refusedAt = lineIndex(server, new RegExp(`refused.*${id}|${id}.*refused`));
      assert.ok(refusedAt >= 0, 'Shoal logs a line with "refused" and the adapter set name');
      assert.equal(lineIndex(server, LISTENING_RE), -1, 'a plain proxy without its remote: no client listener');
      assert.equal(server.running, true, 'a refused remote does not stop Shoal');

      const right = s.track(testAdapter(lang, { ports: p, auth: AUTH, name: `${lang}-right` }));
      await right.start();
      await listening;
      assert.ok(lineIndex(server, LISTENING_RE) > refusedAt, 'Shoal listens only after the right remote came');
      await seesStock(s, server, id);
    }));

    it('TLS on the ARI ports (PEM keystore) with auth: a plain TCP remote is not served, a TLS one is',
      { timeout: 40000 }, (t) => scoped(t, async (s) => {
        const certs = makeCerts(s.tempDir('shoal-certs-'));
        const id = setId(lang);
        const { server, ports, listening } = await startWithRemotes(s, {
          sets: [{ id, lang, auth: AUTH, tls: certs }], startAdapters: false,
        });
        const p = ports.of(id);
        assert.equal(p.scheme, 'tls', 'the port lines say tls://');
        const clear = s.track(testAdapter(lang, { ports: p, auth: AUTH, name: `${lang}-cleartext` }));
        await clear.start();
        const exit = await clear.waitExit();
        assert.notEqual(exit.code, 0, `a cleartext remote on a TLS port is dropped: ${clear.logTail(10)}`);
        assert.equal(lineIndex(server, LISTENING_RE), -1, 'no client listener yet');

        const secure = s.track(testAdapter(lang, { ports: p, auth: AUTH, tls: certs, name: `${lang}-tls` }));
        await secure.start();
        await secure.waitLog(/connected .* to tls:\/\//);
        await listening;
        await seesStock(s, server, id);
      }));

    it('robust proxies: kill -9 the remote, start it again: status_item connected -> reconnecting -> connected, ' +
      'the subscriptions deliver again by themselves, the DEMO set shows no gap', { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const id = setId(lang);
      const { server, adapters } = await startWithRemotes(s, {
        // Lightstreamer's default is leave_hole; the new remote's snapshot
        // is asked for here.
        sets: [{ id, lang, robust: true, statusItem: 'adapter_status', eventsRecovery: 'use_snapshot' }],
      });
      const remote = adapters[id];
      const c = s.client(server.url, { transport: TRANSPORT, adapterSet: id, name: 'proxied' });
      const sid = await c.connectAndWait();
      const status = c.subscribe({ mode: 'MERGE', items: ['adapter_status'], fields: ['status'], snapshot: 'yes' });
      await status.waitUpdate((u) => u.values.status === 'connected', { what: 'status connected' });
      const counter = c.subscribe({ mode: 'RAW', items: ['counter_50'], fields: FIELDS.counter });
      const stock = c.subscribe({ mode: 'MERGE', items: ['stock_K'], fields: FIELDS.stock, snapshot: 'yes' });
      await counter.waitCount(10);
      await stock.waitCount(2);

      const demo = s.client(server.url, { transport: TRANSPORT, adapterSet: 'DEMO', name: 'demo' });
      await demo.connectAndWait();
      const demoRec = demo.subscribe({ mode: 'RAW', items: ['rate-50'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
      await demoRec.waitCount(10);

      await remote.kill();
      const at = { counter: counter.updates.length, stock: stock.updates.length, demo: demoRec.updates.length };
      const lost = await status.waitUpdate((u) => u.values.status === 'reconnecting', { what: 'status reconnecting' });
      // The other set goes on while this one has no remote.
      await demoRec.waitCount(10, { from: at.demo, what: 'DEMO updates while the remote is down' });

      await remote.start();
      await remote.waitReady();
      await status.waitUpdate((u) => u.values.status === 'connected', { from: lost.index + 1, what: 'status connected again' });
      // The new process starts its counter at 1 and its stock at seq 0 (price 100.00).
      const restart = await counter.waitUpdate((u) => u.values.seq === '1', { from: at.counter, timeoutMs: 15000, what: 'counter_50 from the new remote' });
      await counter.waitCount(10, { from: restart.index, what: '10 updates from the new remote' });
      const tail = counter.updates.slice(restart.index).map((u) => parseSeq(u.values.seq));
      assert.deepEqual(sequenceProblems(tail), [], `counter from the new remote: ${compactRanges(tail)}`);
      const snap = await stock.waitUpdate((u) => u.values.seq === '0', { from: at.stock, what: 'stock_K snapshot of the new remote (use_snapshot)' });
      assert.equal(snap.values.last_price, '100.00');
      await stock.waitUpdate((u) => parseSeq(u.values.seq) >= 1, { from: snap.index + 1, what: 'stock_K live again' });

      assert.equal(c.sessionId(), sid, 'the client session outlived the remote');
      assert.deepEqual(c.statusHistory().filter((st) => !st.startsWith('CONNECTED:') && st !== 'CONNECTING'), [],
        `the client never lost its connection: ${c.statusHistory()}`);
      assert.deepEqual(status.errors, []);
      await demoRec.waitCount(5, { from: demoRec.updates.length, what: 'DEMO still streaming' });
      const demoSeqs = demoRec.updates.map((u) => parseSeq(u.values.seq));
      assert.deepEqual(sequenceProblems(demoSeqs), [], `DEMO rate-50 across the outage: ${compactRanges(demoSeqs)}`);
    }));
  });
}
