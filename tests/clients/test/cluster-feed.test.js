'use strict';
// One data feed for a whole cluster behind a real balancer (issue 13): the kit
// of `shoal cluster-plan --topology 1.A.2 --feed redis|nats` (HAProxy, cookie
// stickiness, two nodes reading the adapter set FEED from the kit's one
// broker), run by lib/cluster.js: the broker first, then the nodes, then
// HAProxy. Four official clients, each a client machine of its own, spread
// over both nodes and subscribe to one FEED item in RAW and in DISTINCT with
// snapshot; an application (lib/publisher.js) publishes a counter (`seq` 1,
// 2, ...) with POST /publish through the balancer, with the kit's token,
// without stopping.
//
// Checked: the balancer spreads the publishes over both nodes, each writing
// to the one feed, and the clients of both nodes get the same history, every
// entry once and in order, on the session they started with. What a killed
// node's clients get is test/cluster-handoff.test.js's (issue 15: they keep
// their sessions on a survivor). Runs on 127.0.84.x (Redis) and 127.0.85.x
// (NATS), addresses no other test uses.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { withKit } = require('../lib/cluster');
const { Publisher, guard } = require('../lib/publisher');
const { makeKit } = require('../lib/topology');
const { compactRanges, parseSeq, sequenceProblems, waitUntil } = require('../lib/util');

const BROKERS = [
  { kind: 'redis', network: '127.0.84' },
  { kind: 'nats', network: '127.0.85' },
];

const ITEM = 'counter';
const RAW = { id: 'raw', mode: 'RAW', items: [ITEM], fields: ['seq'], dataAdapter: 'DEFAULT' };
const DISTINCT = { id: 'distinct', mode: 'DISTINCT', items: [ITEM], fields: ['seq'], dataAdapter: 'DEFAULT', snapshot: 'yes' };
const CLIENTS = 4;
// Every client has this many entries, in both modes, before the publishing ends.
const ENTRIES = 200;

const updatesOf = (c, id, pred = () => true) => c.events.filter((e) => e.ev === 'update' && e.id === id && pred(e));
const seqsOf = (updates) => updates.map((u) => parseSeq(u.values.seq));
const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const seqOf = (e) => parseSeq(e.values.seq);

function assertRun(seqs, from, to, what) {
  assert.deepEqual(sequenceProblems(seqs), [], `${what}: ${compactRanges(seqs)}`);
  assert.deepEqual(seqs, range(from, to), `${what}: ${compactRanges(seqs)}, want ${from}..${to}`);
}

// How many publishes HAProxy logged as answered (200), per server (node).
function publishesByNode(kit) {
  const by = new Map();
  for (const line of kit.balancerLines()) {
    const m = /\] \S+ \S+\/(\S+) \S+ 200 .*"POST \/publish /.exec(line);
    if (m) by.set(m[1], (by.get(m[1]) || 0) + 1);
  }
  return by;
}

