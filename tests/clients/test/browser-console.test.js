'use strict';
// The monitor console (/dashboard/) in Chromium:
// - local: next to the stock list, it shows the node, its figures, charts,
//   the DEMO adapters and the stock list's session in its Sessions table;
// - not local: Shoal runs inside a network namespace of the test's own, so
//   that Chromium on the host is a remote client (198.18.<k>.1): refused
//   with 403 naming the fix, or, with <dashboard><user>, asked for HTTP Basic
//   credentials and served with them;
// - through a balancer: a 1.A.2 kit (network 127.0.93.x, which no other test
//   uses); the console opened on node2's own address lists the sessions
//   node2 holds, as the node's log tells them.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { scoped } = require('../lib/util');
const { launchBrowser, screenshot } = require('../lib/browser');
const { waitConnected } = require('../lib/demo-page');
const { shoalBin, REPO_ROOT } = require('../lib/server');
const { createNetns } = require('../lib/netns');
const { withKit } = require('../lib/cluster');
const { makeKit } = require('../lib/topology');
const { readHostsFile } = require('../lib/hosts');
const console_ = require('../lib/console-page');

// The committed screenshot of docs/monitor.md is refreshed when this is set.
const DOC_IMAGE = path.join(REPO_ROOT, 'docs', 'images', 'console.png');
const UPDATE_DOC_IMAGES = process.env.SHOAL_UPDATE_DOC_IMAGES === '1';

// The session of a demo page (its client is the page's global `client`).
function pageSession(page) {
  return page.evaluate(() => ({
    id: client.connectionDetails.getSessionId(),
    servname: client.connectionDetails.getServerSocketName(),
    status: client.getStatus(),
  }));
}

// Opens the stock list at `url` and waits until its client is connected.
async function openStocks(browser, url) {
  const page = await browser.newPage();
  await page.goto(`${url}/stocks/`);
  await waitConnected(page);
  return { page, session: await pageSession(page) };
}

test('local: the console shows the node, its figures, adapters and the stock list’s session', (t) =>
  scoped(t, async (s) => {
    const server = await s.startServer();
    const browser = s.track(await launchBrowser());
    const stocks = await openStocks(browser, server.url);
    s.note(`stock list session ${JSON.stringify(stocks.session)}`);

    const page = await browser.newPage();
    await page.goto(`${server.url}/dashboard/`);
    const transport = await console_.waitConsoleConnected(page);
    assert.match(transport, /^(ws|http)-(streaming|polling)$/);

    const node = await console_.waitNode(page);
    assert.equal(node.name, stocks.session.servname, 'the node is named as its listener (SERVNAME)');
    const version = execFileSync(shoalBin(), ['--version'], { encoding: 'utf8' });
    assert.ok(version.includes(node.version), `${JSON.stringify(node.version)} is not in ${version}`);

    // The stock list and the console itself.
    await console_.waitTile(page, 'sessions', { min: 2 });
    // Both over WebSocket streaming, as the sessions tile splits them.
    await page.waitForFunction(
      () => /^ws 2 · http 0 · ws poll 0 · http poll 0$/.test(document.getElementById('tile-sessions-by-transport').textContent),
      null,
      { timeout: console_.WAIT_MS },
    );
    const row = await console_.waitSessionRow(page, stocks.session.id);
    assert.equal(row.adapter_set, 'DEMO');
    assert.equal(row.client_ip, '127.0.0.1');
    assert.equal(row.transport, stocks.session.status.replace('CONNECTED:', ''));
    assert.match(row.started, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Number(row.subscriptions) >= 1, `the stock list subscribes: ${JSON.stringify(row)}`);
    assert.match(row.user_agent, /Chrome/);
    const monitor = (await console_.sessionRows(page)).filter((r) => r.adapter_set === 'MONITOR');
    assert.equal(monitor.length, 1, 'the console’s own session is listed');

    const demo = (await console_.adapterRows(page)).filter((a) => a.set === 'DEMO');
    assert.ok(demo.length > 0, 'the DEMO adapters are listed');
    assert.deepEqual(demo.filter((a) => a.state !== 'ready'), [], 'every DEMO adapter is ready');

    await console_.waitChartDrawn(page, 'sessions');
    const shot = await screenshot(page, 'console-local');
    if (UPDATE_DOC_IMAGES) fs.copyFileSync(shot, DOC_IMAGE);
    browser.assertNoPageErrors();
  }));

