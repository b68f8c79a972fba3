'use strict';
// Bad input sent on the wire (raw HTTP and WebSocket, as a hostile or broken
// client would): every request gets the right TLCP error, naming what is
// wrong, the refusal is logged once, and a healthy official client on the
// same server keeps its session with no gap in its data.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { scoped, sequenceProblems, parseSeq } = require('../lib/util');

const PROTO = 'LS_protocol=TLCP-2.5.0';

async function post(base, request, body, query = PROTO) {
  const res = await fetch(`${base}/lightstreamer/${request}?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body,
  });
  return { status: res.status, text: await res.text() };
}

function firstLine(text) {
  return text.split('\r\n')[0];
}

// Opens a raw TLCP WebSocket and collects the text frames it receives.
function rawSocket(base) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/lightstreamer`, 'TLCP-2.5.0.lightstreamer.com');
  const frames = [];
  const waiters = [];
  ws.on('message', (data) => {
    frames.push(data.toString());
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  async function next(pred, what, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame with ${what}; got ${JSON.stringify(frames)}`);
      await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, left); });
    }
  }
  return { ws, frames, opened, closed, next };
}

describe('bad input', () => {
  it('each bad request gets its TLCP error, logged once, and other sessions are unharmed',
    { timeout: 90000 }, (t) => scoped(t, async (s) => {
      const server = await s.startServer({ extraArgs: ['--max-sessions', '3'] });
      const base = server.url;

      // The bystander: an official client streaming a counter all along.
      const c = s.client(base, { transport: 'WS-STREAMING' });
      const sid = await c.connectAndWait();
      const rec = c.subscribe({ mode: 'RAW', items: ['rate-20'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
      await rec.waitCount(5, { timeoutMs: 10000 });

      // Oversized requests (the limit announced in CONOK is 50000 bytes).
      const huge = 'LS_reqId=1&LS_op=add&LS_subId=1&LS_group=' + 'x'.repeat(60000) + '&LS_schema=a&LS_mode=RAW';
      let r = await post(base, 'control.txt', huge, `${PROTO}&LS_session=${sid}`);
      assert.match(firstLine(r.text), /^ERROR,67,.*50000/, 'oversized control');
      r = await post(base, 'create_session.txt', 'LS_cid=x&LS_user=' + 'u'.repeat(60000));
      assert.match(firstLine(r.text), /^CONERR,67,/, 'oversized create_session');

      // Malformed and unknown requests.
      r = await post(base, 'create_session.txt', 'garbage');
      assert.match(firstLine(r.text), /^CONERR,67,.*garbage/, 'a parameter without =value');
      r = await post(base, 'frobnicate.txt', 'LS_session=x');
      assert.match(firstLine(r.text), /^ERROR,67,.*frobnicate/, 'unknown request name');
      r = await post(base, 'create_session.txt', 'LS_cid=x', 'LS_protocol=TLCP-1.0.0');
      assert.match(firstLine(r.text), /^CONERR,60,/, 'unsupported protocol version');

      // Bad LS_ values name the parameter.
      r = await post(base, 'create_session.txt', 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=maybe');
      assert.match(firstLine(r.text), /^CONERR,65,.*LS_polling/, 'bad LS_polling');
      r = await post(base, 'create_session.txt', 'LS_adapter_set=NOPE&LS_cid=x&LS_polling=true&LS_polling_millis=0');
      assert.equal(firstLine(r.text), 'CONERR,2,Requested Adapter Set not available', 'unknown adapter set: the official text');

      // A second session, created raw, for control requests with bad values.
      r = await post(base, 'create_session.txt', 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0&LS_idle_millis=0');
      const raw = firstLine(r.text).split(',')[1];
      assert.match(firstLine(r.text), /^CONOK,S/, r.text);
      const controls = [
        ['LS_reqId=1&LS_op=add&LS_subId=1&LS_group=item1&LS_schema=last_price&LS_mode=FOO', /^REQERR,1,65,.*LS_mode/],
        ['LS_reqId=2&LS_op=add&LS_subId=0&LS_group=item1&LS_schema=last_price&LS_mode=MERGE', /^REQERR,2,65,.*LS_subId/],
        ['LS_reqId=3&LS_op=add&LS_subId=1&LS_group=item1&LS_schema=last_price&LS_mode=MERGE&LS_requested_max_frequency=fast', /^REQERR,3,65,.*LS_requested_max_frequency/],
        ['LS_reqId=4&LS_op=add&LS_subId=1&LS_group=item99&LS_schema=last_price&LS_mode=MERGE&LS_data_adapter=QUOTE_ADAPTER', /^REQERR,4,21,.*item99/],
        ['LS_reqId=5&LS_op=add&LS_subId=1&LS_group=item1&LS_schema=last_price&LS_mode=MERGE&LS_data_adapter=NOPE', /^REQERR,5,17,.*NOPE/],
        ['LS_reqId=6&LS_op=delete&LS_subId=42', /^REQERR,6,19,/],
        ['LS_reqId=7&LS_op=explode', /^REQERR,7,65,.*LS_op/],
      ];
      r = await post(base, 'control.txt', controls.map(([line]) => line).join('\r\n'), `${PROTO}&LS_session=${raw}`);
      const answers = r.text.split('\r\n').filter(Boolean);
      assert.equal(answers.length, controls.length, r.text);
      for (const [i, [, pattern]] of controls.entries()) assert.match(answers[i], pattern);

      // Unknown sessions.
      r = await post(base, 'bind_session.txt', 'LS_session=Sbogus0000&LS_polling=true&LS_polling_millis=0');
      assert.match(firstLine(r.text), /^CONERR,20,.*Sbogus0000/, 'bind of an unknown session');
      r = await post(base, 'control.txt', 'LS_reqId=9&LS_op=delete&LS_subId=1', `${PROTO}&LS_session=Sbogus0000`);
      assert.match(firstLine(r.text), /^REQERR,9,20,/, 'control of an unknown session');

      // Too many sessions: the bystander and the raw one leave room for one more.
      r = await post(base, 'create_session.txt', 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0');
      assert.match(firstLine(r.text), /^CONOK,/, 'the third session fits');
      r = await post(base, 'create_session.txt', 'LS_adapter_set=DEMO&LS_cid=x&LS_polling=true&LS_polling_millis=0');
      assert.match(firstLine(r.text), /^CONERR,8,/, 'the fourth session is refused');

      // WebSocket: a wrong subprotocol is refused; garbage frames get ERROR;
      // a frame over the limit is refused, and one far over it closes that
      // socket only.
      const noProto = await new Promise((resolve, reject) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/lightstreamer`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('open', () => { ws.close(); resolve('opened'); });
        ws.on('error', reject);
      });
      assert.equal(noProto, 400, 'a WebSocket without the TLCP subprotocol');
      const w = rawSocket(base);
      await w.opened;
      w.ws.send('nonsense');
      await w.next((f) => /^ERROR,67,.*nonsense/.test(f), 'ERROR,67 for an unknown request');
      w.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      await w.next((f) => /^ERROR,67,.*text/.test(f), 'ERROR,67 for a binary frame');
      w.ws.send('control\r\nLS_reqId=1&LS_op=add&LS_subId=1&LS_group=item1&LS_schema=a&LS_mode=MERGE');
      await w.next((f) => /^REQERR,1,65,.*LS_session/.test(f), 'REQERR for a control with no session on the socket');
      w.ws.send('msg\r\nLS_message=' + 'm'.repeat(70000));
      await w.next((f) => /^ERROR,67,.*70016 bytes.*50000/.test(f), 'ERROR,67 for a frame over the request limit');
      w.ws.send('wsok');
      await w.next((f) => f === 'WSOK\r\n', 'the socket still answers after the refusal');
      w.ws.send('msg\r\nLS_message=' + 'm'.repeat(250000));
      assert.notEqual(await w.closed, undefined, 'a frame far over the limit closes the socket');

      // The server is healthy and the bystander never noticed.
      const health = await fetch(`${base}/lightstreamer/healthcheck`);
      assert.equal(health.status, 200);
      const before = rec.updates.length;
      await rec.waitCount(before + 10, { timeoutMs: 10000 });
      assert.equal(c.sessionId(), sid, 'the bystander kept its session');
      const seqs = rec.updates.map((u) => parseSeq(u.values.seq));
      assert.deepEqual(sequenceProblems(seqs), [], 'the bystander lost or repeated nothing');

      // Logged once, never a panic.
      const log = server.logTail(100000);
      assert.doesNotMatch(log, /panicked/);
      assert.equal(log.split('\n').filter((l) => l.includes('Sbogus0000') && /refused/.test(l)).length, 1,
        'the refused bind is logged exactly once');
    }));
});
