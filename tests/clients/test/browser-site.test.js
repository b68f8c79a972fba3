'use strict';
// Pages of the company's own web site, not served by the push cluster, in
// Chromium through the cookie-sticky kits (1.A.2 over HTTP, 2.A.2 over
// HTTPS with TLS offload; HAProxy, and nginx, whose cookie comes from maps): the page is on www.example.test (another origin,
// the same site as push.example.test) or on www.partner.test (another
// site, allowed with cluster-plan --page-origin). It loads the official web
// client from the cluster, sets setCookieHandlingRequired(true) as the
// kit's README says, forces each transport in turn and subscribes to six
// items one after the other: each subscription is a control request that
// must reach the node holding the session.
//
// Checks, per page and transport: the page streams (every item confirmed
// and updated, live updates after the snapshots) on one session; every
// request of the session reached the node that holds it, none a node that
// did not know it; over HTTP transports, every control and bind request
// carried the balancer's cookie for that node. 2.A.2's cookie
// (SameSite=None; Secure; Partitioned) goes from both sites; 1.A.2's
// (SameSite=Lax, plain HTTP) from the company's site only: a partner's page
// gets none (checked), and streams over WS-STREAMING, which needs no cookie
// (its requests travel on the connection, which stays on its node), as the
// kit's README says.
// Then the node of an HTTP-POLLING page is killed: the page gets a new
// session on the other node and streams again by itself.
//
// Networks 127.0.130.x to 127.0.133.x, which no other test uses.

const { test } = require('node:test');
const http = require('node:http');
const https = require('node:https');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { withKit } = require('../lib/cluster');
const { makeKit } = require('../lib/topology');
const { readHostsFile } = require('../lib/hosts');
const { scoped } = require('../lib/util');
const { launchBrowser, screenshot } = require('../lib/browser');
const { makeAuthority, signServer } = require('../lib/certs');
const { startSite } = require('../lib/site');

const KITS = [
  { id: '1.A.2', network: '127.0.130', https: false, sitePort: 8081 },
  { id: '2.A.2', network: '127.0.131', https: true, sitePort: 9443 },
  { id: '1.A.2', balancer: 'nginx', network: '127.0.132', https: false, sitePort: 8081 },
  { id: '2.A.2', balancer: 'nginx', network: '127.0.133', https: true, sitePort: 9443 },
].map((k) => ({ balancer: 'haproxy', ...k, name: `${k.id}${k.balancer ? `, ${k.balancer}` : ''}` }));
const TRANSPORTS = ['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING'];
const OWN_SITE = 'www.example.test';
const PARTNER = 'www.partner.test';
const ITEMS = 6;
const WAIT_MS = 30000;

// Host name -> address for Chromium: the kit's names and the two sites'.
function browserHosts(kit, siteAddress) {
  const map = readHostsFile(kit.hostsFile);
  const hosts = Object.fromEntries([...map].map(([name, list]) => [name, list[0].address]));
  return { ...hosts, [OWN_SITE]: siteAddress, [PARTNER]: siteAddress };
}

// Opens the site's page for `transport` in a fresh context (no cookies) and
// records the page's requests to the cluster.
async function openPage(browser, kit, site, host, transport) {
  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => {
    if (r.url().startsWith(kit.publicUrl)) requests.push(r);
  });
  const query = new URLSearchParams({ server: kit.publicUrl, transport, items: String(ITEMS) });
  await page.goto(`${site.origin(host)}/?${query}`);
  return { page, requests };
}

// What the page's script recorded (window.page).
function pageState(page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(window.page)));
}

// Waits until the page is connected on `transport` with every item
// confirmed and at least one live update beyond the snapshots.
async function waitStreaming(page, transport) {
  try {
    await page.waitForFunction(
      ([want, n]) => {
        const p = window.page;
        const counts = Object.values(p.updates);
        return p.status === want && p.subscribed.length === n && counts.length === n && counts.reduce((a, b) => a + b, 0) > n;
      },
      [`CONNECTED:${transport}`, ITEMS],
      { timeout: WAIT_MS },
    );
  } catch (err) {
    err.message = `${err.message}\npage state: ${JSON.stringify(await pageState(page))}`;
    throw err;
  }
  return pageState(page);
}

// The TLCP requests among `requests` (playwright Requests), with the Cookie
// header each carried.
async function tlcpRequests(requests) {
  const out = [];
  for (const r of requests) {
    const m = /\/lightstreamer\/(\w+)\.txt/.exec(r.url());
    if (m) out.push({ name: m[1], cookie: (await r.allHeaders()).cookie || '' });
  }
  return out;
}

