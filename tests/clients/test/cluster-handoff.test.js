'use strict';
// Zero-loss fail-over by session handoff (issue 15), through the official
// Node client, end to end: a node with a broker feed journals each of its
// sessions in the broker; when it dies (kill -9) or is drained (SIGTERM: it
// withdraws its liveness key and cuts each session's connection, without
// END), its clients try to recover their sessions through the balancer, a
// live node takes them over, and the clients go on with the same session,
// the same subscriptions and every entry once.
//
// Kits of `shoal cluster-plan --feed redis|nats` behind HAProxy. Scenarios:
//   kill     kill -9 of client1's node: 1.A.2 (cookie stickiness) and 1.B.1
//            (a control link per node) with Redis and NATS; 2.A.1 (six
//            clients: the balancer hashes the source address) and 2.B.1.1
//            (HTTPS, the kit's CA) with Redis; 1.A.2 with three nodes and
//            six clients (Redis), where the survivors take the dead node's
//            clients over (which survivor takes which is the balancer's
//            pick: shown, not checked).
//   drain    SIGTERM of client1's node, 1.A.2, Redis and NATS, nodes run
//            with a short drain (--drain-grace 2 --drain-window 1): the
//            node logs "session handed over" for each of its sessions and
//            exits; its clients are taken over by the other node.
//   rolling  1.A.2, Redis: drain node1, start it again, wait until HAProxy
//            sees it UP, then the same with node2; node1's clients move
//            twice, node2's once, and every client ends with its first
//            session.
//   http     the clients on a forced HTTP transport (setForcedTransport),
//            1.A.2, Redis: kill -9 with HTTP-STREAMING, kill -9 with
//            HTTP-POLLING, drain with HTTP-STREAMING. What the server does
//            for them: a drained node cuts each HTTP-streaming response
//            mid-body (no END); a plain bind_session (the next poll, no
//            LS_recovery_from) that reaches a surviving node for a session of
//            a dead node gets its connection cut without an answer ("bind_session
//            cut"), so that the client recovers with LS_recovery_from and the
//            node takes the session over. (The "bind_session cut" lines about a
//            moved client's session are shown, not checked.)
//            The survivor's cut sends a NOOP line first, so that HAProxy
//            forwards a broken response: a client whose next poll reaches
//            the survivor recovers at once. A poll that was in flight at the
//            killed node is retried by the kit's HAProxy on another node
//            (`retry-on empty-response`, bind_session only), which cuts it
//            the same way: every move takes a fraction of a second. (Before
//            that retry, HAProxy answered it with its own 502 page, which the
//            official client ignores until its idle timeout, about 23 s.)
//   nginx    the kit's balancer is nginx: kill -9 in 1.B.1, and in 2.A.1 with
//            HTTP-POLLING (a poll in flight at the dead node is retried by
//            nginx on the other node: `proxy_next_upstream ... non_idempotent`).
//   report   with SHOAL_HANDOFF_ALL=1 (scripts/cluster-report.sh), kill -9 in
//            every other option whose CR requests reach the balancer, with
//            HAProxy and with nginx: figures for docs/clustering.md.
//   partition  1.A.2, Redis: node1 reaches Redis through a TCP proxy
//            (lib/proxy.js) that the test closes, while the balancer, node2
//            and the clients still reach node1. Once node1 logs the broker
//            unreachable and its liveness key is gone from Redis (every
//            other node takes it as dead), publishing goes on (node1 refuses
//            publishes with 503, tried again on node2) for PARTITION_TICKS,
//            then the proxy comes back and node1 announces itself again. No
//            client moves: no node logs any handoff line about any session,
//            no status changes, and node1's clients get every entry once
//            node1 reads the broker again. (SHOAL_HANDOFF_MISROUTE=1 adds a
//            recovery of a node1 session sent straight to node2 meanwhile.)
// Official clients, each a client machine of its own (lib/cluster.js),
// spread over the nodes; each has ONE session with:
//   - RAW `counter` and `counter2` (one subscription; published interleaved),
//   - DISTINCT `news` with snapshot,
//   - COMMAND `book` with snapshot (rows row1..row5: ADD, then UPDATE,
//     DELETE and ADD again over time),
//   - MERGE `quote` with snapshot.
// An application (lib/publisher.js) publishes one entry of each item per tick
// (`seq`, `qty`, `value` = the tick) through the balancer. Mid-stream (every
// client has BEFORE ticks) the disruption comes (a kill between two ticks);
// publishing goes on until every client has AFTER more ticks, then stops.
//
// Checked, for each client that had to move (its node killed or drained):
//   - the same session id from start to end (no second session), back to
//     CONNECTED:WS-STREAMING (or HTTP-STREAMING; with a forced transport,
//     exactly CONNECTED:<that transport>, from start to end) through
//     DISCONNECTED:TRYING-RECOVERY, never DISCONNECTED:WILL-RETRY (the
//     client's way to a new session);
//   - for each move, a node other than the one it left logged "session taken
//     over from a dead node" for it; a drained node logged "session handed
//     over to the other nodes" for it; no node logged "not taken over" or
//     "taken over and then lost"; no node ever closed it;
//   - one onSubscription per Subscription object, no onUnsubscription, no
//     onSubscriptionError, onItemLostUpdates or onServerError;
//   - RAW (each item) and DISTINCT: seq 1..last, no gap, no duplicate;
//   - COMMAND: the table it keeps (ADD/UPDATE set a row, DELETE removes it,
//     onClearSnapshot clears them all) ends equal to a fresh client's;
//   - MERGE: the value ends equal to the last published one.
// For each client of the other nodes: no status change after the
// disruption, and the same as above. A drained node exits by itself within
// grace + window + 5 s.
//
// Figures (not checked): per move, the re-attach time (from the kill, or
// from the drained node's "handed over" line for the session, to CONNECTED
// again) and the first-update time (from the same instant to the first RAW
// entry after the client lost its stream); sessions kept and new; entries
// lost and repeated per item. Printed as the line
//   handoff <case>: reattach p50 A p99 B max C ms, kept K/N sessions, lost L, dup D; first update p50 .. p99 .. max .. ms
// and written through lib/results.js (handoff-<slug>.json) for
// tools/cluster-report.js.
//
// The handoff checks are gathered and reported together, so that one run
// shows every way a moved client differs from what is expected.
// Networks 127.0.86.x to 127.0.89.x, 127.0.94.x to 127.0.99.x and
// 127.0.100.x to 127.0.119.x, which no other test uses.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { withKit, parseLogLine } = require('../lib/cluster');
const {
  BEFORE, STREAMING, Feed, Checks, msText, saveLogs,
  startClients, ownersOf, reached, mover, finish, figures, resultFields, diagnose, checkClients,
} = require('../lib/handoff');
const { startProxy } = require('../lib/proxy');
const { Publisher, guard } = require('../lib/publisher');
const { writeResult } = require('../lib/results');
const { makeKit } = require('../lib/topology');
const { waitUntil } = require('../lib/util');

