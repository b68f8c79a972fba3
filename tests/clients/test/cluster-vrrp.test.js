'use strict';
// Session handoff where the client's requests go straight to its node's own
// public address (the control link pushK names): kits made with
// `shoal cluster-plan --feed redis --vrrp`, where keepalived (VRRP) holds
// node K's public address on node K while its health check answers 200,
// and moves it to a live node otherwise. The official Node client, whose
// recovery requests (bind_session with LS_recovery_from) go to its node's
// name, then reaches a live node at the same address; that node takes the
// session over (docs/clustering.md, "Zero-loss fail-over"), and tells the
// client its own control link.
//
// Every scenario runs on a test LAN of its own (lib/lan.js: a bridge and a
// network namespace per node, lib/vrrp.js: keepalived and Shoal in each),
// with Redis, HAProxy, the client machines and the publisher on the host,
// names from the kit's hosts file. Scenarios:
//   kill     kill -9 of node1's Shoal (its keepalived goes on: the host
//            lives, the process died): node1's public address moves to
//            node2's namespace, and node1's clients are taken over by node2.
//            1.B.2 (HTTP) and 2.B.2.2 (HTTPS, a certificate per node: node2
//            also serves push1's, so the moved client's TLS to push1's name
//            is accepted).
//   back     (after the 1.B.2 kill) node1 started again: its address comes
//            back to it once its health check passes (keepalived's
//            preemption). The clients node2 took over came by node1's name
//            (push1), which now leads to node1 again: node2 ended their
//            first streaming bind by that name with LOOP, so they bound
//            again by node2's control link (push2) at once. Checked: no
//            moved client loses its stream when the address goes back, the
//            sessions stay on node2 (no handoff line after node1's start).
//   drain    SIGTERM of node2, run with --drain-grace 2 --drain-window 1:
//            its health check answers 503, its address moves to node1,
//            node1 takes its clients over.
// Checked as in test/cluster-handoff.test.js (lib/handoff.js): each moved
// client keeps its session id (TRYING-RECOVERY, never WILL-RETRY), a node
// other than the one it left logged taking it over, RAW and DISTINCT with
// no gap and no duplicate, COMMAND equal to a fresh client's, MERGE at the
// last value; the other node's clients see no status change at all, in
// every phase. Also: the address is on the expected node, and on no other,
// after each step.
//
// Figures (not checked): per move, the re-attach time (from the kill, or
// from the drained node's "handed over" line, to streaming again) and the
// time the address took to move. Printed as
//   vrrp <case>: address moved after A ms; reattach p50 .. max .. ms, ...
// and written through lib/results.js (handoff-vrrp-<slug>.json: the rows of
// the handoff table of tools/cluster-report.js).
// SHOAL_VRRP=<regexp> runs only the scenarios whose name matches.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const {
  BEFORE, AFTER, STREAMING, Feed, Checks, waitAll, waitMove, msText, ms,
  startClients, ownersOf, reached, mover, finish, figures, resultFields, diagnose, checkClients,
} = require('../lib/handoff');
const { Publisher, guard } = require('../lib/publisher');
const { writeResult } = require('../lib/results');
const { waitUntil } = require('../lib/util');
const { withVrrpKit } = require('../lib/vrrp');

const SCENARIOS = [
  { id: '1.B.2', how: 'kill', victim: 'node1', back: true },
  { id: '1.B.2', how: 'drain', victim: 'node2' },
  { id: '2.B.2.2', how: 'kill', victim: 'node1' },
].map((s) => ({ kind: 'redis', nodes: 2, clients: 4, back: false, ...s }));

const caseName = (s) => `${s.id}, ${s.kind}, keepalived, ${s.how === 'kill' ? 'kill -9' : 'drain'} of ${s.victim}${s.back ? `, then ${s.victim} back` : ''}`;
const caseSlug = (s, how = s.how) => `vrrp-${how}-${s.id}-${s.kind}`;

