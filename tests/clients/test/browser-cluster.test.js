'use strict';
// The demo stock list in Chromium through a cluster kit's HAProxy: 1.A.2
// (sessions kept on their node by an inserted cookie) and 1.B.1 (the session's
// control link is its node's own name: the page, whose origin is the
// balancer's name, talks to another origin, with credentials, over WebSocket
// and over HTTP streaming). The node the
// page's session is on is killed with SIGKILL; the page must go on by itself:
// a new session on the other node, and prices changing again.
// Networks 127.0.90.x to 127.0.92.x, which no other test uses.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { withKit } = require('../lib/cluster');
const { makeKit } = require('../lib/topology');
const { readHostsFile } = require('../lib/hosts');
const { scoped } = require('../lib/util');
const { launchBrowser, screenshot } = require('../lib/browser');
const { waitConnected, waitAllPrices, lastPrices, waitPriceFlash } = require('../lib/demo-page');

// The page's own choice of transport (WebSocket here), then 1.B.1 with HTTP
// streaming forced: its control requests are then cross-origin requests with
// credentials to the node's name, which the kit's <cross_domain_policy>
// allows (browsers apply no such check to WebSocket).
const CASES = [
  { id: '1.A.2', network: '127.0.90', transport: null },
  { id: '1.B.1', network: '127.0.91', transport: null },
  { id: '1.B.1', network: '127.0.92', transport: 'HTTP-STREAMING' },
];
// The client tries to recover its session on the dead node for a while
// before it creates a new one through the balancer.
const MOVE_MS = 60000;

// The kit's host names, for Chromium's resolver: name -> first address.
function kitHosts(kit) {
  const map = readHostsFile(kit.hostsFile);
  return Object.fromEntries([...map].map(([name, list]) => [name, list[0].address]));
}

// The page's session: its id and the control link its client uses ('' when
// the server sent none).
function pageSession(page) {
  return page.evaluate(() => ({
    id: client.connectionDetails.getSessionId(),
    link: client.connectionDetails.getServerInstanceAddress() || '',
    status: client.getStatus(),
  }));
}

for (const c of CASES) {
  const name = `${c.id}${c.transport ? ` (${c.transport})` : ''}: the stock list through HAProxy goes on after kill -9 of its node`;
  test(name, (t) =>
    scoped(t, async (s) => {
      const dir = makeKit({ nodes: 2, id: c.id, network: c.network });
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      await withKit(t, dir, {}, async (kit) => {
        const browser = s.track(await launchBrowser({ hosts: kitHosts(kit) }));
        const page = await browser.newPage();
        const query = c.transport ? `?transport=${c.transport}` : '';
        await page.goto(`${kit.publicUrl}/stocks/${query}`);
        await waitAllPrices(page);
        const want = c.transport ? `CONNECTED:${c.transport}` : null;
        const status = await waitConnected(page, { want });
        assert.match(status, /^CONNECTED:/);

        const first = await pageSession(page);
        const owner = (await kit.waitSession(first.id)).node;
        s.note(`first session ${JSON.stringify(first)} on ${owner}`);
        if (kit.spec.cr_route === 'control-link') {
          // The control requests go to the node's own name, another origin
          // than the page's.
          const name = kit.node(owner).spec.control_link;
          assert.equal(new URL(first.link).hostname, name, 'the control link names the node');
          assert.notEqual(new URL(first.link).host, new URL(kit.publicUrl).host);
        }
        await waitPriceFlash(page, await lastPrices(page));

        await kit.kill(owner);
        // A new session, on the other node, and the table moves again.
        // With a forced transport, the client passes through
        // STREAM-SENSING before it settles on it.
        await page.waitForFunction(
          ([old, want]) => {
            const id = client.connectionDetails.getSessionId();
            const status = client.getStatus();
            return id && id !== old && (want ? status === want : /^CONNECTED:/.test(status));
          },
          [first.id, c.transport ? `CONNECTED:${c.transport}` : null],
          { timeout: MOVE_MS },
        );
        const second = await pageSession(page);
        const survivor = (await kit.waitSession(second.id)).node;
        s.note(`second session ${JSON.stringify(second)} on ${survivor}`);
        assert.notEqual(survivor, owner, 'the new session is on the node still alive');
        if (c.transport) assert.equal(second.status, `CONNECTED:${c.transport}`);
        const moved = await waitPriceFlash(page, await lastPrices(page));
        s.note(`price after the move: ${JSON.stringify(moved)}`);
        await screenshot(page, `cluster-${c.id}-stocks`);
      });
    }));
}
