'use strict';
// Refusals: bad COUNTER item names get a subscription error without harming the
// session; an unknown adapter set gets onServerError with code 2.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS, STATUS } = require('../lib/client');
const { scoped, uniqueToken } = require('../lib/util');

for (const transport of TRANSPORTS) {
  describe(`refusals over ${transport}`, () => {
    it('rate-0 and rate-abc get onSubscriptionError; the session survives and a valid item still streams',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        const sid = await c.connectAndWait();

        for (const item of ['rate-0', 'rate-abc']) {
          const rec = c.subscribe({ mode: 'RAW', items: [item], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
          const err = await rec.waitError({ timeoutMs: 10000 });
          assert.ok(Number.isInteger(err.code), `${item}: error code should be an integer, got ${JSON.stringify(err.code)}`);
          assert.equal(rec.subscribedCount, 0, `${item}: onSubscription must not be called`);
          assert.equal(rec.updates.length, 0, `${item}: no updates expected`);
          s.note(`${item}: onSubscriptionError(${err.code}, ${JSON.stringify(err.message)})`);
        }

        const good = c.subscribe({ mode: 'RAW', items: ['rate-5'], fields: ['seq', 'ts'], dataAdapter: 'COUNTER' });
        await good.waitSubscribed();
        await good.waitCount(3, { timeoutMs: 10000 });
        assert.equal(c.sessionId(), sid, 'same session after the refused subscriptions');
        assert.equal(c.status, STATUS.connected(transport));
        assert.deepEqual(c.serverErrors, [], 'no server error');
      }));

    it('an unknown adapter set gets onServerError with code 2 and the client stops',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const adapterSet = `NO_SUCH_SET_${uniqueToken()}`;
        const c = s.client(server.url, { transport, adapterSet });
        c.connect();
        const err = await c.waitServerError({ timeoutMs: 15000 });
        assert.equal(err.code, 2, `onServerError code (message ${JSON.stringify(err.message)})`);
        // The official server's text, which the clients' own test suites compare.
        assert.equal(err.message, 'Requested Adapter Set not available');
        await c.waitStatus(STATUS.DISCONNECTED, { timeoutMs: 5000, allowServerError: true });
        assert.ok(!c.statusHistory().some((st) => st.startsWith('CONNECTED:')),
          `never connected: ${c.statusHistory().join(' -> ')}`);
      }));
  });
}
