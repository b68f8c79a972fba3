'use strict';
// Zero-loss fail-over by session handoff (issue 15), through the official
// Node client, end to end: a node with a broker feed journals each of its
// sessions in the broker; when it dies (kill -9), its clients try to recover
// their sessions through the balancer, a surviving node adopts them, and the
// clients go on with the same session, the same subscriptions and every
// entry once.
//
// Kits of `shoal cluster-plan --feed redis|nats`, two nodes behind HAProxy:
// 1.A.2 (cookie stickiness) and 1.B.1 (a control link per node), each with
// Redis, then NATS. Four official clients, each a client machine of its own
// (lib/cluster.js), spread over both nodes; each has ONE session with:
//   - RAW `counter` and `counter2` (one subscription; published interleaved),
//   - DISTINCT `news` with snapshot,
//   - COMMAND `book` with snapshot (rows row1..row5: ADD, then UPDATE,
//     DELETE and ADD again over time),
//   - MERGE `quote` with snapshot.
// An application (lib/publisher.js) publishes one entry of each item per tick
// (`seq`, `qty`, `value` = the tick) through the balancer. Mid-stream the node
// of client1 is killed with SIGKILL between two ticks; publishing goes on
// until every client has AFTER_MOVE more ticks, then stops.
//
// Checked, for each client of the killed node (moved):
//   - the same session id from start to end (no second session), back to
//     CONNECTED:WS-STREAMING (or HTTP-STREAMING) through
//     DISCONNECTED:TRYING-RECOVERY, never DISCONNECTED:WILL-RETRY (the
//     client's way to a new session);
//   - one onSubscription per Subscription object, no onUnsubscription, no
//     onSubscriptionError, onItemLostUpdates or onServerError;
//   - RAW (each item) and DISTINCT: seq 1..last, no gap, no duplicate;
//   - COMMAND: the table it keeps (ADD/UPDATE set a row, DELETE removes it,
//     onClearSnapshot clears them all) ends equal to a fresh client's;
//   - MERGE: the value ends equal to the last published one.
// For each client of the survivor: no status change after the kill, the
// same session, and the same as above. The re-attach times (kill -> CONNECTED
// again, kill -> first entry published after the kill) are printed, not
// checked, as the line
//   handoff <kit> <broker>: reattach p50 A p99 B max C ms, kept K/N sessions, lost L, dup D; first update p50 .. p99 .. max .. ms
// for scripts to collect.
//
// The handoff checks are gathered and reported together, so that one run
// shows every way a moved client differs from what is expected.
// Networks 127.0.86.x to 127.0.89.x, which no other test uses.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { isDeepStrictEqual } = require('node:util');
const { withKit } = require('../lib/cluster');
const { Publisher, guard } = require('../lib/publisher');
const { makeKit, percentile } = require('../lib/topology');
const { compactRanges, parseSeq, sequenceProblems, waitUntil } = require('../lib/util');

const SCENARIOS = [
  { id: '1.A.2', kind: 'redis', network: '127.0.86' },
  { id: '1.A.2', kind: 'nats', network: '127.0.87' },
  { id: '1.B.1', kind: 'redis', network: '127.0.88' },
  { id: '1.B.1', kind: 'nats', network: '127.0.89' },
];

