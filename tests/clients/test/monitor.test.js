'use strict';
// MONITOR: the monitor console's adapter set, through the official Node
// client. A local client (the tests run on loopback) gets a session without
// credentials; the console page's own login (`console` and the token from
// /dashboard/token) works too. The items say who the node is and count the
// sessions. Refusals of non-local clients are tested in Rust
// (crates/monitor/tests/sessions.rs): this client cannot forge
// X-Forwarded-For.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped } = require('../lib/util');

const NODE_FIELDS = ['name', 'version', 'pid', 'uptime_s', 'listeners'];
const STATS_FIELDS = ['ts', 'sessions', 'items', 'buffered_bytes', 'cpu_pct'];

async function watch(s, server, transport, configure = null) {
  const c = s.client(server.url, { adapterSet: 'MONITOR', transport, configure });
  await c.connectAndWait();
  const node = c.subscribe({ mode: 'MERGE', items: ['node'], fields: NODE_FIELDS, dataAdapter: 'DEFAULT', snapshot: 'yes' });
  const stats = c.subscribe({ mode: 'DISTINCT', items: ['stats'], fields: STATS_FIELDS, dataAdapter: 'DEFAULT', snapshot: 'yes' });
  return { c, node, stats };
}

describe('MONITOR adapter set', () => {
  it('tells the node name and counts its own session', { timeout: 30000 }, (t) => scoped(t, async (s) => {
    const server = await s.startServer();
    const { c, node, stats } = await watch(s, server, 'WS-STREAMING');
    const identity = await node.waitUpdate((u) => u.values.name != null);
    assert.equal(identity.values.name, c.client.connectionDetails.getServerSocketName());
    assert.equal(identity.values.name, 'Shoal');
    assert.match(identity.values.pid, /^\d+$/);
    assert.match(identity.values.listeners, /127\.0\.0\.1:\d+ \(http\)/);
    const counted = await stats.waitUpdate((u) => Number(u.values.sessions) >= 1,
      { timeoutMs: 5000, what: 'a sample with sessions >= 1' });
    assert.ok(Number(counted.values.ts) > Date.now() - 60000, 'ts is unix milliseconds');
    // A figure not measured is null, never a made-up value.
    const cpu = counted.values.cpu_pct;
    assert.ok(cpu === null || Number.isFinite(Number(cpu)), `cpu_pct ${cpu}`);
  }));

  it('accepts the console page login from /dashboard/token', { timeout: 30000 }, (t) => scoped(t, async (s) => {
    const server = await s.startServer();
    const res = await fetch(`${server.url}/dashboard/token`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const login = await res.json();
    assert.equal(login.user, 'console');
    assert.match(login.password, /^[0-9a-f]{32}$/);
    const { stats } = await watch(s, server, 'HTTP-STREAMING', (ls) => {
      ls.connectionDetails.setUser(login.user);
      ls.connectionDetails.setPassword(login.password);
    });
    await stats.waitUpdate((u) => Number(u.values.sessions) >= 1, { timeoutMs: 5000 });
  }));
});