const SCENARIOS = [
  { id: '1.A.2', kind: 'redis', network: '127.0.86', how: 'kill' },
  { id: '1.A.2', kind: 'nats', network: '127.0.87', how: 'kill' },
  { id: '1.B.1', kind: 'redis', network: '127.0.88', how: 'kill' },
  { id: '1.B.1', kind: 'nats', network: '127.0.89', how: 'kill' },
  { id: '2.A.1', kind: 'redis', network: '127.0.97', how: 'kill', clients: 6 },
  { id: '2.B.1.1', kind: 'redis', network: '127.0.98', how: 'kill' },
  { id: '1.A.2', kind: 'redis', network: '127.0.99', how: 'kill', nodes: 3, clients: 6 },
  { id: '1.A.2', kind: 'redis', network: '127.0.94', how: 'drain' },
  { id: '1.A.2', kind: 'nats', network: '127.0.95', how: 'drain' },
  { id: '1.A.2', kind: 'redis', network: '127.0.96', how: 'rolling' },
  { id: '1.A.2', kind: 'redis', network: '127.0.100', how: 'partition' },
  // Forced HTTP transports (transport: the client's setForcedTransport).
  { id: '1.A.2', kind: 'redis', network: '127.0.101', how: 'kill', transport: 'HTTP-STREAMING' },
  { id: '1.A.2', kind: 'redis', network: '127.0.102', how: 'kill', transport: 'HTTP-POLLING' },
  { id: '1.A.2', kind: 'redis', network: '127.0.103', how: 'drain', transport: 'HTTP-STREAMING' },
  // nginx instead of HAProxy: a level-7 option, and polling through a
  // level-4 one (nginx retries a POST that a dead node failed).
  { id: '1.B.1', kind: 'redis', network: '127.0.104', how: 'kill', balancer: 'nginx' },
  { id: '2.A.1', kind: 'redis', network: '127.0.105', how: 'kill', balancer: 'nginx', clients: 6, transport: 'HTTP-POLLING' },
  // The figures of scripts/cluster-report.sh (SHOAL_HANDOFF_ALL=1) cover
  // every option whose CR requests reach a balancer, with each balancer
  // (the options whose control link names a node's own address are
  // test/cluster-vrrp.test.js's). Source-address options get six clients,
  // so that both nodes have some.
  ...(process.env.SHOAL_HANDOFF_ALL ? [
    { id: '1.A.1', clients: 6 },
    { id: '2.A.2' },
    { id: '2.B.1.3' },
    { id: '2.B.2.1' },
    { id: '2.B.2.3' },
    { id: '4' },
    { id: '1.A.1', balancer: 'nginx', clients: 6 },
    { id: '2.B.1.1', balancer: 'nginx' },
    { id: '2.B.1.3', balancer: 'nginx' },
    { id: '2.B.2.3', balancer: 'nginx' },
  ].map((s, i) => ({ kind: 'redis', how: 'kill', ...s, network: `127.0.${110 + i}` })) : []),
].map((s) => ({ nodes: 2, clients: 4, transport: null, balancer: 'haproxy', ...s }));