// Starts Shoal inside `ns`; `listeners` as ShoalServer takes them.
function startInside(s, ns, { listen = [`${ns.address}:0`], extraArgs = [], listeners = null } = {}) {
  // `ip` is what starts: say plainly when Shoal itself is missing.
  if (!fs.existsSync(shoalBin())) throw new Error(`no Shoal binary at ${shoalBin()}: build it or set SHOAL_BIN`);
  const cmd = ns.wrap(shoalBin());
  return s.startServer({ bin: cmd.bin, binArgs: cmd.args, listen, extraArgs, listeners, name: `shoal in ${ns.name}` });
}

// A namespace, removed after the test, and described if it fails.
function netns(s) {
  const ns = createNetns();
  s.track({ close: () => ns.close(), describe: () => ns.describe() });
  return ns;
}

test('not local: 403 naming <dashboard><user>, for the page and /metrics', (t) =>
  scoped(t, async (s) => {
    const ns = netns(s);
    const server = await startInside(s, ns);
    const browser = s.track(await launchBrowser());
    const page = await browser.newPage();
    for (const p of ['/dashboard/', '/metrics']) {
      const res = await page.goto(`${server.url}${p}`);
      assert.equal(res.status(), 403, p);
      assert.match(await res.text(), /<dashboard><user>/, p);
    }
    await screenshot(page, 'console-refused');
  }));

// Shoal in `ns` with a configuration whose console has one user.
async function startWithUser(s, ns, password) {
  const dir = s.tempDir('shoal-console-conf-');
  const file = path.join(dir, 'lightstreamer_conf.xml');
  fs.writeFileSync(
    file,
    `<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="Ops">
    <port>0</port>
    <listening_interface>${ns.address}</listening_interface>
  </http_server>
  <dashboard>
    <available_on_all_servers>Y</available_on_all_servers>
    <user id="ops" password="${password}"/>
  </dashboard>
</lightstreamer_conf>
`,
  );
  return startInside(s, ns, { listen: [], listeners: 1, extraArgs: ['--config', file] });
}

