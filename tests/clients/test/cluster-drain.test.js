'use strict';
// Graceful drain and rolling restart behind real HAProxy: on SIGTERM a node's
// health check turns 503 (the balancer takes it out), then its sessions are
// ended one by one with END 48 and the official clients open new sessions on
// the other node by themselves, subscriptions included; the node exits.
// Results (times, silences) go to target/cluster-results/ for the docs.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { withKit } = require('../lib/cluster');
const { writeResult } = require('../lib/results');
const { makeKit, connect } = require('../lib/topology');
const { parseSeq, sequenceProblems, waitUntil } = require('../lib/util');

const GRACE_S = 2;
const WINDOW_S = 2;
// Real drains: the nodes keep these settings (no fast stop).
const KIT_OPTS = { nodeArgs: ['--drain-grace', String(GRACE_S), '--drain-window', String(WINDOW_S)], fastStop: false };
const COUNTER = { id: 'counter', mode: 'RAW', items: ['rate-10'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' };

// Per session of a client: counter seq values must go up by exactly one
// (nothing lost or repeated inside a session, recoveries included).
function seqProblems(client) {
  const bySession = new Map();
  for (const e of client.events) {
    if (e.ev !== 'update' || e.id !== 'counter') continue;
    if (!bySession.has(e.session)) bySession.set(e.session, []);
    bySession.get(e.session).push(parseSeq(e.values.seq));
  }
  return [...bySession].flatMap(([sid, seqs]) => sequenceProblems(seqs).map((p) => `session ${sid}: ${p}`));
}

// The longest time without a counter update, between two instants.
function longestSilence(client, from, to) {
  const ts = client.events.filter((e) => e.ev === 'update' && e.id === 'counter' && e.t >= from && e.t <= to).map((e) => e.t);
  let worst = 0;
  let prev = from;
  for (const t of [...ts, to]) {
    worst = Math.max(worst, t - prev);
    prev = t;
  }
  return worst;
}

async function startClients(kit, network, n) {
  const clients = [];
  for (let i = 0; i < n; i += 1) {
    clients.push(await kit.spawnClient({ source: `${network}.${51 + i}`, name: `client${i + 1}` }));
  }
  await Promise.all(clients.map(async (c) => {
    c.subscribe(COUNTER);
    await connect(c);
    await c.waitUpdate('counter', { timeoutMs: 15000 });
  }));
  return clients;
}

const CASES = [
  { id: '1.A.2', network: '127.0.80' },
  { id: '2.A.1', network: '127.0.81' },
  { id: '1.B.1', network: '127.0.82' },
];

describe('graceful drain on SIGTERM', () => {
  for (const c of CASES) {
    it(`${c.id}: the drained node's clients move to the other node, the rest see nothing`, { timeout: 120000 }, async (t) => {
      const dir = makeKit(c);
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      await withKit(t, dir, KIT_OPTS, async (kit) => {
        const clients = await startClients(kit, c.network, 4);
        const owner = new Map();
        for (const cl of clients) owner.set(cl, { sid: cl.sessionId(), node: (await kit.waitSession(cl.sessionId())).node });
        const victim = owner.get(clients[0]).node;
        const survivor = victim === 'node1' ? 'node2' : 'node1';
        const moving = clients.filter((cl) => owner.get(cl).node === victim);
        const staying = clients.filter((cl) => owner.get(cl).node === survivor);
        t.diagnostic(`${c.id}: ${clients.map((cl) => `${cl.name}@${owner.get(cl).node}`).join(' ')}`);
        assert.ok(staying.length > 0, `clients on ${survivor} too, to see that they notice nothing`);
        const marks = new Map(clients.map((cl) => [cl, cl.mark()]));

        const t0 = Date.now();
        const stopped = kit.kill(victim, 'SIGTERM', { graceMs: 20000 });
        // The balancer itself sees the 503 and takes the node out.
        await waitUntil(kit, () => kit.balancerLines().some((l) => l.includes(`/${victim} is DOWN`) && l.includes('503')), {
          timeoutMs: 5000, what: `HAProxy marking ${victim} DOWN on a 503 health check`,
        });
        const downAt = Date.now() - t0;

        const moves = await Promise.all(moving.map(async (cl) => {
          const old = owner.get(cl).sid;
          const lastOld = () => cl.events.filter((e) => e.ev === 'update' && e.session === old).map((e) => e.t).pop();
          const u = await cl.waitUpdate('counter', {
            from: marks.get(cl), pred: (e) => e.session && e.session !== old, timeoutMs: 30000,
            what: `an update on a new session after ${victim} was drained`,
          });
          const info = await kit.waitSession(u.session);
          assert.equal(info.node, survivor, `${cl.name}: new session on ${survivor}`);
          await cl.waitUpdate('quote', { session: u.session, timeoutMs: 15000 });
          // The drained node's log comes through a pipe, maybe after the client moved.
          const closed = await waitUntil(kit, () => kit.sessionInfo(old).closed, {
            timeoutMs: 5000, what: `${victim} logging the end of ${old}`, state: () => kit.describeNodes({ lines: 40 }),
          });
          assert.equal(String(closed.code), '48', `${cl.name}: its old session ended with 48 (${JSON.stringify(closed)})`);
          return { client: cl.name, fromTerm: u.t - t0, silence: u.t - lastOld(), closedAt: closed.t - t0 };
        }));
        const exit = await stopped;
        const exitAfter = exit.gone - t0;
        assert.ok(exitAfter < (GRACE_S + WINDOW_S + 5) * 1000, `${victim} exited ${exitAfter} ms after SIGTERM`);
        assert.ok(!kit.node(victim).server.running, `${victim} exited by itself`);
        for (const m of moves) {
          assert.ok(m.closedAt >= GRACE_S * 1000 - 200, `${m.client}: moved only after the grace (${m.closedAt} ms)`);
        }
        if (moves.length > 1) {
          const at = moves.map((m) => m.closedAt).sort((a, b) => a - b);
          assert.ok(at[at.length - 1] - at[0] >= (WINDOW_S * 1000) / moves.length - 300, `sessions ended spread over the window: ${at.join(', ')} ms`);
        }
        for (const cl of staying) {
          await cl.waitUpdate('counter', { from: marks.get(cl), session: owner.get(cl).sid, timeoutMs: 10000 });
          assert.equal(cl.sessionId(), owner.get(cl).sid, `${cl.name} kept its session`);
        }
        for (const cl of clients) {
          assert.deepEqual(cl.events.filter((e) => e.ev === 'serverError'), [], `${cl.name}: no error shown to the application`);
          assert.deepEqual(seqProblems(cl), [], `${cl.name}: nothing lost inside a session`);
        }
        t.diagnostic(`${c.id}: balancer saw the 503 after ${downAt} ms; moves ${JSON.stringify(moves)}; exit after ${exitAfter} ms`);
        writeResult(`drain-${c.id}`, { id: c.id, grace_s: GRACE_S, window_s: WINDOW_S, down_after_ms: downAt, exit_after_ms: exitAfter, moves });
      });
    });
  }

  it('rolling restart of both nodes (1.A.2): every client keeps receiving, nothing lost inside a session', { timeout: 150000 }, async (t) => {
    const c = { id: '1.A.2', network: '127.0.83' };
    const dir = makeKit(c);
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    await withKit(t, dir, KIT_OPTS, async (kit) => {
      const clients = await startClients(kit, c.network, 6);
      const t0 = Date.now();
      for (const node of ['node1', 'node2']) {
        const ups = kit.balancerLines().filter((l) => l.includes(`/${node} is UP`)).length;
        await kit.kill(node, 'SIGTERM', { graceMs: 20000 });
        await kit.startNode(node);
        await waitUntil(kit, () => kit.balancerLines().filter((l) => l.includes(`/${node} is UP`)).length > ups, {
          timeoutMs: 15000, what: `HAProxy seeing ${node} UP again`,
        });
      }
      // Everyone ends on a live node, receiving.
      const end = Date.now();
      await Promise.all(clients.map(async (cl) => {
        const mark = cl.mark();
        await cl.waitUpdate('counter', { from: mark, timeoutMs: 15000 });
        assert.match(cl.status(), /^CONNECTED:/);
      }));
      const silences = clients.map((cl) => longestSilence(cl, t0, end)).sort((a, b) => a - b);
      const sessions = clients.map((cl) => cl.sessions().length);
      for (const cl of clients) {
        assert.deepEqual(seqProblems(cl), [], `${cl.name}: nothing lost inside a session`);
        assert.deepEqual(cl.events.filter((e) => e.ev === 'serverError'), [], `${cl.name}: no error shown to the application`);
      }
      t.diagnostic(`rolling restart took ${end - t0} ms; longest silence per client (ms): ${silences.join(', ')}; sessions per client: ${sessions.join(', ')}`);
      writeResult('drain-rolling-1.A.2', { id: '1.A.2', clients: clients.length, took_ms: end - t0, longest_silence_ms: silences, sessions_per_client: sessions });
    });
  });
});
