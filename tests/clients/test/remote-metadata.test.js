'use strict';
// Remote metadata adapters (Node SDK 1.5.3, Python SDK 1.3.1): client messages
// processed or refused with the adapter's code, users refused (AccessError,
// CreditsError), item/schema/mode refusals, and what the adapter is told about
// users and sessions (HTTP headers, context, session close), which the test
// reads back from the item seen_<user> of the same remote process.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { STATUS } = require('../lib/client');
const { scoped, uniqueToken } = require('../lib/util');
const { LANGS, FIELDS, setId, startWithRemotes } = require('../lib/remote');

const TRANSPORT = 'WS-STREAMING';
const USER_AGENT = 'shoal-remote-test/1.0';

async function start(s, lang) {
  const id = setId(lang);
  const { server } = await startWithRemotes(s, { sets: [{ id, lang }] });
  const client = (opts = {}) => s.client(server.url, { transport: TRANSPORT, adapterSet: id, ...opts });
  return { server, client, id };
}

// Resolves with how a message ended: { outcome: 'processed' } or
// { outcome: 'deny', code, message } or { outcome: 'error' } ...
function messageOutcome(c, text) {
  return c.sendMessage(text).then(() => ({ outcome: 'processed' }), (err) => {
    const deny = /onDeny\((-?\d+), (".*")\)/.exec(err.message);
    if (deny) return { outcome: 'deny', code: Number(deny[1]), message: JSON.parse(deny[2]) };
    const other = /: (onError|onDiscarded|onAbort)/.exec(err.message);
    if (other) return { outcome: other[1] };
    throw err;
  });
}

const asUser = (user, password = null, headers = null) => (ls) => {
  ls.connectionDetails.setUser(user);
  if (password != null) ls.connectionDetails.setPassword(password);
  if (headers) ls.connectionOptions.setHttpExtraHeaders(headers);
};

const header = (headers, name) => {
  const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
};

for (const lang of LANGS) {
  describe(`${lang} remote metadata adapter (${TRANSPORT})`, () => {
    it('messages: success -> onProcessed; CreditsError(-17) -> onDeny(-17, its text); NotificationError -> onError',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const { client } = await start(s, lang);
        const c = client();
        const sid = await c.connectAndWait();
        assert.deepEqual(await messageOutcome(c, 'ECHO|hello'), { outcome: 'processed' });
        assert.deepEqual(await messageOutcome(c, 'FAIL|-17|not enough credits'),
          { outcome: 'deny', code: -17, message: 'not enough credits' });
        assert.deepEqual(await messageOutcome(c, 'REJECT|malformed'), { outcome: 'onError' });
        assert.deepEqual(await messageOutcome(c, 'ECHO|still here'), { outcome: 'processed' });
        assert.equal(c.sessionId(), sid, 'same session after the refused messages');
      }));

    it('users refused: AccessError -> onServerError(1); CreditsError(-42) -> onServerError(-42, its text)',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const { client } = await start(s, lang);
        for (const [user, code, message] of [['refused', 1, null], ['nocredit', -42, 'Out of credits']]) {
          const c = client({ name: user, configure: asUser(user, 'pw') });
          c.connect();
          const err = await c.waitServerError();
          assert.equal(err.code, code, `${user}: ${JSON.stringify(err)}`);
          if (message != null) assert.equal(err.message, message);
          await c.waitStatus(STATUS.DISCONNECTED, { allowServerError: true });
          assert.ok(!c.statusHistory().some((st) => st.startsWith('CONNECTED:')), `${user}: ${c.statusHistory()}`);
        }
        const ok = client({ name: 'accepted', configure: asUser('someone', 'pw') });
        await ok.connectAndWait();
      }));

    it('refusals: bad item -> 21, bad field -> 23, MERGE on a RAW-only item -> 24; the session goes on',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const { client } = await start(s, lang);
        const c = client();
        const sid = await c.connectAndWait();
        const cases = [
          { code: 21, spec: { mode: 'MERGE', items: ['stock_A', 'bad_item'], fields: FIELDS.stock } },
          { code: 23, spec: { mode: 'MERGE', items: ['stock_A'], fields: ['stock_name', 'bad_field'] } },
          { code: 24, spec: { mode: 'MERGE', items: ['rawonly_5'], fields: FIELDS.counter } },
        ];
        for (const { code, spec } of cases) {
          const rec = c.subscribe(spec);
          const err = await rec.waitError();
          assert.equal(err.code, code, `${JSON.stringify(spec)}: ${JSON.stringify(err)}`);
          assert.equal(rec.subscribedCount, 0);
        }
        const raw = c.subscribe({ mode: 'RAW', items: ['rawonly_5'], fields: FIELDS.counter });
        await raw.waitCount(2, { what: 'rawonly_5 in RAW mode, which it allows' });
        assert.equal(c.sessionId(), sid);
        assert.deepEqual(c.serverErrors, []);
      }));

    it('notifyUser gets the user, password and HTTP headers; notifyNewSession REMOTE_IP and USER_AGENT; then the session close',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const { client } = await start(s, lang);
        const user = `u${uniqueToken()}`;
        const token = uniqueToken('h');
        const c = client({ name: 'watched', configure: asUser(user, 'pw1', { 'User-Agent': USER_AGENT, 'X-Shoal-Test': token }) });
        const sid = await c.connectAndWait();

        const observer = client({ name: 'observer' });
        await observer.connectAndWait();
        const rec = observer.subscribe({ mode: 'MERGE', items: [`seen_${user}`], fields: FIELDS.seen, snapshot: 'yes' });
        const parsed = (u) => ({ nus: JSON.parse(u.values.nus), nns: JSON.parse(u.values.nns), closed: JSON.parse(u.values.closed) });
        const seen = parsed(await rec.waitUpdate((u) => parsed(u).nns != null, { what: `what the metadata adapter saw of ${user}` }));
        s.note(`seen: ${JSON.stringify(seen)}`);
        assert.equal(seen.nus.user, user);
        assert.equal(seen.nus.password, 'pw1');
        assert.equal(header(seen.nus.headers, 'user-agent'), USER_AGENT, `headers ${JSON.stringify(seen.nus.headers)}`);
        assert.equal(header(seen.nus.headers, 'x-shoal-test'), token, `headers ${JSON.stringify(seen.nus.headers)}`);
        assert.equal(seen.nns.session, sid, 'notifyNewSession has the session id the client got');
        assert.equal(seen.nns.context.REMOTE_IP, '127.0.0.1', `context ${JSON.stringify(seen.nns.context)}`);
        assert.equal(seen.nns.context.USER_AGENT, USER_AGENT, `context ${JSON.stringify(seen.nns.context)}`);
        assert.deepEqual(seen.closed, []);

        await c.close();
        const after = await rec.waitUpdate((u) => parsed(u).closed.length > 0, { what: 'notifySessionClose' });
        assert.deepEqual(parsed(after).closed, [sid]);
      }));
  });
}