test('not local, with <dashboard><user>: 401 without credentials or with wrong ones, the console with them', (t) =>
  scoped(t, async (s) => {
    const ns = netns(s);
    const password = 'console-test-pw';
    const server = await startWithUser(s, ns, password);
    const url = `${server.url}/dashboard/`;
    const browser = s.track(await launchBrowser());

    // The answers themselves, read from the host as Chromium would get
    // them (headless Chromium turns a refused challenge into an error).
    const basic = (pw) => ({ Authorization: `Basic ${Buffer.from(`ops:${pw}`).toString('base64')}` });
    for (const headers of [{}, basic('not-it')]) {
      const res = await fetch(url, { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(res.headers.get('www-authenticate') || '', /^Basic realm=/);
    }
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    assert.equal((await fetch(url, { headers: basic(password) })).status, 200);

    // Chromium without credentials, or with wrong ones, gets no page: the
    // 401 itself, or (as headless Chromium may end a refused challenge) a
    // navigation error saying the credentials were refused.
    for (const options of [{}, { httpCredentials: { username: 'ops', password: 'not-it' } }]) {
      const refused = await browser.newPage(options);
      const got = await refused.goto(url).catch((err) => err);
      const what = got instanceof Error ? got.message.split('\n')[0] : `status ${got.status()}`;
      assert.ok(/ERR_INVALID_AUTH_CREDENTIALS/.test(what) || what === 'status 401', `${JSON.stringify(options)}: ${what}`);
    }

    const page = await browser.newPage({ httpCredentials: { username: 'ops', password } });
    assert.equal((await page.goto(url)).status(), 200);
    await console_.waitConsoleConnected(page);
    const node = await console_.waitNode(page);
    assert.equal(node.name, 'Ops');
    // The console's own session, from the host's side of the pair.
    await page.waitForSelector('#sessions tbody tr td.adapter_set', { timeout: console_.WAIT_MS });
    const own = (await console_.sessionRows(page)).find((r) => r.adapter_set === 'MONITOR');
    assert.equal(own && own.client_ip, ns.hostAddress);
    const metrics = await page.evaluate(async () => {
      const res = await fetch('/metrics');
      return { status: res.status, body: await res.text() };
    });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^# (HELP|TYPE) /m);
    await screenshot(page, 'console-with-user');
  }));

// The kit's host names, for Chromium's resolver: name -> first address.
function kitHosts(kit) {
  const map = readHostsFile(kit.hostsFile);
  return Object.fromEntries([...map].map(([name, list]) => [name, list[0].address]));
}

// Sessions the kit saw `node` log as created and not closed.
function openSessionsOn(kit, node) {
  return [...kit.sessions].filter(([, v]) => v.node === node && !v.closed).map(([id]) => id);
}

// Stock lists opened through the balancer before one lands on node2.
const MAX_PAGES = 8;

test('through HAProxy (1.A.2): node2’s console, on its own address, lists the sessions node2 holds', (t) =>
  scoped(t, async (s) => {
    const dir = makeKit({ nodes: 2, id: '1.A.2', network: '127.0.93' });
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    await withKit(t, dir, {}, async (kit) => {
      const browser = s.track(await launchBrowser({ hosts: kitHosts(kit) }));
      // Each page has cookies of its own: the balancer picks a node for each.
      let onNode2 = null;
      for (let i = 0; i < MAX_PAGES && !onNode2; i += 1) {
        const { session } = await openStocks(browser, kit.publicUrl);
        const { node } = await kit.waitSession(session.id);
        s.note(`stock list ${i + 1}: ${session.id} on ${node}`);
        if (node === 'node2') onNode2 = session.id;
      }
      assert.ok(onNode2, `none of ${MAX_PAGES} stock lists got a session on node2`);

      const [host, port] = kit.node('node2').spec.listens[0];
      const page = await browser.newPage();
      await page.goto(`http://${host}:${port}/dashboard/`);
      await console_.waitConsoleConnected(page);
      // The kit names each node in its <dashboard><shoal_node_name>.
      assert.equal((await console_.waitNode(page)).name, 'node2');
      await console_.waitSessionRow(page, onNode2);

      // Once node2 has logged the console's own session, the kit knows
      // every session node2 holds: the table and the tile must say as many.
      await page.waitForSelector('#sessions tbody tr td.adapter_set', { timeout: console_.WAIT_MS });
      const rows = await console_.sessionRows(page);
      const own = rows.find((r) => r.adapter_set === 'MONITOR');
      assert.ok(own, `the console's session is listed: ${JSON.stringify(rows)}`);
      await kit.waitSession(own.key);
      const expected = openSessionsOn(kit, 'node2').sort();
      s.note(`node2 holds ${JSON.stringify(expected)}`);
      await console_.waitTile(page, 'sessions', { min: expected.length, max: expected.length });
      await page.waitForFunction((n) => document.querySelectorAll('#sessions tbody tr').length === n, expected.length, {
        timeout: console_.WAIT_MS,
      });
      const listed = (await console_.sessionRows(page)).map((r) => r.key).sort();
      assert.deepEqual(listed, expected);
      await screenshot(page, 'console-cluster-node2');
    });
  }));