const caseName = (s) => `${s.id}${s.nodes > 2 ? `, ${s.nodes} nodes` : ''}${s.balancer === 'haproxy' ? '' : `, ${s.balancer}`}, ${s.kind}, ${s.how}${s.transport ? `, ${s.transport}` : ''}`;
const caseSlug = (s) => `${s.how}-${s.id}${s.nodes > 2 ? `-${s.nodes}n` : ''}${s.balancer === 'haproxy' ? '' : `-${s.balancer}`}-${s.kind}${s.transport ? `-${s.transport.toLowerCase()}` : ''}`;

// The status a scenario's clients are connected in: with a forced transport,
// exactly that one.
const connectedIn = (s) => (s.transport ? new RegExp(`^CONNECTED:${s.transport}$`) : STREAMING);
// Drains (drain, rolling): short ones, the nodes keep these settings (no fast
// stop); a SIGTERM'd node must be gone within DRAIN_EXIT_MS. The grace must
// outlast HAProxy's noticing the 503 (the kits' checks: inter 1s, fastinter
// 500ms, fall 2, so up to about 1.5 s): a recovery the balancer still sends
// to the draining node finds its session handed over there, gets CONERR 20
// (session not found) and the client opens a new session.
const DRAIN_GRACE_S = 2;
const DRAIN_WINDOW_S = 1;
const DRAIN_OPTS = { nodeArgs: ['--drain-grace', String(DRAIN_GRACE_S), '--drain-window', String(DRAIN_WINDOW_S)], fastStop: false };
const DRAIN_EXIT_MS = (DRAIN_GRACE_S + DRAIN_WINDOW_S + 5) * 1000;
// Partition: ticks the other node's clients get while node1 is cut off from
// the broker (after its liveness key is gone).
const PARTITION_TICKS = 30;

// ---------------------------------------------------------------------------
// Partition: node1 reaches the broker through a TCP proxy of its own (its
// own copy of the adapters folder, the feed's URL pointing at the proxy), so
// that the test can cut node1 off the broker while the balancer, node2 and
// the clients still reach node1.

const run = promisify(execFile);

async function partitionable(t, dir, network) {
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'kit.json'), 'utf8'));
  const [host, port] = spec.feed.listens;
  const node = spec.nodes[0];
  const via = `${network}.6`;
  const own = `${spec.feed.adapters_dir}-${node.name}`;
  fs.cpSync(path.join(dir, spec.feed.adapters_dir), path.join(dir, own), { recursive: true });
  const xml = path.join(dir, own, spec.feed.adapter_set, 'adapters.xml');
  const text = fs.readFileSync(xml, 'utf8');
  assert.ok(text.includes(`//${host}:${port}/`), `${xml} names the broker ${host}:${port}`);
  fs.writeFileSync(xml, text.split(`//${host}:${port}/`).join(`//${via}:${port}/`));
  const config = path.join(dir, node.config);
  const conf = fs.readFileSync(config, 'utf8');
  const tag = `<adapters_dir>${spec.feed.adapters_dir}</adapters_dir>`;
  assert.ok(conf.includes(tag), `${config} has ${tag}`);
  fs.writeFileSync(config, conf.replace(tag, `<adapters_dir>${own}</adapters_dir>`));
  const open = () => startProxy({ targetHost: host, targetPort: port, listenHost: via, listenPort: port });
  const part = {
    node: node.name,
    proxy: await open(),
    // Cuts node1 off: its connections reset, new ones refused.
    async cut() {
      await this.proxy.close();
    },
    async heal() {
      this.proxy = await open();
    },
    // node1's liveness keys in the broker (asked straight, not through the proxy).
    async aliveKeys() {
      const { stdout } = await run('redis-cli', ['-h', host, '-p', String(port), '--scan', '--pattern', `*alive:${node.name}/*`]);
      return stdout.split('\n').filter(Boolean);
    },
  };
  t.after(() => part.proxy.close());
  return part;
}

