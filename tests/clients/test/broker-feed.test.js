'use strict';
// One data feed for the whole cluster (issue 13): two Shoal nodes read the
// items of adapter set FEED from one real broker (Redis Streams, NATS
// JetStream), and official clients on each node see the same history.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped, sequenceProblems, compactRanges, parseSeq, uniqueToken } = require('../lib/util');
const { startBroker, feedAdaptersDir, memoryAdaptersDir, publish, publishRetrying } = require('../lib/broker');

const BROKERS = ['redis', 'nats'];
const COUNT = 120;

// Two nodes on the same FEED adapters folder, and a client on each.
async function twoNodes(s, kind, { params = {} } = {}) {
  const broker = await startBroker(s, kind);
  const token = uniqueToken('tok');
  const dir = feedAdaptersDir(s, broker, { token, params });
  const a = await s.startServer({ name: 'node-a', extraArgs: ['--adapters-dir', dir] });
  const b = await s.startServer({ name: 'node-b', extraArgs: ['--adapters-dir', dir] });
  const ca = s.client(a.url, { transport: 'WS-STREAMING', adapterSet: 'FEED', name: 'client-a' });
  const cb = s.client(b.url, { transport: 'HTTP-STREAMING', adapterSet: 'FEED', name: 'client-b' });
  await Promise.all([ca.connectAndWait(), cb.connectAndWait()]);
  return { broker, token, a, b, ca, cb };
}

function seqs(rec) {
  return rec.updates.filter((u) => !u.snapshot).map((u) => parseSeq(u.values.seq));
}

function rowsOf(rec) {
  const rows = new Map();
  for (const u of rec.updates) {
    if (u.values.command === 'DELETE') rows.delete(u.values.key);
    else rows.set(u.values.key, u.values.qty);
  }
  return [...rows.entries()].sort();
}

