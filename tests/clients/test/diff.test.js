'use strict';
// Diff-encoded values with the official Node client: a shoal.memory data
// adapter declares `doc` as JSONPATCH and `text` as DIFF_MATCH_PATCH
// (`diff_fields`), the test publishes a known sequence of values, and the
// client must see each value exactly as published. A tap on the connection
// counts the `^P` and `^T` tokens the server really sent, which must be the
// ones the rules of docs/protocol.md allow: a diff only from a value the
// client holds, never for values some client would decode differently.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped, uniqueToken } = require('../lib/util');
const { publish, memoryAdaptersDir } = require('../lib/broker');

const SET = 'FEED';
const ITEM = 'book';
const FIELDS = ['n', 'doc', 'text'];
const STEPS = 14;

// An adapters dir with the set FEED: items held in memory, `doc` allowing
// JSON Patch and `text` TLCP-diff.
function adaptersDir(s, token) {
  return memoryAdaptersDir(s, { token, params: { diff_fields: 'doc=JSONPATCH text=DIFF_MATCH_PATCH' } });
}

// The order book of step k: one level's quantity changes per step, so a
// JSON patch is much shorter than the document. Step 6 is not JSON, step 9
// has a character outside ASCII (the Python client would write it back
// escaped): both go in full, and so does the step after each.
function doc(k) {
  if (k === 6) return 'book closed {';
  const levels = [];
  for (let i = 0; i < 20; i += 1) levels.push({ px: 100 + i + 0.25, qty: i === k % 20 ? 1000 + k : 10 * i });
  const d = { symbol: 'ACME', seq: k, levels };
  if (k === 9) d.note = 'café';
  return JSON.stringify(d);
}

// A long sentence with one word changing per step. Step 4 and 5 have a
// character outside the Basic Multilingual Plane (clients count it as one
// or two characters), step 10 is null: no TLCP-diff for them or from them.
function text(k) {
  if (k === 10) return null;
  const emoji = k === 4 || k === 5 ? ' \u{1F600}' : '';
  return `The quick brown fox jumps over the lazy dog, step ${k} of a long run of updates${emoji}.`;
}

const isCanonicalJson = (v) => v !== null && v.startsWith('{') && /^[\x20-\x7e]*$/.test(v);
const isBmpText = (v) => v !== null && ![...v].some((c) => c.codePointAt(0) > 0xffff);

// How many diffs the rules allow over the sequence (every step is read by
// the client before the next is published, so each is a delta).
function expectedDiffs() {
  let p = 0;
  let t = 0;
  for (let k = 2; k <= STEPS; k += 1) {
    if (isCanonicalJson(doc(k - 1)) && isCanonicalJson(doc(k))) p += 1;
    if (isBmpText(text(k - 1)) && isBmpText(text(k))) t += 1;
  }
  return { p, t };
}

for (const transport of ['WS-STREAMING', 'HTTP-STREAMING']) {
  describe(`diff encodings over ${transport}`, () => {
    it('the client sees every published value exactly, and the wire carried ^P and ^T where allowed',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const token = uniqueToken('diff');
        const server = await s.startServer({ extraArgs: ['--adapters-dir', adaptersDir(s, token)] });
        let wire = '';
        const proxy = await s.startProxy({
          targetPort: server.port,
          onServerData: (chunk) => {
            wire += chunk.toString('latin1');
          },
        });
        const c = s.client(proxy.url, { transport, adapterSet: SET });
        await c.connectAndWait();
        const rec = c.subscribe({ mode: 'MERGE', items: [ITEM], fields: FIELDS, snapshot: 'no' });
        // What the client says it got as a patch, per step.
        const patches = [];
        rec.subscription.addListener({
          onItemUpdate: (u) => patches.push(u.getValueAsJSONPatchIfAvailable('doc')),
        });
        await rec.waitSubscribed();

        for (let k = 1; k <= STEPS; k += 1) {
          const fields = { n: String(k), doc: doc(k), text: text(k) };
          const r = await publish(server.url, token, { adapter_set: SET, item: ITEM, fields });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const u = await rec.waitUpdate((x) => x.values.n === String(k), { what: `step ${k}` });
          assert.equal(u.values.doc, doc(k), `doc at step ${k}`);
          assert.equal(u.values.text, text(k), `text at step ${k}`);
        }

        // The client calls its listeners one after the other: the last
        // step's may still be on its way to this one.
        for (let i = 0; patches.length < STEPS && i < 100; i += 1) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal(patches.length, STEPS, 'one onItemUpdate per step');
        const want = expectedDiffs();
        assert.ok(want.p >= 8 && want.t >= 8, JSON.stringify(want));
        // The client applied a patch exactly where one was allowed.
        const patched = patches.map((p) => p !== null && p !== undefined);
        assert.equal(patched.filter(Boolean).length, want.p, `patches seen by the client: ${JSON.stringify(patched)}`);
        if (transport === 'WS-STREAMING') {
          // Whole lines in WebSocket frames: the tokens can be counted.
          const sentP = (wire.match(/[,|]\^P\[/g) || []).length;
          const sentT = (wire.match(/[,|]\^T[A-Za-z]/g) || []).length;
          assert.deepEqual({ p: sentP, t: sentT }, want);
        }
      }));
  });
}