// SHOAL_HANDOFF_MISROUTE=1 (partition): a recovery of a session node1 still
// serves, sent straight to node2 (as a balancer that took node1 out would),
// while node1 is cut off the broker and its liveness key is gone. The checks
// then tell whether node2 took the session over from a live node.
async function misroute(t, kit, c, owner, node) {
  const { sid } = owner.get(c);
  const [host, port] = kit.spec.nodes.find((n) => n.name !== node).listens[0];
  const answer = await new Promise((resolve) => {
    let got = '';
    const req = http.request({
      host, port, method: 'POST', path: '/lightstreamer/bind_session.txt?LS_protocol=TLCP-2.5.0',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, timeout: 5000,
    }, (res) => {
      res.on('data', (d) => { got += d; });
      res.on('end', () => resolve(`${res.statusCode} ${got}`));
      setTimeout(() => { req.destroy(); resolve(`${res.statusCode} ${got}`); }, 1000);
    });
    req.on('error', (e) => resolve(`${e.message} ${got}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(`LS_session=${sid}&LS_recovery_from=0&LS_content_length=100000`);
  });
  t.diagnostic(`misrouted recovery of ${sid} (${c.name}, on ${node}) to ${host}:${port}: ${JSON.stringify(answer.slice(0, 200))}`);
}

// Waits until node `name` logged a line matching re, stamped at `since` (ms)
// or later.
const waitNodeLine = (kit, name, re, since, what, timeoutMs = 15000) => waitUntil(kit, () => kit.node(name).server.log.find((l) => {
  const rec = parseLogLine(l.replace(/^\[[^\]]*\]\s*/, ''));
  return rec && rec.t >= since && re.test(rec.message);
}), {
  timeoutMs, what: `${name} logging ${what}`, state: () => kit.node(name).server.logTail(20),
});

// ---------------------------------------------------------------------------

async function handoff(t, s) {
  const { id, kind, network, how } = s;
  const name = caseName(s);
  const connected = connectedIn(s);
  const dir = makeKit({ id, network, feed: kind, nodes: s.nodes, balancer: s.balancer });
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const part = how === 'partition' ? await partitionable(t, dir, network) : null;
  await withKit(t, dir, how === 'drain' || how === 'rolling' ? DRAIN_OPTS : {}, async (kit) => {
    assert.equal(kit.feed.kind, kind, 'kit.json names the feed');
    const clients = await startClients(kit, { network, count: s.clients, connected, transport: s.transport });
    const owner = await ownersOf(kit, clients); // client -> { sid, node, transport }: its first session
    if (s.transport) for (const c of clients) assert.equal(owner.get(c).transport, `CONNECTED:${s.transport}`, `${c.name}: status with the forced transport`);
    t.diagnostic(`sessions: ${clients.map((c) => `${c.name}@${owner.get(c).node} (${owner.get(c).sid}, ${owner.get(c).transport})`).join(' ')}`);
    const victim = owner.get(clients[0]).node;
    const onVictim = clients.filter((c) => owner.get(c).node === victim);
    if (how !== 'rolling') assert.ok(onVictim.length < clients.length, `clients on more than one node (all on ${victim})`);

    const feed = new Feed();
    const pub = new Publisher(kit, { source: `${network}.70`, bodies: (seq) => feed.bodies(seq) });
    pub.start();
    try {
      await guard(pub, Promise.all(clients.map((c) => reached(c, BEFORE))));

      // The disruption: steps (a node killed or drained, each), and the moves
      // they caused: { client, step, left, lost, connected, takenOver }.
      const steps = []; // { what, node, t, tick, movers, exitMs, exited }
      const moves = [];
      const waitFailures = [];
      const marks = new Map(); // client -> event index at the first step
      const moveAll = mover(kit, pub, owner, moves, connected);
      if (how === 'kill') {
        // kill -9 between two ticks: no publish is in flight to the dead node.
        const kill = await guard(pub, pub.between(async (seq) => {
          for (const c of clients) marks.set(c, c.mark());
          const k = await kit.kill(victim);
          return { ...k, tick: seq };
        }));
        const step = { what: 'kill -9', node: victim, t: kill.t, tick: kill.tick, movers: onVictim };
        steps.push(step);
        waitFailures.push(...await moveAll(onVictim, step, marks));
      } else if (how === 'partition') {
        // node1 cut off the broker between two ticks; publishing goes on
        // (node1 answers 503 to publishes, tried again on node2).
        const node = part.node;
        const cut = await guard(pub, pub.between(async (seq) => {
          for (const c of clients) marks.set(c, c.mark());
          const at = Date.now();
          await part.cut();
          return { t: at, tick: seq };
        }));
        const step = { what: 'partition from the broker', node, t: cut.t, tick: cut.tick, movers: [] };
        steps.push(step);
        // node1 notices, and its liveness key expires: for every other node,
        // node1 is dead from now on.
        await guard(pub, waitNodeLine(kit, node, /unreachable.*not announced alive/, cut.t, '"Redis unreachable ... not announced alive"'));
        const deadline = Date.now() + 10000;
        while ((await part.aliveKeys()).length) {
          if (Date.now() > deadline) throw new Error(`${node}'s liveness key still in Redis 10 s after the cut: ${await part.aliveKeys()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        step.deadAfterMs = Date.now() - cut.t;
        if (process.env.SHOAL_HANDOFF_MISROUTE) await misroute(t, kit, clients.find((c) => owner.get(c).node === node), owner, node);
        const others = clients.filter((c) => owner.get(c).node !== node);
        await guard(pub, Promise.all(others.map((c) => reached(c, pub.seq + PARTITION_TICKS))));
        const healed = Date.now();
        await part.heal();
        await guard(pub, waitNodeLine(kit, node, /Redis reachable: announcing this node alive/, healed, '"Redis reachable: announcing this node alive"', 20000));
        step.healedAfterMs = Date.now() - cut.t;
        t.diagnostic(`${node} cut off the broker after tick ${cut.tick}; its liveness key gone after ${step.deadAfterMs} ms; ` +
          `healed at +${step.healedAfterMs} ms (tick ${pub.seq}); ${pub.retries.length} publishes refused and tried again so far`);
      } else {
        // Drains: node after node (rolling: each started again, and seen UP
        // by HAProxy, before the next one).
        const order = how === 'drain' ? [victim] : [...kit.nodes.keys()];
        for (const node of order) {
          const from = new Map(clients.map((c) => [c, c.mark()]));
          if (!marks.size) for (const [c, i] of from) marks.set(c, i);
          const movers = clients.filter((c) => kit.holderOf(owner.get(c).sid) === node);
          const ups = kit.balancerLines().filter((l) => l.includes(`/${node} is UP`)).length;
          const step = { what: 'drain', node, t: Date.now(), tick: pub.seq, movers };
          steps.push(step);
          const stopped = kit.kill(node, 'SIGTERM', { graceMs: 20000 });
          stopped.catch(() => {});
          waitFailures.push(...await moveAll(movers, step, from));
          const exit = await guard(pub, stopped);
          step.exitMs = exit.gone - step.t;
          step.exited = !kit.node(node).server.running;
          t.diagnostic(`${node} drained: ${movers.map((c) => c.name).join(' ') || 'no client'} moved; exited after ${step.exitMs} ms`);
          if (how === 'rolling') {
            await guard(pub, kit.startNode(node));
            await guard(pub, waitUntil(kit, () => kit.balancerLines().filter((l) => l.includes(`/${node} is UP`)).length > ups, {
              timeoutMs: 15000, what: `HAProxy seeing ${node} UP again`,
            }));
            t.diagnostic(`${node} started again and UP after ${Date.now() - step.t} ms from its SIGTERM`);
          }
        }
      }
      const movedClients = clients.filter((c) => steps.some((st) => st.movers.includes(c)));
      // (The logs are bounded: the disruption's lines, before the clients
      // go on.)
      if (process.env.SHOAL_HANDOFF_LOGS) saveLogs(kit, path.join(process.env.SHOAL_HANDOFF_LOGS, caseSlug(s), 'moved'));
      t.diagnostic(`${steps.map((st) => `${st.what} of ${st.node} after tick ${st.tick}`).join(', ')}; ` +
        `moves: ${moves.map((m) => `${m.client.name} ${m.left}->${m.takenOver ? m.takenOver.node : '?'}`).join(' ')}`);

      // Everyone goes on: AFTER ticks more than the last disruption's end;
      // then the end, as a fresh client sees it.
      const end = await finish(kit, pub, clients, { network, waitFailures });
      const { last, freshTable } = end;
      for (const w of waitFailures) t.diagnostic(`wait: ${w}`);

      // Figures: re-attach times, sessions kept, entries lost and repeated.
      // A move's instant: the kill, or the drained node's "handed over" line
      // for the session (the client's own loss of stream if none).
      const origin = (m) => {
        if (m.step.what === 'kill -9') return m.step.t;
        const cut = kit.handoffsOf(owner.get(m.client).sid).find((h) => h.node === m.left && h.t >= m.step.t - 5 && h.message.startsWith('session handed over'));
        return cut ? cut.t : m.lost.t;
      };
      const fig = figures(kit, { clients, owner, moves, movedClients, last, origin });
      diagnose(t, kit, { clients, owner, moves, movedClients, marks, t0: steps[0].t });
      const line = `handoff ${name}: reattach ${msText(fig.reattach)}, kept ${fig.kept}/${movedClients.length} sessions, ` +
        `lost ${fig.lostTotal}, dup ${fig.dupTotal}; first update ${msText(fig.firstUpdate)}`;
      t.diagnostic(line);
      console.log(line);
      t.diagnostic(`${last} ticks (${pub.published} publishes, ${pub.retries.length} refused and tried again); book ${JSON.stringify(freshTable)}`);

      // The checks.
      const checks = new Checks();
      for (const st of steps.filter((x) => x.what === 'drain')) {
        checks.check(() => assert.ok(st.exited && st.exitMs < DRAIN_EXIT_MS, `${st.node} exited ${st.exitMs} ms after SIGTERM (at most ${DRAIN_EXIT_MS})`));
      }
      checkClients(checks, kit, { clients, owner, movedClients, steps, moves, marks, connected, transport: s.transport, end, feed });

      writeResult(`handoff-${caseSlug(s)}`, {
        case: name,
        id,
        broker: kind,
        balancer: s.balancer,
        how,
        transport: s.transport,
        nodes: s.nodes,
        ...resultFields(kit, { clients, owner, moves, movedClients, fig }),
        ticks: last,
        drain_grace_s: how === 'kill' ? null : DRAIN_GRACE_S,
        drain_window_s: how === 'kill' ? null : DRAIN_WINDOW_S,
        steps: steps.map((st) => ({
          what: st.what, node: st.node, tick: st.tick, exit_ms: st.exitMs ?? null, dead_after_ms: st.deadAfterMs ?? null, healed_after_ms: st.healedAfterMs ?? null,
        })),
        failed_checks: checks.failures.length,
      });
      checks.done(`handoff ${name}`);
    } catch (err) {
      t.diagnostic(pub.describe());
      throw err;
    } finally {
      await pub.stop().catch(() => {});
      if (process.env.SHOAL_HANDOFF_LOGS) saveLogs(kit, path.join(process.env.SHOAL_HANDOFF_LOGS, caseSlug(s)));
    }
  });
}

describe('session handoff: the clients of a killed or drained node keep their sessions on another node (kits made with --feed)', () => {
  const only = process.env.SHOAL_HANDOFF ? new RegExp(process.env.SHOAL_HANDOFF) : null;
  for (const s of SCENARIOS) {
    const name = caseName(s);
    const what = {
      rolling: 'every client ends with its first session, every entry once',
      partition: 'node1 cut off the broker until its liveness key is gone: no session taken over, every client keeps its session and every entry',
    }[s.how] || 'moved clients keep session, subscriptions and every entry; the others see nothing';
    it(`${name}: ${what}`, { timeout: 150000, skip: only && !only.test(name) ? 'not selected by SHOAL_HANDOFF' : false }, (t) => handoff(t, s));
  }
});