// As in test/cluster-handoff.test.js: a short drain; the grace must outlast
// keepalived's moving the address away from the draining node (its health
// check fails on the 503), or a recovery reaches the draining node, which
// no longer has the session.
const DRAIN_GRACE_S = 2;
const DRAIN_WINDOW_S = 1;
const DRAIN_OPTS = { nodeArgs: ['--drain-grace', String(DRAIN_GRACE_S), '--drain-window', String(DRAIN_WINDOW_S)], fastStop: false };
const DRAIN_EXIT_MS = (DRAIN_GRACE_S + DRAIN_WINDOW_S + 5) * 1000;
// Host addresses (last octets) of the client machines, the fresh client and
// the publisher.
const CLIENT_OCTETS = [51, 52, 53, 54, 69, 70];
// How long a node's address may take to move (keepalived's health check
// interval, its advertisement interval, and the backup's takeover).
const ADDRESS_MOVE_MS = 20000;

async function vrrpHandoff(t, s) {
  const name = caseName(s);
  const opts = { id: s.id, feed: s.kind, nodes: s.nodes, hostAddresses: CLIENT_OCTETS, ...(s.how === 'drain' ? DRAIN_OPTS : {}) };
  await withVrrpKit(t, opts, async (kit, vrrp) => {
    const { network } = vrrp.lan;
    const { victim } = s;
    const other = kit.spec.nodes.map((n) => n.name).find((n) => n !== victim);
    const connected = STREAMING;
    const clients = await startClients(kit, { network, count: s.clients, connected });
    const owner = await ownersOf(kit, clients);
    t.diagnostic(`LAN ${network}.0/24; sessions: ${clients.map((c) => `${c.name}@${owner.get(c).node} (${owner.get(c).sid}, ${owner.get(c).transport})`).join(' ')}`);
    const onVictim = clients.filter((c) => owner.get(c).node === victim);
    assert.ok(onVictim.length > 0 && onVictim.length < clients.length, `clients on both nodes (${clients.map((c) => owner.get(c).node).join(' ')})`);
    // Where each client sends its requests: its node's own name.
    for (const c of clients) {
      const link = c.events.filter((e) => e.ev === 'session' && e.session === owner.get(c).sid).map((e) => e.serverInstanceAddress).pop() || '';
      assert.equal(new URL(link).hostname, kit.spec.nodes.find((n) => n.name === owner.get(c).node).control_link, `${c.name}: control link of its node`);
    }

    const feed = new Feed();
    const pub = new Publisher(kit, { source: `${network}.70`, bodies: (seq) => feed.bodies(seq) });
    pub.start();
    try {
      await guard(pub, Promise.all(clients.map((c) => reached(c, BEFORE))));
      const steps = []; // { what, node, t, tick, movers, movedMs, exitMs, exited }
      const moves = [];
      const waitFailures = [];
      const marks = new Map(); // client -> event index at the first step
      const moveAll = mover(kit, pub, owner, moves, connected);
      // The address of `node` held by `holder` (alone): the time it took
      // from `t0`, or null (a wait failure).
      const addressAt = (node, holder, t0) => vrrp.waitHeld(node, holder, { timeoutMs: ADDRESS_MOVE_MS })
        .then(() => Date.now() - t0, (err) => {
          waitFailures.push(String(err.message).split('\n')[0]);
          return null;
        });

      let step;
      if (s.how === 'kill') {
        // kill -9 between two ticks: no publish is in flight to the dead node.
        const kill = await guard(pub, pub.between(async (seq) => {
          for (const c of clients) marks.set(c, c.mark());
          const k = await kit.kill(victim);
          return { ...k, tick: seq };
        }));
        step = { what: 'kill -9', node: victim, t: kill.t, tick: kill.tick, movers: onVictim };
        steps.push(step);
        const moved = addressAt(victim, other, kill.t);
        waitFailures.push(...await moveAll(onVictim, step, marks));
        step.movedMs = await moved;
      } else {
        for (const c of clients) marks.set(c, c.mark());
        step = { what: 'drain', node: victim, t: Date.now(), tick: pub.seq, movers: onVictim };
        steps.push(step);
        const stopped = kit.kill(victim, 'SIGTERM', { graceMs: 20000 });
        stopped.catch(() => {});
        const moved = addressAt(victim, other, step.t);
        waitFailures.push(...await moveAll(onVictim, step, marks));
        step.movedMs = await moved;
        const exit = await guard(pub, stopped);
        step.exitMs = exit.gone - step.t;
        step.exited = !kit.node(victim).server.running;
      }
      t.diagnostic(`${step.what} of ${victim} after tick ${step.tick}: its address ${vrrp.publicOf(victim)} on ${other} after ${step.movedMs} ms; ` +
        `moves: ${moves.map((m) => `${m.client.name} ${m.left}->${m.takenOver ? m.takenOver.node : '?'} (${m.connected.t - step.t} ms)`).join(' ')}` +
        `${step.exitMs != null ? `; ${victim} exited after ${step.exitMs} ms` : ''}`);

      // node1 back: started again in its namespace; its keepalived takes its
      // address back once the health check passes. What the clients that
      // node2 took over see then: `backs`, each { client, lost, connected }.
      const backs = [];
      if (s.back) {
        await guard(pub, Promise.all(clients.map((c) => reached(c, pub.seq + 10))));
        const from = new Map(clients.map((c) => [c, c.mark()]));
        const ups = kit.balancerLines().filter((l) => l.includes(`/${victim} is UP`)).length;
        const start = Date.now();
        await guard(pub, kit.startNode(victim));
        const back = { what: 'start', node: victim, t: start, tick: pub.seq, movers: [] };
        steps.push(back);
        back.movedMs = await addressAt(victim, victim, start);
        await guard(pub, waitUntil(kit, () => kit.balancerLines().filter((l) => l.includes(`/${victim} is UP`)).length > ups, {
          timeoutMs: 15000, what: `HAProxy seeing ${victim} UP again`,
        }));
        back.upMs = Date.now() - start;
        // Every client goes on for AFTER ticks past the address's return: a
        // stream cut by the address leaving node2 has been recovered by then.
        waitFailures.push(...await waitAll(pub, clients.map((c) => reached(c, pub.seq + AFTER, 30000))));
        for (const c of onVictim) {
          const lost = c.events.find((e) => e.index >= from.get(c) && e.ev === 'status' && !connected.test(e.status));
          if (!lost) continue;
          waitFailures.push(...await waitAll(pub, [waitMove(c, from.get(c), `${victim} back`, connected).then((m) => backs.push({ client: c, ...m }))]));
        }
        t.diagnostic(`${victim} started again: its address back on it after ${back.movedMs} ms, UP for HAProxy after ${back.upMs} ms; ` +
          `${backs.length ? backs.map((b) => `${b.client.name} lost its stream at +${b.lost.t - start} ms (${b.lost.status}), streaming again at +${b.connected.t - start} ms`).join('; ') : 'no moved client lost its stream'}`);
      }

      const end = await finish(kit, pub, clients, { network, waitFailures });
      const { last, freshTable } = end;
      for (const w of waitFailures) t.diagnostic(`wait: ${w}`);
      const movedClients = onVictim;
      const origin = (m) => {
        if (m.step.what === 'kill -9') return m.step.t;
        const cut = kit.handoffsOf(owner.get(m.client).sid).find((h) => h.node === m.left && h.t >= m.step.t - 5 && h.message.startsWith('session handed over'));
        return cut ? cut.t : m.lost.t;
      };
      const fig = figures(kit, { clients, owner, moves, movedClients, last, origin });
      diagnose(t, kit, { clients, owner, moves, movedClients, marks, t0: steps[0].t });
      const line = `vrrp ${name}: address moved after ${step.movedMs} ms; reattach ${msText(fig.reattach)} (${fig.reattach.sorted.join(', ')}), ` +
        `kept ${fig.kept}/${movedClients.length} sessions, lost ${fig.lostTotal}, dup ${fig.dupTotal}; first update ${msText(fig.firstUpdate)}` +
        `${s.back ? `; ${victim} back: address after ${steps[1].movedMs} ms, ${backs.length} of ${movedClients.length} moved clients lost their stream ` +
          `(streaming again after ${backs.map((b) => b.connected.t - steps[1].t).join(', ') || '-'} ms)` : ''}`;
      t.diagnostic(line);
      console.log(line);
      t.diagnostic(`${last} ticks (${pub.published} publishes, ${pub.retries.length} refused and tried again); book ${JSON.stringify(freshTable)}`);

      const checks = new Checks();
      checks.check(() => assert.ok(step.movedMs !== null, `${vrrp.publicOf(victim)} moved to ${other} (now on ${vrrp.holderOf(victim).join(', ') || 'no node'})`));
      if (s.back) {
        checks.check(() => assert.ok(steps[1].movedMs !== null, `${vrrp.publicOf(victim)} back on ${victim} (now on ${vrrp.holderOf(victim).join(', ') || 'no node'})`));
        const after = clients.flatMap((c) => kit.handoffsOf(owner.get(c).sid).filter((h) => h.t >= steps[1].t).map((h) => `${c.name}: ${h.node} ${h.message}`));
        checks.check(() => assert.deepEqual(after, [], `handoff lines after ${victim} started again`));
        checks.check(() => assert.deepEqual(backs.map((b) => `${b.client.name} lost its stream at +${b.lost.t - steps[1].t} ms`), [],
          `moved clients still streaming by ${victim}'s address when it went back`));
      }
      if (step.what === 'drain') {
        checks.check(() => assert.ok(step.exited && step.exitMs < DRAIN_EXIT_MS, `${victim} exited ${step.exitMs} ms after SIGTERM (at most ${DRAIN_EXIT_MS})`));
      }
      // The other node's address never moved.
      checks.check(() => assert.deepEqual(vrrp.holderOf(other), [other], `${other}'s address ${vrrp.publicOf(other)} on ${vrrp.holderOf(other).join(', ') || 'no node'}`));
      checkClients(checks, kit, { clients, owner, movedClients, steps: steps.slice(0, 1), moves, marks, connected, transport: null, end, feed });

      const common = { id: s.id, broker: s.kind, transport: null, nodes: s.nodes, vrrp: true, ticks: last, failed_checks: checks.failures.length };
      writeResult(`handoff-${caseSlug(s)}`, {
        case: name,
        how: s.how,
        ...common,
        ...resultFields(kit, { clients, owner, moves, movedClients, fig }),
        address_moved_ms: step.movedMs,
        drain_grace_s: s.how === 'drain' ? DRAIN_GRACE_S : null,
        drain_window_s: s.how === 'drain' ? DRAIN_WINDOW_S : null,
        steps: [{ what: step.what, node: victim, tick: step.tick, exit_ms: step.exitMs ?? null }],
      });
      if (s.back) {
        // The return of node1's address, as a row of its own: the moves are
        // the streams it cut (no takeover: node2 keeps the sessions).
        const backMoves = ms(backs.map((b) => b.connected.t - steps[1].t));
        const backUpdates = ms(backs.map((b) => {
          const u = b.client.events.find((e) => e.index > b.lost.index && e.ev === 'update' && e.id === 'raw');
          return u ? u.t - steps[1].t : null;
        }).filter((x) => x !== null));
        writeResult(`handoff-${caseSlug(s, 'back')}`, {
          case: `${s.id}, ${s.kind}, keepalived, ${victim} back after its kill -9`,
          how: 'back',
          ...common,
          clients: clients.length,
          moved: backs.length,
          moves: backs.length,
          adopters: {},
          kept_sessions: backs.filter((b) => b.client.sessions().length === 1).length,
          new_sessions: fig.newSessions,
          reattach_ms: backMoves.sorted,
          reattach_p50_ms: backMoves.p50,
          reattach_p99_ms: backMoves.p99,
          reattach_max_ms: backMoves.max,
          first_update_ms: backUpdates.sorted,
          first_update_p50_ms: backUpdates.p50,
          first_update_p99_ms: backUpdates.p99,
          first_update_max_ms: backUpdates.max,
          lost_dup: fig.perItem,
          address_moved_ms: steps[1].movedMs,
          steps: [{ what: 'start', node: victim, tick: steps[1].tick }],
        });
      }
      checks.done(`vrrp ${name}`);
    } catch (err) {
      t.diagnostic(pub.describe());
      throw err;
    } finally {
      await pub.stop().catch(() => {});
    }
  });
}

describe('keepalived moves a dead node\'s public address: the live node takes its clients\' sessions over (kits made with --feed redis --vrrp)', () => {
  const only = process.env.SHOAL_VRRP ? new RegExp(process.env.SHOAL_VRRP) : null;
  for (const s of SCENARIOS) {
    const name = caseName(s);
    it(`${name}: moved clients keep session, subscriptions and every entry; the others see nothing`, {
      timeout: s.back ? 120000 : 90000,
      skip: only && !only.test(name) ? 'not selected by SHOAL_VRRP' : false,
    }, (t) => vrrpHandoff(t, s));
  }
});