for (const kind of BROKERS) {
  describe(`shared feed through ${kind}`, () => {
    it('clients on two nodes see the same RAW history, in order, with no gap and no duplicate',
      { timeout: 90000 }, (t) => scoped(t, async (s) => {
        const { token, a, b, ca, cb } = await twoNodes(s, kind);
        const spec = { mode: 'RAW', items: ['counter'], fields: ['seq'], dataAdapter: 'DEFAULT' };
        const ra = ca.subscribe(spec, 'a');
        const rb = cb.subscribe(spec, 'b');
        await Promise.all([ra.waitSubscribed(), rb.waitSubscribed()]);
        // Published through both nodes in turn: any node writes to the one feed.
        for (let i = 1; i <= COUNT; i += 1) {
          await publishRetrying((i % 2 ? a : b).url, token, { item: 'counter', fields: { seq: String(i) } });
        }
        await Promise.all([ra.waitCount(COUNT, { timeoutMs: 30000 }), rb.waitCount(COUNT, { timeoutMs: 30000 })]);
        const want = Array.from({ length: COUNT }, (_, i) => i + 1);
        assert.deepEqual(seqs(ra), want, `node a: ${compactRanges(seqs(ra))}`);
        assert.deepEqual(seqs(rb), want, `node b: ${compactRanges(seqs(rb))}`);
      }));

    it('MERGE and COMMAND snapshots are the same on both nodes', { timeout: 90000 }, (t) => scoped(t, async (s) => {
      const { token, a, ca, cb } = await twoNodes(s, kind);
      await publishRetrying(a.url, token, { item: 'quote', fields: { bid: '1.10', ask: '1.20' } });
      await publishRetrying(a.url, token, { item: 'quote', fields: { bid: '1.11' } });
      const rows = [
        ['ADD', 'x', '1'], ['ADD', 'y', '2'], ['UPDATE', 'x', '5'], ['ADD', 'z', '3'], ['DELETE', 'y', null],
      ];
      for (const [command, key, qty] of rows) {
        await publishRetrying(a.url, token, { item: 'book', command, key, fields: qty ? { qty } : {} });
      }
      const merge = { mode: 'MERGE', items: ['quote'], fields: ['bid', 'ask'], dataAdapter: 'DEFAULT', snapshot: 'yes' };
      const command = { mode: 'COMMAND', items: ['book'], fields: ['key', 'command', 'qty'], dataAdapter: 'DEFAULT', snapshot: 'yes' };
      const [qa, qb] = [ca.subscribe(merge, 'quote a'), cb.subscribe(merge, 'quote b')];
      const [ba, bb] = [ca.subscribe(command, 'book a'), cb.subscribe(command, 'book b')];
      await Promise.all([qa, qb].map((r) => r.waitCount(1)));
      for (const r of [qa, qb]) {
        assert.deepEqual(r.updates[0].values, { bid: '1.11', ask: '1.20' }, `${r.label}: the latest state`);
        assert.equal(r.updates[0].snapshot, true);
      }
      await Promise.all([ba, bb].map((r) => r.waitFor(() => r.endOfSnapshot.length > 0, { what: 'end of snapshot' })));
      assert.deepEqual(rowsOf(ba), [['x', '5'], ['z', '3']]);
      assert.deepEqual(rowsOf(bb), rowsOf(ba), 'the same rows on both nodes');
      // A change after the snapshot reaches both.
      await publishRetrying(a.url, token, { item: 'book', command: 'UPDATE', key: 'z', fields: { qty: '4' } });
      await Promise.all([ba, bb].map((r) => r.waitUpdate((u) => u.values.key === 'z' && u.values.qty === '4')));
    }));

    it('a broker restart loses nothing the broker kept, and the health check follows the broker',
      { timeout: 120000 }, (t) => scoped(t, async (s) => {
        const { broker, token, a, b, ca, cb } = await twoNodes(s, kind, { params: { healthcheck_requires_broker: 'Y' } });
        const spec = { mode: 'RAW', items: ['ticks'], fields: ['seq'], dataAdapter: 'DEFAULT' };
        const ra = ca.subscribe(spec, 'a');
        const rb = cb.subscribe(spec, 'b');
        await Promise.all([ra.waitSubscribed(), rb.waitSubscribed()]);
        const half = COUNT / 2;
        for (let i = 1; i <= half; i += 1) {
          await publishRetrying(a.url, token, { item: 'ticks', fields: { seq: String(i) } });
        }
        await Promise.all([ra.waitCount(half), rb.waitCount(half)]);
        assert.equal((await fetch(`${b.url}/lightstreamer/healthcheck`)).status, 200);
        await broker.kill();
        // While the broker is away: the node says so, publishing is refused
        // as unavailable, and the sessions stay. (Another item: a 503 means
        // "not confirmed", and a NATS client resends what it buffered.)
        const down = await publish(a.url, token, { item: 'probe', fields: { seq: 'unconfirmed' } });
        assert.equal(down.status, 503, JSON.stringify(down.body));
        let health;
        const deadline = Date.now() + 15000;
        do {
          health = await fetch(`${b.url}/lightstreamer/healthcheck`);
        } while (health.status === 200 && Date.now() < deadline && await new Promise((r) => setTimeout(r, 50, true)));
        assert.equal(health.status, 503);
        assert.match(await health.text(), /FEED\/DEFAULT/);
        await broker.restart();
        for (let i = half + 1; i <= COUNT; i += 1) {
          await publishRetrying(b.url, token, { item: 'ticks', fields: { seq: String(i) } });
        }
        await Promise.all([ra.waitCount(COUNT, { timeoutMs: 30000 }), rb.waitCount(COUNT, { timeoutMs: 30000 })]);
        for (const r of [ra, rb]) {
          assert.deepEqual(sequenceProblems(seqs(r)), [], `${r.label}: ${compactRanges(seqs(r))}`);
          assert.equal(seqs(r).length, COUNT);
          assert.deepEqual(r.clearSnapshot, []);
        }
        assert.equal(ca.status, 'CONNECTED:WS-STREAMING', 'the session stayed');
        assert.equal((await fetch(`${b.url}/lightstreamer/healthcheck`)).status, 200);
      }));

    it('the publish API refuses what it must, clearly', { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const broker = await startBroker(s, kind);
      const token = uniqueToken('tok');
      const dir = feedAdaptersDir(s, broker, {
        token,
        params: { publish_user: 'app', publish_password: 'pw:1' },
      });
      const node = await s.startServer({ extraArgs: ['--adapters-dir', dir] });
      const ok = { item: 'x', fields: { v: '1' } };
      const none = await publish(node.url, null, ok);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate'), /Bearer/);
      assert.equal((await publish(node.url, 'wrong', ok)).status, 401);
      const basic = `Basic ${Buffer.from('app:pw:1').toString('base64')}`;
      const viaBasic = await publish(node.url, basic, ok);
      assert.equal(viaBasic.status, 200, JSON.stringify(viaBasic.body));
      assert.equal(viaBasic.body.item, 'x');
      assert.ok(viaBasic.body.position, 'the broker position of the new entry');
      const bad = await publish(node.url, token, '{"adapter_set":"FEED",');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /not JSON/);
      const noItem = await publish(node.url, token, { fields: { v: '1' } });
      assert.equal(noItem.status, 400);
      assert.match(noItem.body.error, /"item" is missing/);
      const unknownSet = await publish(node.url, token, { adapter_set: 'NOPE', item: 'x', fields: { v: '1' } });
      assert.equal(unknownSet.status, 404);
      assert.match(unknownSet.body.error, /NOPE/);
      const demo = await publish(node.url, token, { adapter_set: 'DEMO', data_adapter: 'QUOTE_ADAPTER', item: 'x', fields: { v: '1' } });
      assert.equal(demo.status, 403);
      assert.match(demo.body.error, /does not take published events/);
      const get = await fetch(`${node.url}/publish`);
      assert.equal(get.status, 405);
    }));
  });
}

describe('publishing on a node without a broker (shoal.memory)', () => {
  it('a published value reaches subscribed clients, and later ones get it as their snapshot',
    { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const token = uniqueToken('tok');
      const node = await s.startServer({ extraArgs: ['--adapters-dir', memoryAdaptersDir(s, { token })] });
      const early = s.client(node.url, { transport: 'WS-STREAMING', adapterSet: 'FEED', name: 'early' });
      await early.connectAndWait();
      const spec = { mode: 'MERGE', items: ['greeting'], fields: ['text', 'by'], dataAdapter: 'DEFAULT', snapshot: 'yes' };
      const r1 = early.subscribe(spec, 'early');
      await r1.waitSubscribed();
      const sent = await publish(node.url, token, { item: 'greeting', fields: { text: 'hello', by: 'curl' } });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.position, '1');
      const u = await r1.waitUpdate((x) => x.values.text === 'hello');
      assert.deepEqual(u.values, { text: 'hello', by: 'curl' });
      const late = s.client(node.url, { transport: 'HTTP-POLLING', adapterSet: 'FEED', name: 'late' });
      await late.connectAndWait();
      const r2 = late.subscribe(spec, 'late');
      const snap = await r2.waitUpdate(() => true);
      assert.equal(snap.snapshot, true);
      assert.deepEqual(snap.values, { text: 'hello', by: 'curl' });
      assert.equal((await publish(node.url, 'nope', { item: 'greeting', fields: { text: 'x' } })).status, 401);
    }));
});