// The LSNODE cookies the cluster set in answer to `requests`, each with
// whether its request had an Origin (the web client's XHRs do; the
// script it is loaded from, a plain <script>, does not).
async function setCookies(requests) {
  const out = [];
  for (const r of requests) {
    const response = await r.response().catch(() => null);
    const headers = response ? await response.allHeaders().catch(() => ({})) : {};
    const set = (headers['set-cookie'] || '').split('\n').find((c) => c.startsWith('LSNODE='));
    if (set) out.push({ url: r.url(), origin: Boolean((await r.allHeaders()).origin), set });
  }
  return out;
}

// The attributes of the balancer's cookie in answers to browsers (requests
// with an Origin) and to other clients, per kit (README.md, haproxy.cfg).
const COOKIE = {
  https: { browser: ['HttpOnly', 'Secure', 'SameSite=None', 'Partitioned'], other: ['HttpOnly'] },
  http: { browser: ['HttpOnly', 'SameSite=Lax'], other: ['HttpOnly'] },
};

// The attributes of a Set-Cookie value, after its name=value.
function cookieAttributes(setCookie) {
  return setCookie.split(';').slice(1).map((a) => a.trim()).filter((a) => !/^path=/i.test(a));
}

// A GET through the balancer as a non-browser client makes it (no Origin,
// or `origin`): resolves with the Set-Cookie of the answer.
function balancerSetCookie(kit, address, authority, origin = null) {
  const url = new URL('/lightstreamer/healthcheck', kit.publicUrl);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, {
      lookup: (_host, _opts, cb) => cb(null, [{ address, family: 4 }]),
      ca: authority ? fs.readFileSync(authority.cert) : undefined,
      headers: origin ? { origin } : {},
    }, (res) => {
      res.resume();
      resolve([].concat(res.headers['set-cookie'] || []).find((c) => c.startsWith('LSNODE=')) || '');
    });
    req.on('error', reject);
    req.end();
  });
}

async function closePage(page) {
  await page.evaluate(() => window.client && window.client.disconnect()).catch(() => {});
  await page.context().close();
}

// One page on one transport: streams, on one node, with the cookie where
// the transport needs it.
async function checkPage(t, kit, browser, site, host, transport, cookie) {
  const unknownBefore = kit.unknownSessionRequests().length;
  const { page, requests } = await openPage(browser, kit, site, host, transport);
  try {
    const state = await waitStreaming(page, transport);
    assert.deepEqual(state.errors, [], 'no server or subscription error');
    assert.equal(state.sessions.length, 1, `one session: ${state.sessions.join(', ')}`);
    const sid = state.sessions[0];
    const { node } = await kit.waitSession(sid);
    const served = kit.requestsOf(sid);
    assert.ok(served.some((r) => r.request === 'control'), 'the subscriptions reached a node as control requests');
    assert.deepEqual(served.filter((r) => r.node !== node), [], `every request of ${sid} on ${node}`);
    assert.deepEqual(kit.unknownSessionRequests().slice(unknownBefore), [], 'no request reached a node without the session');
    if (transport.startsWith('HTTP')) {
      const sent = await tlcpRequests(requests);
      const following = sent.filter((r) => r.name !== 'create_session');
      assert.ok(following.some((r) => r.name === 'control'), `control requests over HTTP: ${JSON.stringify(sent)}`);
      for (const r of following) {
        assert.match(r.cookie, new RegExp(`(^|; )LSNODE=${node}(;|$)`), `${r.name} carried the sticky cookie of ${node}`);
      }
      const sets = await setCookies(requests);
      assert.ok(sets.length > 0, 'the balancer set its cookie');
      for (const c of sets) {
        assert.deepEqual(cookieAttributes(c.set), c.origin ? cookie.browser : cookie.other, `the cookie set for ${c.url}: ${c.set}`);
      }
    }
    t.diagnostic(`${host} ${transport}: session ${sid} on ${node}, ${Object.values(state.updates).reduce((a, b) => a + b, 0)} updates`);
  } finally {
    await closePage(page);
  }
}

// A page of another site over plain HTTP: the browser refuses the
// balancer's SameSite=Lax cookie, as the kit's README says.
async function checkNoCookieCrossSite(t, kit, browser, site) {
  const { page, requests } = await openPage(browser, kit, site, PARTNER, 'HTTP-STREAMING');
  try {
    await page.waitForFunction(() => window.page.sessions.length > 0, null, { timeout: WAIT_MS });
    const sent = await tlcpRequests(requests);
    assert.ok(sent.length > 0, 'the page sent requests to the cluster');
    const jar = await page.context().cookies(kit.publicUrl);
    assert.deepEqual(jar.filter((c) => c.name === 'LSNODE'), [], 'no LSNODE cookie kept for a cross-site page over HTTP');
    assert.deepEqual(sent.filter((r) => r.cookie.includes('LSNODE')), [], 'no request carried LSNODE');
    t.diagnostic(`${PARTNER} over HTTP: ${sent.length} requests, none with the cookie (README: WebSocket or HTTPS)`);
  } finally {
    await closePage(page);
  }
}