async function oneHistory(t, { kind, network }) {
  const dir = makeKit({ id: '1.A.2', network, feed: kind, nodes: 2, balancer: 'haproxy' });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await withKit(t, dir, {}, async (kit) => {
    assert.equal(kit.feed.kind, kind, 'kit.json names the feed');
    assert.ok(kit.broker.running, `the kit's ${kind} broker runs`);
    const clients = await Promise.all(range(1, CLIENTS).map((i) => kit.spawnClient({
      source: `${network}.${50 + i}`, name: `client${i}`, adapterSet: 'FEED',
    })));
    for (const c of clients) {
      c.subscribe(RAW);
      c.subscribe(DISTINCT);
      c.connect();
    }
    await Promise.all(clients.map(async (c) => {
      await c.waitStatus('CONNECTED:WS-STREAMING', { timeoutMs: 20000 });
      await c.waitSubscribed('raw');
      await c.waitSubscribed('distinct');
    }));
    const owner = new Map(); // client -> { sid, node }
    for (const c of clients) {
      const info = await kit.waitSession(c.sessionId());
      assert.equal(info.adapterSet, 'FEED', `${c.name}: adapter set`);
      owner.set(c, { sid: c.sessionId(), node: info.node });
    }
    t.diagnostic(`sessions: ${clients.map((c) => `${c.name}@${owner.get(c).node}`).join(' ')}`);
    const nodes = new Set(clients.map((c) => owner.get(c).node));
    assert.equal(nodes.size, 2, `clients on both nodes (got ${[...nodes].join(', ')})`);

    const pub = new Publisher(kit, {
      source: `${network}.70`,
      bodies: (seq) => [{ item: ITEM, fields: { seq: String(seq) } }],
    });
    pub.start();
    try {
      const reached = (c, id, seq) => c.waitUpdate(id, {
        pred: (e) => !e.snapshot && seqOf(e) >= seq, timeoutMs: 20000, what: `${id} seq ${seq}`,
      });
      await guard(pub, Promise.all(clients.flatMap((c) => ['raw', 'distinct'].map((id) => reached(c, id, ENTRIES)))));
      await pub.stop();
      const last = pub.seq;
      assert.equal(pub.error, null, pub.describe());
      // Everyone gets the whole history, up to the last entry.
      await Promise.all(clients.flatMap((c) => ['raw', 'distinct'].map((id) => reached(c, id, last))));

      // The balancer spread the publishes over both nodes: each wrote to the
      // one feed. HAProxy logs each request with its server, once answered.
      const byNode = await waitUntil(kit, () => {
        const by = publishesByNode(kit);
        return [...by.values()].reduce((a, b) => a + b, 0) >= last ? by : null;
      }, { timeoutMs: 5000, what: `HAProxy logging ${last} answered publishes`, state: () => JSON.stringify([...publishesByNode(kit)]) });
      t.diagnostic(`publishes answered by ${JSON.stringify(Object.fromEntries(byNode))}`);
      for (const node of nodes) assert.ok(byNode.get(node) > 0, `publishes through ${node}: ${JSON.stringify([...byNode])}`);

      // Every client: one session, never out of CONNECTED, every entry once,
      // in order, in both modes; the item was empty when it subscribed, so
      // its DISTINCT snapshot was empty.
      for (const c of clients) {
        const { sid, node } = owner.get(c);
        assert.deepEqual(c.events.filter((e) => e.ev === 'lost' || e.ev === 'subscriptionError' || e.ev === 'serverError'), [], `${c.name}: no lost updates, no errors`);
        assert.deepEqual(c.sessions(), [sid], `${c.name} kept its session on ${node}`);
        const connectedAt = c.events.find((e) => e.ev === 'status' && e.status === 'CONNECTED:WS-STREAMING');
        const left = c.events.filter((e) => e.index > connectedAt.index && e.ev === 'status');
        assert.deepEqual(left, [], `${c.name} stayed CONNECTED:WS-STREAMING`);
        assertRun(seqsOf(updatesOf(c, 'raw')), 1, last, `${c.name} RAW on ${node}`);
        assert.deepEqual(updatesOf(c, 'distinct', (e) => e.snapshot), [], `${c.name}: DISTINCT snapshot of an empty item`);
        assertRun(seqsOf(updatesOf(c, 'distinct')), 1, last, `${c.name} DISTINCT on ${node}`);
      }
      const summary = `${kind}: ${last} entries to ${clients.length} clients on ${nodes.size} nodes, ` +
        `publishes per node ${JSON.stringify(Object.fromEntries(byNode))}`;
      t.diagnostic(summary);
      console.log(`[cluster-feed] ${summary}`);
    } catch (err) {
      t.diagnostic(pub.describe());
      throw err;
    } finally {
      await pub.stop().catch(() => {});
    }
  });
}

describe('one feed for the cluster (1.A.2 behind HAProxy, kit made with --feed)', () => {
  for (const b of BROKERS) {
    it(`${b.kind}: clients on both nodes see one history, published through both nodes`,
      { timeout: 45000 }, (t) => oneHistory(t, b));
  }
});
