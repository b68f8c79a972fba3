'use strict';
// One data feed for a whole cluster behind a real balancer (issue 13): the kit
// of `shoal cluster-plan --topology 1.A.2 --feed redis|nats` (HAProxy, cookie
// stickiness, two nodes reading the adapter set FEED from the kit's one
// broker), run by lib/cluster.js: the broker first, then the nodes, then
// HAProxy. Four official clients, each a client machine of its own, spread
// over both nodes and subscribe to one FEED item in RAW and in DISTINCT with
// snapshot; an application publishes a counter (`seq` 1, 2, ...) with
// POST /publish through the balancer, with the kit's token, without stopping.
//
// Checked: the clients of both nodes get the same history, no gap, no
// duplicate. Then kill -9 of one node mid-stream: its clients get new
// sessions on the survivor, and what they get there continues the same
// history: in RAW, from the broker's next entry on (at the latest the first
// one published after the new subscription was confirmed) to the end, the
// numbers the other clients got, nothing twice; in DISTINCT, a snapshot of the
// item's last entries, then the entries after it. Runs on 127.0.84.x (Redis)
// and 127.0.85.x (NATS), addresses no other test uses.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const { withKit } = require('../lib/cluster');
const { makeKit } = require('../lib/topology');
const { compactRanges, parseSeq, sequenceProblems, waitUntil } = require('../lib/util');

const BROKERS = [
  { kind: 'redis', network: '127.0.84' },
  { kind: 'nats', network: '127.0.85' },
];

const ITEM = 'counter';
const RAW = { id: 'raw', mode: 'RAW', items: [ITEM], fields: ['seq'], dataAdapter: 'DEFAULT' };
const DISTINCT = { id: 'distinct', mode: 'DISTINCT', items: [ITEM], fields: ['seq'], dataAdapter: 'DEFAULT', snapshot: 'yes' };
// The kit's adapter keeps the default snapshot_length (10), and
// LiteralBasedProvider's distinct_snapshot_length is 10 too.
const SNAPSHOT_LENGTH = 10;
const CLIENTS = 4;
// The application's pace: one publish every PERIOD_MS at most, one at a time.
const PERIOD_MS = 5;
// Every client has this many entries before the kill, and each moved client
// this many on its new session before the publishing ends.
const BEFORE_KILL = 100;
const AFTER_MOVE = 100;
// A publish the balancer cannot place yet (it still sends some to the dead
// node) is tried again until this long after its first try.
const PUBLISH_RETRY_MS = 10000;

// ---------------------------------------------------------------------------
// The application that publishes

// Publishes seq 1, 2, ... through the kit's balancer, one at a time, until
// stopped. started[seq]: Date.now() just before the first try of seq.
// between(fn) runs fn after one publish has been answered and before the next
// is sent (nothing is in flight), and resolves with its result.
class Publisher extends EventEmitter {
  constructor(kit, { source }) {
    super();
    this.setMaxListeners(0);
    this.kit = kit;
    this.source = source;
    this.seq = 0; // the last seq the balancer answered 200 for
    this.started = [];
    this.answered = []; // answered[seq]: Date.now() when the 200 came
    this.retries = []; // [{ seq, t, status, body }]
    this.pending = null; // { fn, resolve, reject } for between()
    this.stopping = false;
    this.error = null;
    this.done = null;
    // Rejects when publishing fails, so that waits fail at once (see guard).
    this.failed = new Promise((_, reject) => { this.fail = reject; });
    this.failed.catch(() => {});
  }

  start() {
    this.done = this._run().catch((err) => {
      this.error = err;
      this.fail(err);
    });
  }

  async _run() {
    let next = Date.now();
    while (!this.stopping) {
      if (this.pending) {
        const { fn, resolve, reject } = this.pending;
        this.pending = null;
        try {
          resolve(await fn(this.seq));
        } catch (err) {
          reject(err);
          throw err;
        }
      }
      const seq = this.seq + 1;
      this.started[seq] = Date.now();
      await this._publish(seq);
      this.answered[seq] = Date.now();
      this.seq = seq;
      this.emit('change');
      next += PERIOD_MS;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else next = Date.now();
    }
  }

