'use strict';
// The remote adapter harness itself (lib/remote.js and the test adapters of
// tests/adapters), against fixtures/fake-ari-shoal.js: no Shoal binary needed.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { scoped } = require('../lib/util');
const { makeCerts } = require('../lib/certs');
const { LANGS, setId, startWithRemotes, testAdapter } = require('../lib/remote');

const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-ari-shoal.js');
const serverOpts = { bin: process.execPath, binArgs: [FAKE], name: 'fake-ari-shoal', fastStop: false };
const AUTH = { user: 'ari-remote', password: 'pa ss|w%rd' };

for (const lang of LANGS) {
  describe(`remote harness with the ${lang} test adapter`, () => {
    it('plain proxies: port lines read, adapter dials them, answers init with ARI 1.8.3, then the server listens',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const id = setId(lang);
        const { server, adapters } = await startWithRemotes(s, { sets: [{ id, lang }], serverOpts });
        await adapters[id].waitReady();
        assert.match(server.url, /^http:\/\//);
        assert.match(server.logTail(), /MPI\|S\|ARI\.version\|S\|1\.8\.3/);
        assert.match(server.logTail(), /DPI\|S\|ARI\.version\|S\|1\.8\.3/);
        if (lang === 'node') assert.match(server.logTail(), /notify_port < \d+\|RAC\|/, 'RAC on the notify connection');
      }));

    it('wrong credentials: CLOSE, the adapter exits with 2 and no listener; right ones: the server listens',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const id = setId(lang);
        const { server, ports, listening } = await startWithRemotes(s, {
          sets: [{ id, lang, auth: AUTH }], serverOpts, startAdapters: false,
        });
        const p = ports.of(id);
        const wrong = s.track(testAdapter(lang, { ports: p, auth: { user: AUTH.user, password: 'wrong' }, name: 'wrong' }));
        await wrong.start();
        const exit = await wrong.waitExit();
        assert.equal(exit.code, 2, wrong.logTail());
        assert.match(server.logTail(), new RegExp(`refused.*${id}`));
        assert.equal(server.url, null, 'no listener yet');
        const right = s.track(testAdapter(lang, { ports: p, auth: AUTH, name: 'right' }));
        await right.start();
        await listening;
        await right.waitReady();
      }));

    it('TLS on the ARI ports (PEM keystore), robust proxies: listening at once, adapter initialised, kill -9 and again',
      { timeout: 30000 }, (t) => scoped(t, async (s) => {
        const certs = makeCerts(s.tempDir('shoal-certs-'));
        const id = setId(lang);
        const { adapters, ports } = await startWithRemotes(s, {
          sets: [{ id, lang, robust: true, tls: certs, auth: AUTH }], serverOpts,
        });
        assert.equal(ports.of(id).scheme, 'tls');
        const a = adapters[id];
        await a.kill();
        assert.equal(a.exits.at(-1).signal, 'SIGKILL');
        await a.start();
        await a.waitReady();
        assert.equal(a.generation, 2);
      }));
  });
}
