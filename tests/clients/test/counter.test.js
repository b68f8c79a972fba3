'use strict';
// COUNTER: rate-<N> items, seq +1 per update. In RAW and DISTINCT modes (and
// DISTINCT unfiltered) every update must arrive: no gap, no duplicate.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped, sequenceProblems, compactRanges, parseSeq } = require('../lib/util');

const RATE = 50;
const WANTED = 150; // ~3 s at 50/s

const VARIANTS = [
  { name: 'RAW', spec: { mode: 'RAW' } },
  { name: 'DISTINCT (default frequency)', spec: { mode: 'DISTINCT', snapshot: 'no' } },
  { name: 'DISTINCT unfiltered', spec: { mode: 'DISTINCT', snapshot: 'no', maxFrequency: 'unfiltered' } },
];

function checkCounterUpdates(rec, item) {
  const seqs = rec.updates.map((u) => parseSeq(u.values.seq));
  const problems = sequenceProblems(seqs);
  assert.deepEqual(problems, [], `${item}: seq must go up by exactly 1 per update; seqs: ${compactRanges(seqs)}`);
  const nowUs = Date.now() * 1000;
  for (const u of rec.updates) {
    assert.equal(u.item, item);
    const ts = Number(u.values.ts);
    assert.ok(Number.isSafeInteger(ts), `ts should be an integer (microseconds), got ${JSON.stringify(u.values.ts)}`);
    assert.ok(Math.abs(ts - nowUs) < 120e6, `ts ${ts} should be microseconds since the epoch, near ${nowUs}`);
  }
  assert.deepEqual(rec.lost, [], 'no onItemLostUpdates expected');
}

for (const transport of TRANSPORTS) {
  describe(`COUNTER rate-${RATE} over ${transport}`, () => {
    for (const variant of VARIANTS) {
      it(`${variant.name}: ${WANTED} updates, seq strictly +1, no gap, no duplicate`,
        { timeout: 60000 }, (t) => scoped(t, async (s) => {
          const server = await s.startServer();
          const c = s.client(server.url, { transport });
          await c.connectAndWait();
          const item = `rate-${RATE}`;
          const rec = c.subscribe({ ...variant.spec, items: [item], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
          await rec.waitSubscribed();
          const started = Date.now();
          await rec.waitCount(WANTED, { timeoutMs: 20000 });
          const elapsed = (Date.now() - started) / 1000;
          checkCounterUpdates(rec, item);
          // Nominal 3 s; a very slow delivery means the rate is not honoured.
          assert.ok(elapsed < (WANTED / RATE) * 3 + 2,
            `${WANTED} updates at ${RATE}/s took ${elapsed.toFixed(1)} s`);
          assert.equal(c.status, `CONNECTED:${transport}`);
        }));
    }
  });
}