  // 200, or a refusal that says nothing was written (the balancer had no
  // live node for it, or the node no broker), tried again.
  async _publish(seq) {
    const first = Date.now();
    for (;;) {
      let r;
      try {
        r = await this.kit.publish({ item: ITEM, fields: { seq: String(seq) } }, { source: this.source });
      } catch (err) {
        r = { status: 0, body: err.message };
      }
      if (r.status === 200) return;
      this.retries.push({ seq, t: Date.now(), status: r.status, body: r.body });
      if (this.stopping || ![0, 502, 503, 504].includes(r.status) || Date.now() - first > PUBLISH_RETRY_MS) {
        throw new Error(`publish of seq ${seq}: ${r.status} ${JSON.stringify(r.body)} (${this.retries.length} refusals so far)`);
      }
      await new Promise((resolve) => setTimeout(resolve, PERIOD_MS));
    }
  }

  between(fn) {
    return new Promise((resolve, reject) => { this.pending = { fn, resolve, reject }; });
  }

  // The first seq whose publishing started after time t (ms).
  firstStartedAfter(t) {
    for (let seq = 1; seq < this.started.length; seq += 1) if (this.started[seq] > t) return seq;
    return Infinity;
  }

  // The last seq answered before time t (ms), 0 if none.
  lastAnsweredBefore(t) {
    let last = 0;
    for (let seq = 1; seq < this.answered.length && this.answered[seq] < t; seq += 1) last = seq;
    return last;
  }

  async stop() {
    this.stopping = true;
    if (this.done) await this.done;
  }

  describe() {
    return `publisher: last seq ${this.seq}${this.error ? `, failed: ${this.error.message}` : ''}; ` +
      `refusals: ${JSON.stringify(this.retries.slice(0, 20))}${this.retries.length > 20 ? ` ... ${this.retries.length} in all` : ''}`;
  }
}

// ---------------------------------------------------------------------------
// What a client got

const updatesOf = (c, id, pred = () => true) => c.events.filter((e) => e.ev === 'update' && e.id === id && pred(e));
const seqsOf = (updates) => updates.map((u) => parseSeq(u.values.seq));
const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const seqOf = (e) => parseSeq(e.values.seq);

// Waits for `promise`, failing at once when the publisher does.
const guard = (pub, promise) => Promise.race([promise, pub.failed]);

function assertRun(seqs, from, to, what) {
  assert.deepEqual(sequenceProblems(seqs), [], `${what}: ${compactRanges(seqs)}`);
  assert.deepEqual(seqs, range(from, to), `${what}: ${compactRanges(seqs)}, want ${from}..${to}`);
}

