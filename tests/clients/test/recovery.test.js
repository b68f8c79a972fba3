'use strict';
// Session recovery: the client goes through a TCP proxy whose connections are all
// reset mid-stream. The client must recover THE SAME session (HTTP bind_session with
// LS_recovery_from) and the COUNTER sequence must show no gap and no duplicate
// across the cut.
//
// Two variants per transport:
// - plain cut: connections reset while updates flow;
// - lost in flight: the proxy first swallows the server's data for a while (the
//   server believes it sent updates that the client never got), then resets the
//   connections. Only a server that replays from LS_recovery_from passes this one.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS, STATUS } = require('../lib/client');
const { scoped, sequenceProblems, compactRanges, parseSeq, waitUntil } = require('../lib/util');

const RATE = 20;
const BEFORE_CUT = 20; // ~1 s of updates before the cut
const AFTER_CUT = 40; // ~2 s of updates after the cut

// On these transports a long-lived connection is always open, so the cut is
// certain to break it and the client must go through recovery. With HTTP polling
// a plain cut may fall between two polls; then nothing breaks and only the
// continuity checks apply.
const MUST_BREAK = new Set(['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING']);

async function recoveryScenario(s, transport, { lostInFlight }) {
  const server = await s.startServer();
  const proxy = await s.startProxy({ targetPort: server.port });
  // The control link in CONOK (if any) must not lead the client around the proxy.
  const c = s.client(proxy.url, { transport, options: { serverInstanceAddressIgnored: true } });
  const sid = await c.connectAndWait();

  const item = `rate-${RATE}`;
  const rec = c.subscribe({ mode: 'RAW', items: [item], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
  await rec.waitSubscribed();
  await rec.waitCount(BEFORE_CUT, { timeoutMs: 15000 });

  const statusIndex = c.statusLog.length;
  if (lostInFlight) {
    // A polling client has at most one batch in flight per poll: one lost update
    // is enough there; a streaming client loses several.
    const wanted = transport.endsWith('POLLING') ? 1 : 5;
    proxy.freezeAll();
    await waitUntil(proxy, () => proxy.stats.droppedUpdateLines >= wanted, {
      timeoutMs: 10000,
      what: `${wanted} update line(s) swallowed by the frozen proxy`,
      state: () => `${proxy.describe()}\n${c.describe()}`,
    });
  }
  const updatesAtCut = rec.updates.length;
  const lastSeq = updatesAtCut ? rec.updates[updatesAtCut - 1].values.seq : null;
  const cut = proxy.cutAll();
  s.note(`cut ${cut} connection(s) after ${updatesAtCut} updates (last seq ${lastSeq}); ${proxy.describe()}`);

  if (MUST_BREAK.has(transport) || lostInFlight) {
    assert.ok(cut > 0, `the proxy should have had open connections to cut (${proxy.describe()})`);
    const broken = await c.waitStatus(STATUS.TRYING_RECOVERY, { timeoutMs: 15000, fromIndex: statusIndex });
    await c.waitStatus(STATUS.connected(transport), {
      timeoutMs: 30000,
      fromIndex: c.statusLog.indexOf(broken),
      what: `status ${STATUS.connected(transport)} again after recovery`,
    });
  }

  // Updates flow again, through the same session.
  await rec.waitCount(AFTER_CUT, { from: updatesAtCut, timeoutMs: 30000 });
  const history = c.statusLog.slice(statusIndex).map((e) => e.status);
  s.note(`status after the cut: ${history.join(' -> ') || '(unchanged)'}`);

  assert.equal(c.sessionId(), sid, `session id after the cut (status history ${c.statusHistory().join(' -> ')})`);
  assert.ok(!history.includes(STATUS.CONNECTING), `no new session should have been created: ${history.join(' -> ')}`);
  assert.equal(c.status, STATUS.connected(transport), 'back on the forced transport');

  const seqs = rec.updates.map((u) => parseSeq(u.values.seq));
  assert.deepEqual(sequenceProblems(seqs), [],
    `seq across the cut (cut after #${updatesAtCut - 1}, seq ${lastSeq}): ${compactRanges(seqs)}`);
  assert.deepEqual(rec.lost, [], 'no lost updates');
  assert.equal(rec.subscribedCount, 1, 'the subscription was never redone');
  assert.deepEqual(rec.errors, []);
  assert.deepEqual(c.serverErrors, []);
}

for (const transport of TRANSPORTS) {
  describe(`recovery over ${transport}`, () => {
    it(`connections reset mid-stream: same session, COUNTER rate-${RATE} RAW without gap or duplicate`,
      { timeout: 90000 }, (t) => scoped(t, (s) => recoveryScenario(s, transport, { lostInFlight: false })));

    it('updates lost in flight before the reset are replayed: same session, no gap, no duplicate',
      { timeout: 90000 }, (t) => scoped(t, (s) => recoveryScenario(s, transport, { lostInFlight: true })));
  });
}
