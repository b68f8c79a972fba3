'use strict';
// Self-test of the harness (lib/server.js, lib/proxy.js, lib/util.js) against a fake
// server (fixtures/fake-shoal.js run by node): does not need the Shoal binary.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { ShoalServer } = require('../lib/server');
const { startProxy } = require('../lib/proxy');
const { sequenceProblems, compactRanges, parseSeq, waitUntil } = require('../lib/util');

const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-shoal.js');
// The fake knows no --drain-* flags (and stops at once on SIGTERM anyway).
const fakeOpts = (extra = {}) => ({ bin: process.execPath, binArgs: [FAKE], name: 'fake-shoal', fastStop: false, ...extra });

async function health(url) {
  const res = await fetch(`${url}/lightstreamer/healthcheck`, { signal: AbortSignal.timeout(5000) });
  return `${res.status} ${await res.text()}`;
}

// Streams /stream through `url`; resolves once `minChunks` chunks arrived, with
// an object whose `ended` promise settles when the response ends or fails.
function openStream(url, minChunks = 2) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/stream`, { agent: false }, (res) => {
      let chunks = 0;
      let resolved = false;
      const ended = new Promise((done) => {
        res.on('error', (err) => done(`error: ${err.message}`));
        res.on('end', () => done('end'));
        res.on('close', () => done('close'));
      });
      const stream = { ended, req, get chunks() { return chunks; } };
      res.on('data', () => {
        chunks += 1;
        if (!resolved && chunks >= minChunks) {
          resolved = true;
          resolve(stream);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('harness: lib/server.js', () => {
  it('starts, reports url/port, restarts on the same port, stops', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts());
    t.after(() => server.stop());
    await server.start();
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(server.port > 0);
    assert.equal(await health(server.url), '200 OK');
    const pid1 = server.proc.pid;
    const port1 = server.port;

    await server.restart({ signal: 'SIGKILL' });
    assert.equal(server.port, port1, 'same port after restart');
    assert.notEqual(server.proc.pid, pid1, 'a new process');
    assert.equal(await health(server.url), '200 OK');
    assert.match(server.logTail(), /process #1 exited \(code null, signal SIGKILL\)/);

    await server.stop();
    assert.equal(server.running, false);
    await assert.rejects(health(server.url), 'nothing listens after stop');
  });

  it('several --listen addresses give several urls', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts({ listen: ['127.0.0.1:0', '127.0.0.1:0'] }));
    t.after(() => server.stop());
    await server.start();
    assert.equal(server.addresses.length, 2);
    for (const a of server.addresses) assert.equal(await health(a.url), '200 OK');
  });

  it('stop falls back to SIGKILL when SIGTERM is ignored', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts({ env: { FAKE_IGNORE_SIGTERM: '1' } }));
    t.after(() => server.stop());
    await server.start();
    await server.stop({ graceMs: 300 });
    assert.equal(server.running, false);
    assert.match(server.logTail(), /ignoring SIGTERM/);
    assert.match(server.logTail(), /SIGKILL/);
  });

  it('a missing binary and an early exit are reported clearly', { timeout: 30000 }, async () => {
    const missing = new ShoalServer({ bin: '/nonexistent/shoal' });
    await assert.rejects(missing.start(), /not found or not executable: \/nonexistent\/shoal/);
    // The fake exits with status 2 on an unknown command: the output is in the error.
    const early = new ShoalServer(fakeOpts({ binArgs: [FAKE, 'bogus'] }));
    await assert.rejects(early.start(), /exited before listening \(code 2[\s\S]*unknown command bogus/);
    assert.equal(early.running, false);
  });
});

describe('harness: lib/proxy.js', () => {
  it('forwards, cuts every connection mid-stream, then accepts new ones', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts());
    t.after(() => server.stop());
    await server.start();
    const proxy = await startProxy({ targetPort: server.port });
    t.after(() => proxy.close());

    assert.equal(await health(proxy.url), '200 OK');
    const s1 = await openStream(proxy.url);
    const s2 = await openStream(proxy.url);
    // (the health check's keep-alive connection may still be open too)
    const open = proxy.active;
    assert.ok(open >= 2, proxy.describe());

    assert.equal(proxy.cutAll(), open);
    const outcomes = await Promise.all([s1.ended, s2.ended]);
    for (const o of outcomes) assert.notEqual(o, 'end', `a cut stream must not end cleanly (${o})`);
    assert.equal(proxy.active, 0);
    assert.equal(proxy.stats.cuts, 1);
    assert.equal(proxy.stats.cutConnections, open);

    assert.equal(await health(proxy.url), '200 OK', 'new connections still accepted');
    assert.ok(proxy.stats.accepted >= 4, proxy.describe());
  });

  it('freezeAll swallows server data (counting update lines) until cutAll', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts());
    t.after(() => server.stop());
    await server.start();
    const proxy = await startProxy({ targetPort: server.port });
    t.after(() => proxy.close());

    const s1 = await openStream(proxy.url);
    assert.ok(proxy.freezeAll() >= 1);
    const seen = s1.chunks;
    await waitUntil(proxy, () => proxy.stats.droppedUpdateLines >= 5, {
      timeoutMs: 5000, what: '5 dropped update lines', state: () => proxy.describe(),
    });
    assert.ok(s1.chunks <= seen + 1, `nothing (but a chunk in transit) reaches the client while frozen: ${s1.chunks} vs ${seen}`);
    // New connections opened during the black hole are frozen too.
    const late = fetch(`${proxy.url}/lightstreamer/healthcheck`, { signal: AbortSignal.timeout(5000) })
      .then((res) => `answered ${res.status}`, (err) => `failed: ${err.message}`);
    const dropped = proxy.stats.droppedBytesToClient;
    await waitUntil(proxy, () => proxy.stats.frozenConnections >= 2 && proxy.stats.droppedBytesToClient > dropped + 20, {
      timeoutMs: 5000, what: 'the late connection frozen', state: () => proxy.describe(),
    });
    proxy.cutAll();
    assert.notEqual(await s1.ended, 'end');
    assert.match(await late, /^failed/, 'the frozen request fails when cut');
    assert.equal(proxy.frozen, false, 'cutAll ends the black hole');
    assert.equal(await health(proxy.url), '200 OK');
  });

  it('an unreachable upstream closes the client connection', { timeout: 30000 }, async (t) => {
    const server = new ShoalServer(fakeOpts());
    await server.start();
    const port = server.port;
    await server.stop();
    const proxy = await startProxy({ targetPort: port });
    t.after(() => proxy.close());
    await assert.rejects(health(proxy.url));
    assert.ok(proxy.stats.upstreamErrors >= 1, proxy.describe());
  });
});

describe('harness: lib/util.js', () => {
  it('sequenceProblems finds gaps, duplicates and regressions', () => {
    assert.deepEqual(sequenceProblems([5, 6, 7, 8]), []);
    assert.deepEqual(sequenceProblems([5, 6, 6, 7]), ['#2: duplicate seq 6']);
    assert.deepEqual(sequenceProblems([5, 6, 9]), ['#2: gap 6 -> 9 (2 missing)']);
    assert.deepEqual(sequenceProblems([5, 6, 2]), ['#2: seq went back 6 -> 2']);
    assert.deepEqual(sequenceProblems([1, null, 3].map((v) => parseSeq(v === null ? v : String(v)))), ['#1: seq null is not an integer']);
    assert.equal(parseSeq('12'), 12);
    assert.equal(parseSeq('1.5'), '1.5');
    assert.equal(compactRanges([1, 2, 3, 5, 7, 8]), '1..3, 5, 7..8');
  });
});