async function feedFailOver(t, { kind, network }) {
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
    const victim = owner.get(clients[0]).node;
    const moved = clients.filter((c) => owner.get(c).node === victim);
    const stayed = clients.filter((c) => owner.get(c).node !== victim);
    assert.ok(stayed.length > 0, `clients on both nodes (all on ${victim})`);
    const survivor = owner.get(stayed[0]).node;

    const pub = new Publisher(kit, { source: `${network}.70` });
    pub.start();
    try {
      // Mid-stream: every client has the first entries, in both modes.
      const reached = (c, id, seq, session) => c.waitUpdate(id, {
        session, pred: (e) => !e.snapshot && seqOf(e) >= seq, timeoutMs: 20000, what: `${id} seq ${seq}`,
      });
      await guard(pub, Promise.all(clients.flatMap((c) => ['raw', 'distinct'].map((id) => reached(c, id, BEFORE_KILL)))));

      // kill -9 between two publishes: no publish is in flight to the dead node.
      let killedAfter = null;
      const kill = await guard(pub, pub.between(async (seq) => {
        killedAfter = seq;
        return kit.kill(victim);
      }));
      t.diagnostic(`${victim} killed after seq ${killedAfter}`);

      // Its clients: a new session on the survivor, where updates go on.
      const failover = await guard(pub, Promise.all(moved.map(async (c) => {
        const old = owner.get(c).sid;
        const first = await c.waitUpdate('raw', {
          pred: (e) => e.session && e.session !== old, timeoutMs: 30000, what: `an update on a new session (old ${old} on ${victim})`,
        });
        const info = await kit.waitSession(first.session);
        assert.equal(info.node, survivor, `${c.name}: new session on ${survivor}`);
        await reached(c, 'raw', seqOf(first) + AFTER_MOVE, first.session);
        await reached(c, 'distinct', seqOf(first) + AFTER_MOVE, first.session);
        return { client: c, session: first.session, ms: first.t - kill.t };
      })));
      await pub.stop();
      const last = pub.seq;
      assert.equal(pub.error, null, pub.describe());
      // Everyone gets the whole history, up to the last entry.
      await Promise.all(clients.flatMap((c) => ['raw', 'distinct'].map((id) => reached(c, id, last, c.sessionId()))));

      // The balancer spread the publishes over both nodes: each wrote to the
      // one feed. HAProxy logs each request with its server, once answered.
      const published = () => {
        const by = new Map();
        for (const line of kit.balancerLines()) {
          const m = /\] \S+ \S+\/(\S+) \S+ 200 .*"POST \/publish /.exec(line);
          if (m) by.set(m[1], (by.get(m[1]) || 0) + 1);
        }
        return by;
      };
      const byNode = await waitUntil(kit, () => {
        const by = published();
        return [...by.values()].reduce((a, b) => a + b, 0) >= last ? by : null;
      }, { timeoutMs: 5000, what: `HAProxy logging ${last} answered publishes`, state: () => JSON.stringify([...published()]) });
      t.diagnostic(`publishes answered by ${JSON.stringify(Object.fromEntries(byNode))}`);
      assert.ok(byNode.get(victim) > 0 && byNode.get(survivor) > 0, `publishes through both nodes: ${JSON.stringify([...byNode])}`);

      for (const c of clients) {
        assert.deepEqual(c.events.filter((e) => e.ev === 'lost' || e.ev === 'subscriptionError' || e.ev === 'serverError'), [], `${c.name}: no lost updates, no errors`);
      }

      // The clients of the survivor: one session, every entry once, in order.
      const history = { raw: null, distinct: null };
      for (const c of stayed) {
        const { sid } = owner.get(c);
        assert.deepEqual(c.sessions(), [sid], `${c.name} kept its session on ${survivor}`);
        const left = c.events.filter((e) => e.t >= kill.t && e.ev === 'status' && !e.status.startsWith('CONNECTED'));
        assert.deepEqual(left, [], `${c.name} never left CONNECTED`);
        assertRun(seqsOf(updatesOf(c, 'raw')), 1, last, `${c.name} RAW`);
        // The item was empty when it subscribed: no snapshot, then everything.
        assert.deepEqual(updatesOf(c, 'distinct', (e) => e.snapshot), [], `${c.name}: DISTINCT snapshot of an empty item`);
        assertRun(seqsOf(updatesOf(c, 'distinct')), 1, last, `${c.name} DISTINCT`);
        history.raw = history.raw || seqsOf(updatesOf(c, 'raw'));
        history.distinct = history.distinct || seqsOf(updatesOf(c, 'distinct'));
      }

      // The moved clients: the same history, before and after the move.
      const times = [];
      for (const { client: c, session, ms } of failover) {
        const old = owner.get(c).sid;
        assert.deepEqual(c.sessions(), [old, session], `${c.name}: its old session, then one on ${survivor}`);
        const subscribedAt = (id) => c.events.find((e) => e.ev === 'subscribed' && e.id === id && e.session === session);

        // RAW before the kill: from 1, no gap, and nothing after the kill.
        const before = seqsOf(updatesOf(c, 'raw', (e) => e.session === old));
        assert.ok(before.length >= BEFORE_KILL, `${c.name}: ${before.length} RAW updates before the kill`);
        assertRun(before, 1, before[before.length - 1], `${c.name} RAW on ${victim}`);
        assert.ok(before[before.length - 1] <= killedAfter, `${c.name}: RAW ${before[before.length - 1]} on ${victim} after the kill (at ${killedAfter})`);
        // RAW on the survivor: the broker's next entries to the end, what the
        // others got from there on; nothing it already had.
        const after = seqsOf(updatesOf(c, 'raw', (e) => e.session === session));
        const sub = subscribedAt('raw');
        assert.ok(sub, `${c.name}: RAW subscribed on ${session}`);
        const firstAfterSubscribed = pub.firstStartedAfter(sub.t);
        assert.ok(after[0] > before[before.length - 1], `${c.name}: RAW ${after[0]} on ${survivor} repeats what it had (up to ${before[before.length - 1]})`);
        assert.ok(after[0] <= firstAfterSubscribed,
          `${c.name}: RAW on ${survivor} starts at ${after[0]}, but ${firstAfterSubscribed} was published after its subscription was confirmed`);
        assertRun(after, after[0], last, `${c.name} RAW on ${survivor}`);
        assert.deepEqual(after, history.raw.filter((s) => s >= after[0]), `${c.name}: the others' RAW history from ${after[0]}`);

        // DISTINCT before the kill: from 1, no gap.
        const dBefore = seqsOf(updatesOf(c, 'distinct', (e) => e.session === old));
        assertRun(dBefore, 1, dBefore[dBefore.length - 1], `${c.name} DISTINCT on ${victim}`);
        // DISTINCT on the survivor: first the snapshot, the item's last
        // entries, then the entries after it, none missing.
        const onNew = updatesOf(c, 'distinct', (e) => e.session === session);
        const firstLive = onNew.findIndex((e) => !e.snapshot);
        const snapshot = seqsOf(onNew.slice(0, firstLive));
        const live = seqsOf(onNew.slice(firstLive));
        assert.deepEqual(onNew.slice(firstLive).filter((e) => e.snapshot), [], `${c.name}: snapshot updates after live ones`);
        assert.ok(snapshot.length > 0, `${c.name}: a DISTINCT snapshot on ${survivor}`);
        const end = snapshot[snapshot.length - 1];
        assertRun(snapshot, end - Math.min(SNAPSHOT_LENGTH, end) + 1, end, `${c.name}: DISTINCT snapshot on ${survivor}`);
        assert.deepEqual(snapshot, history.distinct.filter((s) => s > end - SNAPSHOT_LENGTH && s <= end), `${c.name}: the snapshot is the last entries of the others' history`);
        assertRun(live, end + 1, last, `${c.name}: DISTINCT after the snapshot on ${survivor}`);
        assert.ok(live[0] > dBefore[dBefore.length - 1], `${c.name}: DISTINCT ${live[0]} on ${survivor} repeats what it had`);
        const dSub = subscribedAt('distinct');
        assert.ok(dSub, `${c.name}: DISTINCT subscribed on ${session}`);
        assert.ok(end + 1 <= pub.firstStartedAfter(dSub.t),
          `${c.name}: DISTINCT snapshot ends at ${end}, but ${pub.firstStartedAfter(dSub.t)} was published after its subscription was confirmed`);

        times.push(ms);
        t.diagnostic(`${c.name}: fail-over ${ms} ms (kill -> first RAW update on ${session}); RAW ${compactRanges(before)} | ${compactRanges(after)} ` +
          `(subscribed ${sub.t - kill.t} ms after the kill, when ${pub.lastAnsweredBefore(sub.t)} was the last entry published); ` +
          `DISTINCT ${compactRanges(dBefore)} | snapshot ${compactRanges(snapshot)} | ${compactRanges([live[0], live[live.length - 1]])} ` +
          `(subscribed when ${pub.lastAnsweredBefore(dSub.t)} was the last entry)`);
      }
      const summary = `${kind}: ${last} entries, kill after ${killedAfter}, fail-over ms ${times.sort((a, b) => a - b).join(', ')}, ` +
        `publishes the balancer refused meanwhile: ${pub.retries.length}`;
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
    it(`${b.kind}: clients on both nodes see one history; a killed node's clients go on with it on the other`,
      { timeout: 45000 }, (t) => feedFailOver(t, b));
  }
});
