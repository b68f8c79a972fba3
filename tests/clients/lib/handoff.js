'use strict';
// What the session handoff tests share (test/cluster-handoff.test.js behind
// HAProxy, test/cluster-vrrp.test.js with keepalived moving addresses): the
// application's feed, the clients' subscriptions, reading what a client got,
// waiting for its moves, and the checks and figures of the outcome.
//
//   const clients = await startClients(kit, { network, count: 4, connected });
//   const owner = await ownersOf(kit, clients);      // client -> { sid, node, transport }
//   const feed = new Feed(); const pub = new Publisher(kit, { bodies: (seq) => feed.bodies(seq), ... });
//   await guard(pub, Promise.all(clients.map((c) => reached(c, BEFORE))));
//   ... the disruption: steps and moves (waitMove, waitTakenOver) ...
//   const end = await finish(kit, pub, clients, { network, waitFailures });
//   const fig = figures(kit, { clients, owner, moves, movedClients, last: end.last, origin });
//   const checks = new Checks(); checkClients(checks, { ... }); checks.done(name);
//
// See test/cluster-handoff.test.js for what is checked and why.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const { guard } = require('./publisher');
const { percentile } = require('./topology');
const { compactRanges, parseSeq, sequenceProblems, waitUntil } = require('./util');

const RAW_ITEMS = ['counter', 'counter2'];
const ROWS = 5; // book rows row1..row5
const SUBSCRIPTIONS = [
  { id: 'raw', mode: 'RAW', items: RAW_ITEMS, fields: ['seq'], dataAdapter: 'DEFAULT' },
  { id: 'distinct', mode: 'DISTINCT', items: ['news'], fields: ['seq'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
  { id: 'book', mode: 'COMMAND', items: ['book'], fields: ['key', 'command', 'qty'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
  { id: 'quote', mode: 'MERGE', items: ['quote'], fields: ['value'], dataAdapter: 'DEFAULT', snapshot: 'yes' },
];
const SUB_IDS = SUBSCRIPTIONS.map((s) => s.id);
// Ticks every client has before the disruption, and after the last client
// is back before the publishing stops.
const BEFORE = 50;
const AFTER = 50;
// The client gives up recovering after sessionRecoveryTimeout (15 s by
// default) and then makes a new session: either way it is back well within this.
const REATTACH_TIMEOUT_MS = 40000;
const STREAMING = /^CONNECTED:(WS|HTTP)-STREAMING$/;
// Handoff log lines that say a session was not (or not for good) taken over.
const REFUSED_HANDOFF = /not taken over|taken over and then lost|took this session over first/;

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
// Moves: a client losing its stream and streaming again.

// The first status not matching `connected` (streaming, or the forced
// transport) at index >= from, then the first one matching it after it:
// { lost, connected } (status events).
async function waitMove(c, from, what, connected = STREAMING) {
  const lost = await c.waitEvent((e) => e.ev === 'status' && !connected.test(e.status), {
    from, timeoutMs: 15000, what: `a status other than ${connected} after ${what}`,
  });
  const back = await c.waitStatus(connected, { from: lost.index + 1, timeoutMs: REATTACH_TIMEOUT_MS });
  return { lost, connected: back };
}

// Waits until a node other than `left` logged taking session sid over, after
// time t; resolves with that line, or rejects (a wait failure).
const waitTakenOver = (kit, sid, left, t) => waitUntil(kit, () => kit.handoffsOf(sid)
  .find((h) => h.node !== left && h.t >= t - 5 && h.message.startsWith('session taken over from')), {
  timeoutMs: 5000, what: `a node other than ${left} logging "session taken over" for ${sid}`,
  state: () => kit.handoffsOf(sid).map((h) => `${h.node}: ${h.message}`).join('; ') || 'no handoff line',
});

const ms = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { sorted: s, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : null };
};
const msText = (f) => `p50 ${f.p50} p99 ${f.p99} max ${f.max} ms`;

// SHOAL_HANDOFF_LOGS=<dir>: every log the kit kept (the nodes' last lines,
// the balancer's, each client's library log and events) written to
// <dir>/<case slug>/, for a look at a run afterwards.
function saveLogs(kit, dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of kit.nodes.keys()) fs.writeFileSync(path.join(dir, `${name}.log`), `${kit.node(name).server.log.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'balancer.log'), `${kit.balancerLines().join('\n')}\n`);
  for (const c of kit.clients) {
    fs.writeFileSync(path.join(dir, `${c.name}.log`), `${c.log.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, `${c.name}.events`), `${c.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }
}

// ---------------------------------------------------------------------------
// The run: clients, their first sessions, the end of the publishing.

// Starts `count` official clients (client1.., source address network.51..),
// each with SUBSCRIPTIONS in one session, and waits until each is connected
// (`connected`), subscribed, and has the (empty) book snapshot.
async function startClients(kit, { network, count, connected = STREAMING, transport = null }) {
  const clients = [];
  for (let i = 1; i <= count; i += 1) {
    clients.push(await kit.spawnClient({ source: `${network}.${50 + i}`, name: `client${i}`, adapterSet: 'FEED', forcedTransport: transport }));
  }
  for (const c of clients) {
    for (const sub of SUBSCRIPTIONS) c.subscribe(sub);
    c.connect();
  }
  await Promise.all(clients.map(async (c) => {
    await c.waitStatus(connected, { timeoutMs: 20000 });
    for (const sub of SUB_IDS) await c.waitSubscribed(sub);
    await c.waitEvent((e) => e.ev === 'endOfSnapshot' && e.id === 'book', { what: 'the (empty) book snapshot' });
  }));
  return clients;
}

// client -> { sid, node, transport }: each client's first session, where
// it was created, the status it streams in.
async function ownersOf(kit, clients) {
  const owner = new Map();
  for (const c of clients) {
    const info = await kit.waitSession(c.sessionId());
    assert.equal(info.adapterSet, 'FEED', `${c.name}: adapter set`);
    owner.set(c, { sid: c.sessionId(), node: info.node, transport: c.status() });
  }
  return owner;
}

// Resolves once client c has the ticks up to seq of each item.
const reached = (c, seq, timeoutMs = 20000) => Promise.all([
  ...RAW_ITEMS.map((item) => c.waitUpdate('raw', { pred: (e) => e.item === item && seqOf(e) >= seq, timeoutMs, what: `RAW ${item} seq ${seq}` })),
  c.waitUpdate('distinct', { pred: (e) => !e.snapshot && seqOf(e) >= seq, timeoutMs, what: `DISTINCT news seq ${seq}` }),
  c.waitUpdate('quote', { pred: (e) => Number(e.values.value) >= seq, timeoutMs, what: `MERGE quote value ${seq}` }),
]);

// moveAll(movers, step, from): waits for each mover to lose its stream and
// stream again (from its event index from.get(c)), and for a node other
// than step.node to log taking its session over; pushes each move
// { client, step, left, lost, connected, takenOver } to `moves`. Resolves
// with the first lines of the failed waits.
const mover = (kit, pub, owner, moves, connected) => (movers, step, from) => waitAll(pub, movers.map(async (c) => {
  const m = await waitMove(c, from.get(c), `${step.what} of ${step.node}`, connected);
  const move = { client: c, step, left: step.node, ...m, takenOver: null };
  moves.push(move);
  move.takenOver = await waitTakenOver(kit, owner.get(c).sid, step.node, step.t);
}));

// After the disruption: AFTER ticks more for every client, the publishing
// stopped, every client at the last tick, a fresh client's book and quote,
// every client's book as the fresh client has it. Failed waits go to
// waitFailures. Resolves with { last, fresh, freshTable }.
async function finish(kit, pub, clients, { network, waitFailures }) {
  const base = pub.seq;
  waitFailures.push(...await waitAll(pub, clients.map((c) => reached(c, base + AFTER, 30000))));
  await pub.stop();
  const last = pub.seq;
  assert.equal(pub.error, null, pub.describe());
  waitFailures.push(...await waitAll(pub, clients.map((c) => reached(c, last, 15000))));
  const fresh = await kit.spawnClient({ source: `${network}.69`, name: 'fresh', adapterSet: 'FEED' });
  for (const sub of SUBSCRIPTIONS.filter((x) => x.id === 'book' || x.id === 'quote')) fresh.subscribe(sub);
  fresh.connect();
  await fresh.waitStatus(STREAMING, { timeoutMs: 20000 });
  await fresh.waitEvent((e) => e.ev === 'endOfSnapshot' && e.id === 'book', { what: 'the book snapshot', timeoutMs: 15000 });
  await fresh.waitUpdate('quote', { timeoutMs: 15000 });
  const freshTable = bookTable(fresh);
  waitFailures.push(...await waitAll(pub, clients.map((c) => waitUntil(c, () => isDeepStrictEqual(bookTable(c), freshTable), {
    timeoutMs: 10000, what: `${c.name}: the book as the fresh client has it`, state: () => JSON.stringify(bookTable(c)),
  }))));
  return { last, fresh, freshTable };
}

// ---------------------------------------------------------------------------
// Figures, diagnostics and checks of the outcome.

// Re-attach times (origin(move) to streaming again), first-update times
// (origin to the first RAW entry after the loss), moved clients that kept
// their first session, sessions beyond the first, entries lost and repeated
// per item over every client.
function figures(kit, { clients, owner, moves, movedClients, last, origin }) {
  const reattach = ms(moves.map((m) => m.connected.t - origin(m)));
  const firstUpdate = ms(moves.map((m) => {
    const u = m.client.events.find((e) => e.index > m.lost.index && e.ev === 'update' && e.id === 'raw');
    return u ? u.t - origin(m) : null;
  }).filter((x) => x !== null));
  const kept = movedClients.filter((c) => isDeepStrictEqual(c.sessions(), [owner.get(c).sid])).length;
  const newSessions = clients.reduce((n, c) => n + c.sessions().length - 1, 0);
  const perItem = {}; // what -> { lost, dup } over every client
  for (const c of clients) {
    for (const [what, seqs] of runsOf(c)) {
      const { lost, dup } = lostAndDup(seqs, last);
      perItem[what] = perItem[what] || { lost: 0, dup: 0 };
      perItem[what].lost += lost;
      perItem[what].dup += dup;
    }
  }
  const lostTotal = Object.values(perItem).reduce((n, x) => n + x.lost, 0);
  const dupTotal = Object.values(perItem).reduce((n, x) => n + x.dup, 0);
  return { reattach, firstUpdate, kept, newSessions, perItem, lostTotal, dupTotal };
}

// The result fields both tests write (lib/results.js) from the figures.
function resultFields(kit, { clients, owner, moves, movedClients, fig }) {
  const adopters = {};
  for (const m of moves) if (m.takenOver) adopters[m.takenOver.node] = (adopters[m.takenOver.node] || 0) + 1;
  return {
    clients: clients.length,
    moved: movedClients.length,
    moves: moves.length,
    adopters,
    kept_sessions: fig.kept,
    new_sessions: fig.newSessions,
    bind_session_cuts: movedClients.reduce((n, c) => n + kit.bindCutsOf(owner.get(c).sid).length, 0),
    reattach_ms: fig.reattach.sorted,
    reattach_p50_ms: fig.reattach.p50,
    reattach_p99_ms: fig.reattach.p99,
    reattach_max_ms: fig.reattach.max,
    first_update_ms: fig.firstUpdate.sorted,
    first_update_p50_ms: fig.firstUpdate.p50,
    first_update_p99_ms: fig.firstUpdate.p99,
    first_update_max_ms: fig.firstUpdate.max,
    lost_dup: fig.perItem,
  };
}

// Diagnostics: per moved client its sessions, statuses, handoff lines and
// runs; for every client, the entries around the first place a run went
// wrong. Times from t0.
function diagnose(t, kit, { clients, owner, moves, movedClients, marks, t0 }) {
  for (const c of movedClients) {
    const { sid } = owner.get(c);
    const statuses = c.events.filter((e) => e.index >= marks.get(c) && e.ev === 'status').map((e) => `${e.status}@+${e.t - t0}`);
    const where = kit.handoffsOf(sid).map((h) => `${h.node} ${h.message.replace(/^session /, '')}@+${h.t - t0}`);
    const cuts = kit.bindCutsOf(sid).map((x) => `${x.node}@+${x.t - t0}`);
    t.diagnostic(`${c.name}: sessions ${c.sessions().join(' ')}; statuses: ${statuses.join(' -> ')}; ` +
      `handoff lines: ${where.join(', ') || 'none'}; bind_session cut: ${cuts.join(', ') || 'none'}; ${runsOf(c).map(([what, seqs]) => `${what} ${compactRanges(seqs, 12)}`).join('; ')}`);
  }
  for (const c of clients) {
    for (const [what, sub, item] of [...RAW_ITEMS.map((i) => [`RAW ${i}`, 'raw', i]), ['DISTINCT news', 'distinct', null]]) {
      const ups = updatesOf(c, sub, item).filter((e) => !e.snapshot || sub !== 'distinct');
      const seqs = ups.map(seqOf);
      const bad = seqs.findIndex((x, i) => i > 0 && x !== seqs[i - 1] + 1);
      if (bad < 0) continue;
      const back = moves.filter((m) => m.client === c).map((m) => m.connected.index);
      const around = ups.slice(Math.max(0, bad - 6), bad + 4).map((e) => `${seqOf(e)}@+${e.t - t0}${back.some((i) => e.index > i) ? '' : ' (before re-attach)'}`);
      t.diagnostic(`${c.name}: ${what} around #${bad}: ${around.join(', ')}; re-attached at +${moves.filter((m) => m.client === c).map((m) => m.connected.t - t0).join(', +') || '-'}`);
    }
  }
}

// The checks of every client (see test/cluster-handoff.test.js), and of the
// fresh client's book and quote against what was published. steps: { what,
// node, t, movers }; marks: client -> event index at the first step;
// connected: the status a client streams in; transport: a forced one.
function checkClients(checks, kit, { clients, owner, movedClients, steps, moves, marks, connected, transport, end, feed }) {
  const { last, fresh, freshTable } = end;
  checks.check(() => assert.deepEqual(freshTable, feed.table(), 'the fresh client\'s book is the rows published'));
  checks.check(() => assert.equal(lastQuote(fresh), String(last), 'the fresh client\'s quote is the last published'));
  for (const c of clients) {
    const { sid } = owner.get(c);
    const moved = movedClients.includes(c);
    const role = moved ? `${c.name} (moved: ${steps.filter((st) => st.movers.includes(c)).map((st) => `${st.what} of ${st.node}`).join(', ')})` : `${c.name} (on ${owner.get(c).node})`;
    checks.check(() => assert.deepEqual(c.sessions(), [sid], `${role}: session ids ${c.sessions().join(' ')}, want only ${sid}`));
    checks.check(() => assert.equal(c.sessionId(), sid, `${role}: getSessionId() at the end`));
    for (const sub of SUB_IDS) {
      checks.check(() => assert.equal(eventsOf(c, 'subscribed', sub).length, 1, `${role}: onSubscription of ${sub} ${eventsOf(c, 'subscribed', sub).length} times`));
      checks.check(() => assert.equal(eventsOf(c, 'unsubscribed', sub).length, 0, `${role}: onUnsubscription of ${sub}`));
    }
    const troubles = c.events.filter((e) => ['lost', 'subscriptionError', 'serverError'].includes(e.ev));
    checks.check(() => assert.deepEqual(troubles, [], `${role}: onItemLostUpdates, onSubscriptionError or onServerError: ${JSON.stringify(troubles.slice(0, 3))}`));
    const statuses = c.events.filter((e) => e.index >= marks.get(c) && e.ev === 'status').map((e) => e.status);
    if (moved) {
      checks.check(() => assert.ok(statuses.includes('DISCONNECTED:TRYING-RECOVERY'), `${role}: no DISCONNECTED:TRYING-RECOVERY (${statuses.join(' -> ')})`));
      checks.check(() => assert.ok(!statuses.includes('DISCONNECTED:WILL-RETRY') && !statuses.includes('DISCONNECTED'),
        `${role}: gave its session up (${statuses.join(' -> ')})`));
      checks.check(() => assert.match(c.status() || '', connected, `${role}: status ${c.status()} at the end`));
      for (const st of steps.filter((x) => x.movers.includes(c))) {
        const m = moves.find((x) => x.client === c && x.step === st);
        checks.check(() => assert.ok(m && m.takenOver, `${role}: after the ${st.what} of ${st.node}, no other node logged "session taken over" for ${sid}`));
        if (st.what === 'drain') {
          const cut = kit.handoffsOf(sid).some((h) => h.node === st.node && h.t >= st.t - 5 && h.message.startsWith('session handed over'));
          checks.check(() => assert.ok(cut, `${role}: ${st.node} did not log "session handed over" for ${sid}`));
        }
      }
    } else {
      checks.check(() => assert.deepEqual(statuses, [], `${role}: status changes after the ${steps[0].what} of ${steps[0].node}`));
      if (transport) checks.check(() => assert.match(c.status() || '', connected, `${role}: status ${c.status()} at the end`));
      const lines = kit.handoffsOf(sid).map((h) => `${h.node}: ${h.message}`);
      checks.check(() => assert.deepEqual(lines, [], `${role}: handoff lines about ${sid}, which never left ${owner.get(c).node}`));
    }
    const refused = kit.handoffsOf(sid).filter((h) => REFUSED_HANDOFF.test(h.message));
    checks.check(() => assert.deepEqual(refused.map((h) => `${h.node}: ${h.message}`), [], `${role}: handoff refused`));
    const info = kit.sessionInfo(sid);
    checks.check(() => assert.ok(info && !info.closed, `${role}: ${sid} closed: ${JSON.stringify(info && info.closed)}`));
    for (const [what, seqs] of runsOf(c)) {
      checks.check(() => assert.deepEqual(sequenceProblems(seqs), [], `${role}: ${what} ${compactRanges(seqs, 12)}: ${sequenceProblems(seqs, { maxReported: 3 }).join('; ')}`));
      checks.check(() => assert.ok(seqs[0] === 1 && seqs[seqs.length - 1] === last, `${role}: ${what} ${compactRanges(seqs, 12)}, want 1..${last}`));
    }
    checks.check(() => assert.deepEqual(bookTable(c), freshTable, `${role}: book ${JSON.stringify(bookTable(c))}, the fresh client's ${JSON.stringify(freshTable)}`));
    checks.check(() => assert.equal(lastQuote(c), String(last), `${role}: quote ${lastQuote(c)}, last published ${last}`));
  }
}

module.exports = {
  RAW_ITEMS, SUBSCRIPTIONS, SUB_IDS, BEFORE, AFTER, REATTACH_TIMEOUT_MS, STREAMING, REFUSED_HANDOFF,
  Feed, Checks, seqOf, bookTable, runsOf, lastQuote, waitAll, waitMove, waitTakenOver, ms, msText, saveLogs,
  startClients, ownersOf, reached, mover, finish, figures, resultFields, diagnose, checkClients,
};