// kill -9 of the node of an HTTP-POLLING page: a new session on the other
// node, streaming again.
async function checkFailOver(t, id, kit, browser, site) {
  const { page } = await openPage(browser, kit, site, OWN_SITE, 'HTTP-POLLING');
  try {
    const state = await waitStreaming(page, 'HTTP-POLLING');
    const first = state.sessions[0];
    const { node } = await kit.waitSession(first);
    const kill = await kit.kill(node);
    await page.evaluate(() => {
      window.page.updates = {};
    });
    await page.waitForFunction(
      (old) => {
        const p = window.page;
        const now = window.client.connectionDetails.getSessionId();
        return now && now !== old && p.status === 'CONNECTED:HTTP-POLLING' && Object.keys(p.updates).length === p.subscribed.length;
      },
      first,
      { timeout: WAIT_MS },
    );
    const ms = Date.now() - kill.t;
    const after = await pageState(page);
    const second = after.sessions[after.sessions.length - 1];
    const survivor = (await kit.waitSession(second)).node;
    assert.notEqual(survivor, node, 'the new session is on the node still alive');
    assert.deepEqual(kit.requestsOf(second).filter((r) => r.node !== survivor), [], `every request of ${second} on ${survivor}`);
    t.diagnostic(`HTTP-POLLING: ${node} killed, every item updated again on ${survivor} after ${ms} ms`);
    await screenshot(page, `site-${id}-failover`);
  } finally {
    await closePage(page);
  }
}

for (const k of KITS) {
  test(`${k.name}: pages of the company's site and of a partner's stream through the kit on every transport`, { timeout: 300000 }, (t) =>
    scoped(t, async (s) => {
      const certs = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-site-certs-'));
      t.after(() => fs.rmSync(certs, { recursive: true, force: true }));
      const authority = k.https ? makeAuthority(certs, 'Example Corp test CA') : null;
      const tls = k.https ? signServer(certs, authority, [OWN_SITE, PARTNER]) : null;
      const siteAddress = `${k.network}.20`;
      const site = await startSite({ address: siteAddress, port: k.sitePort, tls });
      t.after(() => site.close());
      // The partner's origin allowed; signed by the test's authority (HTTPS).
      const dir = makeKit({ ...k, pageOrigins: [site.origin(PARTNER)], ca: authority });
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      await withKit(t, dir, {}, async (kit) => {
        const cookie = COOKIE[k.https ? 'https' : 'http'];
        await t.test('the balancer marks its cookie for browsers and for other clients', async () => {
          const balancer = readHostsFile(kit.hostsFile).get(new URL(kit.publicUrl).hostname)[0].address;
          const other = await balancerSetCookie(kit, balancer, authority);
          assert.deepEqual(cookieAttributes(other), cookie.other, `without Origin: ${other}`);
          const browserLike = await balancerSetCookie(kit, balancer, authority, site.origin(PARTNER));
          assert.deepEqual(cookieAttributes(browserLike), cookie.browser, `with an Origin: ${browserLike}`);
        });
        const browser = s.track(await launchBrowser({ hosts: browserHosts(kit, siteAddress), trust: authority ? [authority.cert] : [] }));
        for (const host of [OWN_SITE, PARTNER]) {
          for (const transport of TRANSPORTS) {
            // Over plain HTTP a partner's page gets no cookie (checked below):
            // the README tells it to keep to WS-STREAMING.
            if (!k.https && host === PARTNER && transport !== 'WS-STREAMING') continue;
            await t.test(`${host} on ${transport}`, (st) => checkPage(st, kit, browser, site, host, transport, cookie));
          }
        }
        if (k.https) {
          // Chromium blocking third-party cookies, as private windows do:
          // the partner's page keeps its Partitioned cookie.
          const strict = s.track(await launchBrowser({
            hosts: browserHosts(kit, siteAddress), trust: [authority.cert], flags: ['--test-third-party-cookie-phaseout'],
          }));
          for (const transport of ['HTTP-STREAMING', 'HTTP-POLLING']) {
            await t.test(`${PARTNER} on ${transport}, third-party cookies blocked`, (st) => checkPage(st, kit, strict, site, PARTNER, transport, cookie));
          }
          strict.assertNoPageErrors();
        }
        // The checks below break requests on purpose: the pages' console
        // says so.
        browser.assertNoPageErrors();
        if (!k.https) {
          await t.test(`${PARTNER} over plain HTTP gets no sticky cookie`, (st) => checkNoCookieCrossSite(st, kit, browser, site));
        }
        await t.test(`${OWN_SITE} on HTTP-POLLING goes on after kill -9 of its node`, (st) => checkFailOver(st, `${k.id}-${k.balancer}`, kit, browser, site));
      });
    }));
}
