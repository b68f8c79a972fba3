'use strict';
// Server crash and restart: the server is killed (SIGKILL) and started again on the
// same port. The client must notice, open a NEW session by itself, redo its
// subscription, and receive updates again.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS, STATUS } = require('../lib/client');
const { scoped } = require('../lib/util');

for (const transport of TRANSPORTS) {
  describe(`server restart with a ${transport} client`, () => {
    it('after SIGKILL and restart on the same port the client opens a new session and rate-10 flows again',
      { timeout: 90000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        const sid = await c.connectAndWait();

        const rec = c.subscribe({ mode: 'RAW', items: ['rate-10'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
        await rec.waitSubscribed();
        await rec.waitCount(5, { timeoutMs: 10000 });

        const statusIndex = c.statusLog.length;
        const started = Date.now();
        await server.restart({ signal: 'SIGKILL' });
        s.note(`server killed and restarted on port ${server.port} in ${Date.now() - started} ms`);

        // A new session, on the forced transport, opened by the client itself.
        const entry = await c.waitStatus(
          (e) => e.status === STATUS.connected(transport) && !!e.sessionId && e.sessionId !== sid,
          { timeoutMs: 40000, fromIndex: statusIndex, what: `${STATUS.connected(transport)} with a new session id (old ${sid})` },
        );
        s.note(`new session ${entry.sessionId} ${entry.at - started} ms after the kill; ` +
          `statuses: ${c.statusLog.slice(statusIndex).map((e) => e.status).join(' -> ')}`);
        assert.notEqual(c.sessionId(), sid, 'the session id must change');

        // The subscription is redone on the new session and delivers again.
        await rec.waitSubscribed({ count: 2, timeoutMs: 15000 });
        const from = rec.updates.findIndex((u) => u.at >= entry.at);
        await rec.waitCount(5, { from: from < 0 ? rec.updates.length : from, timeoutMs: 15000, what: '5 updates on the new session' });
        assert.deepEqual(rec.errors, []);
        assert.deepEqual(c.serverErrors, [], 'no server error is shown to the application');
      }));
  });
}
