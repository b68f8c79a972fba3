'use strict';
// CHAT_ROOM: client messages "CHAT|<text>" are processed (onProcessed) and broadcast
// to every subscriber of chat_room (DISTINCT), over each forced transport.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { TRANSPORTS } = require('../lib/client');
const { scoped, uniqueToken } = require('../lib/util');

const CHAT = { mode: 'DISTINCT', items: ['chat_room'], fields: ['message', 'timestamp', 'IP', 'nick'], dataAdapter: 'CHAT_ROOM', snapshot: 'no' };

for (const transport of TRANSPORTS) {
  describe(`CHAT_ROOM over ${transport}`, () => {
    it('a message sent in a named sequence is processed and reaches both subscribers',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const a = s.client(server.url, { transport, name: 'alice' });
        const b = s.client(server.url, { transport, name: 'bob' });
        await Promise.all([a.connectAndWait(), b.connectAndWait()]);
        const recA = a.subscribe(CHAT);
        const recB = b.subscribe(CHAT);
        await Promise.all([recA.waitSubscribed(), recB.waitSubscribed()]);

        const text = `hello from bob ${uniqueToken()}`;
        const outcome = await b.sendMessage(`CHAT|${text}`, { sequence: 'chat_test' });
        assert.equal(outcome.message, `CHAT|${text}`, 'onProcessed reports the original message');

        const matches = (u) => u.values.message === text;
        const [ua, ub] = await Promise.all([
          recA.waitUpdate(matches, { what: `the chat update ${JSON.stringify(text)}` }),
          recB.waitUpdate(matches, { what: `the chat update ${JSON.stringify(text)}` }),
        ]);
        assert.equal(ua.item, 'chat_room');
        assert.equal(ub.item, 'chat_room');
        assert.equal(recA.updates.filter(matches).length, 1, 'alice: the message exactly once');
        assert.equal(recB.updates.filter(matches).length, 1, 'bob: the message exactly once');
      }));

    it('a message without a sequence (UNORDERED_MESSAGES) is processed and broadcast',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        await c.connectAndWait();
        const rec = c.subscribe(CHAT);
        await rec.waitSubscribed();

        const text = `unordered ${uniqueToken()}`;
        await c.sendMessage(`CHAT|${text}`, { sequence: null });
        await rec.waitUpdate((u) => u.values.message === text, { what: `the chat update ${JSON.stringify(text)}` });
      }));

    it('message text with spaces, reserved and non-ASCII characters arrives unchanged',
      { timeout: 60000 }, (t) => scoped(t, async (s) => {
        const server = await s.startServer();
        const c = s.client(server.url, { transport });
        await c.connectAndWait();
        const rec = c.subscribe(CHAT);
        await rec.waitSubscribed();

        // No '|' in the text: it separates the message parts. Everything else
        // must survive the request encoding and the TLCP value encoding.
        const text = `a b+c&d=e%25f,g;h#i$j^k "l" ü € 😀 ${uniqueToken()}`;
        await c.sendMessage(`CHAT|${text}`, { sequence: 'chat_enc' });
        await rec.waitUpdate((u) => u.values.message === text, {
          what: `the chat update ${JSON.stringify(text)} (exact text)`,
        });
      }));
  });
}