const RAW_ITEMS = ['counter', 'counter2'];
const ROWS = 5; // book rows row1..row5
const SUBSCRIPTIONS = [
  { id: 'raw', mode: 'RAW', items: RAW_ITEMS, fields: ['seq'], dataAdapter: 'DEFAULT' },
  { id: 'distinct', mode: 'DISTINCT', items: ['news'], fields: ['seq'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
  { id: 'book', mode: 'COMMAND', items: ['book'], fields: ['key', 'command', 'qty'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
  { id: 'quote', mode: 'MERGE', items: ['quote'], fields: ['value'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
];
const SUB_IDS = SUBSCRIPTIONS.map((s) => s.id);
const CLIENTS = 4;
// Ticks every client has before the kill, and after its re-attach before the
// publishing stops.
const BEFORE_KILL = 100;
const AFTER_MOVE = 100;
// The client gives up recovering after sessionRecoveryTimeout (15 s by
// default) and then makes a new session: either way it is back well within this.
const REATTACH_TIMEOUT_MS = 40000;
const STREAMING = /^CONNECTED:(WS|HTTP)-STREAMING$/;

// ---------------------------------------------------------------------------
// What the application publishes: per tick seq, one entry of each item, the
// RAW counters interleaved; the book's rows follow a fixed plan.

class Feed {
  constructor() {
    this.rows = new Map(); // the book as published: key -> qty
  }

  // The book's operation at tick seq: row1..row5 added at ticks 1..5, then
  // each row in turn: added again if deleted, deleted every fourth tick,
  // updated otherwise.
  bookOp(seq) {
    const key = `row${((seq - 1) % ROWS) + 1}`;
    if (!this.rows.has(key)) {
      this.rows.set(key, String(seq));
      return { item: 'book', command: 'ADD', key, fields: { qty: String(seq) } };
    }
    if (seq % 4 === 0) {
      this.rows.delete(key);
      return { item: 'book', command: 'DELETE', key, fields: {} };
    }
    this.rows.set(key, String(seq));
    return { item: 'book', command: 'UPDATE', key, fields: { qty: String(seq) } };
  }

  bodies(seq) {
    const s = String(seq);
    return [
      { item: 'counter', fields: { seq: s } },
      { item: 'counter2', fields: { seq: s } },
      { item: 'news', fields: { seq: s } },
      this.bookOp(seq),
      { item: 'quote', fields: { value: s } },
    ];
  }

  table() {
    return Object.fromEntries([...this.rows].sort(([a], [b]) => a.localeCompare(b)));
  }
}

// ---------------------------------------------------------------------------
// What a client got (lib/cluster.js ClusterClient events)

const seqOf = (e) => parseSeq(e.values.seq);
const updatesOf = (c, id, item = null) => c.events.filter((e) => e.ev === 'update' && e.id === id && (item === null || e.item === item));
const seqsOf = (c, id, item = null) => updatesOf(c, id, item).map(seqOf);
const eventsOf = (c, ev, id = null) => c.events.filter((e) => e.ev === ev && (id === null || e.id === id));
const lastQuote = (c) => {
  const u = updatesOf(c, 'quote').pop();
  return u ? u.values.value : undefined;
};

// The COMMAND table a client keeps: ADD and UPDATE set the row of their key,
// DELETE removes it, onClearSnapshot removes every row.
function bookTable(c) {
  const rows = new Map();
  for (const e of c.events) {
    if (e.id !== 'book') continue;
    if (e.ev === 'clearSnapshot') rows.clear();
    else if (e.ev === 'update' && e.values.command === 'DELETE') rows.delete(e.values.key);
    else if (e.ev === 'update') rows.set(e.values.key, e.values.qty);
  }
  return Object.fromEntries([...rows].sort(([a], [b]) => a.localeCompare(b)));
}

// Entries of 1..last a client never got, and entries it got more than once.
function lostAndDup(seqs, last) {
  const seen = new Set(seqs);
  let lost = 0;
  for (let s = 1; s <= last; s += 1) if (!seen.has(s)) lost += 1;
  return { lost, dup: seqs.length - seen.size };
}

// The RAW and DISTINCT runs of a client: [what, seqs].
const runsOf = (c) => [
  ...RAW_ITEMS.map((item) => [`RAW ${item}`, seqsOf(c, 'raw', item)]),
  ['DISTINCT news', seqsOf(c, 'distinct')],
];

// The checks of the outcome, gathered: each failed assertion is kept and
// they are all reported at the end, in one AssertionError.
class Checks {
  constructor() {
    this.failures = [];
    this.count = 0;
  }

  check(fn) {
    this.count += 1;
    try {
      fn();
    } catch (err) {
      if (!(err instanceof assert.AssertionError)) throw err;
      this.failures.push(err.message.split('\n')[0]);
    }
  }

  done(what) {
    if (this.failures.length) {
      assert.fail(`${what}: ${this.failures.length} of ${this.count} checks failed:\n  - ${this.failures.join('\n  - ')}`);
    }
  }
}

// Waits for every promise (each bounded by its own timeout), failing at once
// if the publisher fails; resolves with the first lines of the failed waits'
// errors (the checks after them tell what is wrong).
async function waitAll(pub, promises) {
  const results = await guard(pub, Promise.allSettled(promises));
  return results.filter((r) => r.status === 'rejected').map((r) => String(r.reason && r.reason.message).split('\n')[0]);
}

// ---------------------------------------------------------------------------

async function handoff(t, { id, kind, network }) {
  const dir = makeKit({ id, network, feed: kind, nodes: 2, balancer: 'haproxy' });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await withKit(t, dir, {}, async (kit) => {
    assert.equal(kit.feed.kind, kind, 'kit.json names the feed');
    const clients = [];
    for (let i = 1; i <= CLIENTS; i += 1) {
      clients.push(await kit.spawnClient({ source: `${network}.${50 + i}`, name: `client${i}`, adapterSet: 'FEED' }));
    }
    for (const c of clients) {
      for (const s of SUBSCRIPTIONS) c.subscribe(s);
      c.connect();
    }
    await Promise.all(clients.map(async (c) => {
      await c.waitStatus(STREAMING, { timeoutMs: 20000 });
      for (const s of SUB_IDS) await c.waitSubscribed(s);
      await c.waitEvent((e) => e.ev === 'endOfSnapshot' && e.id === 'book', { what: 'the (empty) book snapshot' });
    }));
    const owner = new Map(); // client -> { sid, node, transport }
    for (const c of clients) {
      const info = await kit.waitSession(c.sessionId());
      assert.equal(info.adapterSet, 'FEED', `${c.name}: adapter set`);
      owner.set(c, { sid: c.sessionId(), node: info.node, transport: c.status() });
    }
    t.diagnostic(`sessions: ${clients.map((c) => `${c.name}@${owner.get(c).node} (${owner.get(c).sid}, ${owner.get(c).transport})`).join(' ')}`);
    const victim = owner.get(clients[0]).node;
    const moved = clients.filter((c) => owner.get(c).node === victim);
    const stayed = clients.filter((c) => owner.get(c).node !== victim);
    assert.ok(stayed.length > 0, `clients on both nodes (all on ${victim})`);
    const survivor = owner.get(stayed[0]).node;

    const feed = new Feed();
    const pub = new Publisher(kit, { source: `${network}.70`, bodies: (seq) => feed.bodies(seq) });
    pub.start();
    try {
      // Mid-stream: every client has the first BEFORE_KILL ticks of each item.
      const reached = (c, seq, timeoutMs = 20000) => Promise.all([
        ...RAW_ITEMS.map((item) => c.waitUpdate('raw', { pred: (e) => e.item === item && seqOf(e) >= seq, timeoutMs, what: `RAW ${item} seq ${seq}` })),
        c.waitUpdate('distinct', { pred: (e) => !e.snapshot && seqOf(e) >= seq, timeoutMs, what: `DISTINCT news seq ${seq}` }),
        c.waitUpdate('quote', { pred: (e) => Number(e.values.value) >= seq, timeoutMs, what: `MERGE quote value ${seq}` }),
      ]);
      await guard(pub, Promise.all(clients.map((c) => reached(c, BEFORE_KILL))));

      // kill -9 between two ticks: no publish is in flight to the dead node.
      let killedAfter = null;
      const marks = new Map();
      const kill = await guard(pub, pub.between(async (seq) => {
        killedAfter = seq;
        for (const c of clients) marks.set(c, c.mark());
        return kit.kill(victim);
      }));
      t.diagnostic(`${victim} killed after tick ${killedAfter}; moved: ${moved.map((c) => c.name).join(' ')}; on ${survivor}: ${stayed.map((c) => c.name).join(' ')}`);

      // The moved clients lose their stream, then stream again.
      const back = new Map(); // client -> { lost, connected } status events
      const waitFailures = await waitAll(pub, moved.map(async (c) => {
        const lost = await c.waitEvent((e) => e.ev === 'status' && !STREAMING.test(e.status), {
          from: marks.get(c), timeoutMs: 15000, what: `a status out of streaming after ${victim} was killed`,
        });
        const connected = await c.waitStatus(STREAMING, { from: lost.index + 1, timeoutMs: REATTACH_TIMEOUT_MS });
        back.set(c, { lost, connected });
      }));
      // Everyone goes on: AFTER_MOVE ticks more than the kill.
      waitFailures.push(...await waitAll(pub, clients.map((c) => reached(c, killedAfter + AFTER_MOVE, 30000))));
      await pub.stop();
      const last = pub.seq;
      assert.equal(pub.error, null, pub.describe());

      // The end: every client has the last tick of each item, and a fresh
      // client tells the book's current rows.
      waitFailures.push(...await waitAll(pub, clients.map((c) => reached(c, last, 15000))));
      const fresh = await kit.spawnClient({ source: `${network}.69`, name: 'fresh', adapterSet: 'FEED' });
      for (const s of SUBSCRIPTIONS.filter((x) => x.id === 'book' || x.id === 'quote')) fresh.subscribe(s);
      fresh.connect();
      await fresh.waitStatus(STREAMING, { timeoutMs: 20000 });
      await fresh.waitEvent((e) => e.ev === 'endOfSnapshot' && e.id === 'book', { what: 'the book snapshot', timeoutMs: 15000 });
      await fresh.waitUpdate('quote', { timeoutMs: 15000 });
      const freshTable = bookTable(fresh);
      waitFailures.push(...await waitAll(pub, clients.map((c) => waitUntil(c, () => isDeepStrictEqual(bookTable(c), freshTable), {
        timeoutMs: 10000, what: `${c.name}: the book as the fresh client has it`, state: () => JSON.stringify(bookTable(c)),
      }))));
      for (const w of waitFailures) t.diagnostic(`wait: ${w}`);

      // Figures: re-attach times, sessions kept, entries lost and repeated.
      const reattach = [];
      const firstUpdate = [];
      let kept = 0;
      let lostTotal = 0;
      let dupTotal = 0;
      for (const c of moved) {
        const { sid } = owner.get(c);
        if (isDeepStrictEqual(c.sessions(), [sid])) kept += 1;
        const b = back.get(c);
        if (b) reattach.push(b.connected.t - kill.t);
        const after = c.events.find((e) => e.index >= marks.get(c) && e.ev === 'update' && e.id === 'raw' && seqOf(e) > killedAfter);
        if (after) firstUpdate.push(after.t - kill.t);
        for (const [, seqs] of runsOf(c)) {
          const { lost, dup } = lostAndDup(seqs, last);
          lostTotal += lost;
          dupTotal += dup;
        }
        const statuses = c.events.filter((e) => e.index >= marks.get(c) && e.ev === 'status').map((e) => `${e.status}@+${e.t - kill.t}`);
        const onSurvivor = kit.requestsOf(sid).filter((r) => r.node !== victim && r.t >= kill.t).map((r) => r.request);
        t.diagnostic(`${c.name}: sessions ${c.sessions().join(' ')}; after the kill: ${statuses.join(' -> ')}; ` +
          `requests of ${sid} on ${survivor}: ${onSurvivor.join(' ') || 'none'}; ` +
          `${runsOf(c).map(([what, seqs]) => `${what} ${compactRanges(seqs, 12)}`).join('; ')}`);
      }
      const ms = (xs) => {
        const s = [...xs].sort((a, b) => a - b);
        return `p50 ${percentile(s, 50)} p99 ${percentile(s, 99)} max ${s.length ? s[s.length - 1] : null} ms`;
      };
      const line = `handoff ${id} ${kind}: reattach ${ms(reattach)}, kept ${kept}/${moved.length} sessions, ` +
        `lost ${lostTotal}, dup ${dupTotal}; first update ${ms(firstUpdate)}`;
      t.diagnostic(line);
      console.log(line);
      t.diagnostic(`${last} ticks (${pub.published} publishes, ${pub.retries.length} refused and tried again); book ${JSON.stringify(freshTable)}`);

      // The checks.
      const checks = new Checks();
      checks.check(() => assert.deepEqual(freshTable, feed.table(), 'the fresh client\'s book is the rows published'));
      checks.check(() => assert.equal(lastQuote(fresh), String(last), 'the fresh client\'s quote is the last published'));
      for (const c of clients) {
        const { sid } = owner.get(c);
        const role = moved.includes(c) ? `${c.name} (moved from ${victim})` : `${c.name} (on ${survivor})`;
        checks.check(() => assert.deepEqual(c.sessions(), [sid], `${role}: session ids ${c.sessions().join(' ')}, want only ${sid}`));
        checks.check(() => assert.equal(c.sessionId(), sid, `${role}: getSessionId() at the end`));
        for (const s of SUB_IDS) {
          checks.check(() => assert.equal(eventsOf(c, 'subscribed', s).length, 1, `${role}: onSubscription of ${s} ${eventsOf(c, 'subscribed', s).length} times`));
          checks.check(() => assert.equal(eventsOf(c, 'unsubscribed', s).length, 0, `${role}: onUnsubscription of ${s}`));
        }
        const troubles = c.events.filter((e) => ['lost', 'subscriptionError', 'serverError'].includes(e.ev));
        checks.check(() => assert.deepEqual(troubles, [], `${role}: onItemLostUpdates, onSubscriptionError or onServerError: ${JSON.stringify(troubles.slice(0, 3))}`));
        const statuses = c.events.filter((e) => e.index >= marks.get(c) && e.ev === 'status').map((e) => e.status);
        if (moved.includes(c)) {
          checks.check(() => assert.ok(statuses.includes('DISCONNECTED:TRYING-RECOVERY'), `${role}: no DISCONNECTED:TRYING-RECOVERY after the kill (${statuses.join(' -> ')})`));
          checks.check(() => assert.ok(!statuses.includes('DISCONNECTED:WILL-RETRY') && !statuses.includes('DISCONNECTED'),
            `${role}: gave its session up after the kill (${statuses.join(' -> ')})`));
          checks.check(() => assert.match(c.status() || '', STREAMING, `${role}: status ${c.status()} at the end`));
        } else {
          checks.check(() => assert.deepEqual(statuses, [], `${role}: status changes after the kill`));
        }
        for (const [what, seqs] of runsOf(c)) {
          checks.check(() => assert.deepEqual(sequenceProblems(seqs), [], `${role}: ${what} ${compactRanges(seqs, 12)}: ${sequenceProblems(seqs, { maxReported: 3 }).join('; ')}`));
          checks.check(() => assert.ok(seqs[0] === 1 && seqs[seqs.length - 1] === last, `${role}: ${what} ${compactRanges(seqs, 12)}, want 1..${last}`));
        }
        checks.check(() => assert.deepEqual(bookTable(c), freshTable, `${role}: book ${JSON.stringify(bookTable(c))}, the fresh client's ${JSON.stringify(freshTable)}`));
        checks.check(() => assert.equal(lastQuote(c), String(last), `${role}: quote ${lastQuote(c)}, last published ${last}`));
      }
      checks.done(`handoff ${id} ${kind}`);
    } catch (err) {
      t.diagnostic(pub.describe());
      throw err;
    } finally {
      await pub.stop().catch(() => {});
    }
  });
}

describe('session handoff: a killed node\'s clients keep their sessions on the survivor (kits made with --feed)', () => {
  for (const s of SCENARIOS) {
    it(`${s.id} ${s.kind}: moved clients keep session, subscriptions and every entry; the survivor's clients see nothing`,
      { timeout: 150000 }, (t) => handoff(t, s));
  }
});
