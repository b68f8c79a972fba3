'use strict';
// The console's Cluster section in Chromium: two nodes listing each other
// (<shoal_cluster_node>); the console opened on node 2's own address shows
// a card per node, both up, node 2 marked as this node and node 1's name
// linking to node 1's console.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { scoped } = require('../lib/util');
const { launchBrowser, screenshot } = require('../lib/browser');
const { freePort, startNode } = require('../lib/monitor-cluster');

test('the console on node 2 shows both nodes in its Cluster section', { timeout: 60000 }, (t) =>
  scoped(t, async (s) => {
    const port2 = await freePort('127.0.0.3');
    const url2 = `http://127.0.0.3:${port2}/dashboard/`;
    const node1 = await startNode(s, { name: 'node1', host: '127.0.0.2', peers: [{ name: 'node2', url: url2 }] });
    await startNode(s, { name: 'node2', host: '127.0.0.3', port: port2, peers: [{ name: 'node1', url: node1.url }] });
    const browser = s.track(await launchBrowser());
    const page = await browser.newPage();
    await page.goto(url2);

    const card = (name) => `#cluster-nodes .node-card[data-node="${name}"]`;
    await page.waitForSelector(`${card('node1')}[data-state="up"]`, { timeout: 15000 });
    await page.waitForSelector(`${card('node2')}[data-state="up"]`, { timeout: 15000 });
    const cards = await page.$$eval('#cluster-nodes .node-card', (els) => els.map((e) => ({
      node: e.dataset.node,
      self: e.classList.contains('self'),
      href: e.querySelector('a.node-link').getAttribute('href'),
      state: e.querySelector('.node-state').textContent,
    })));
    assert.deepEqual(cards.map((c) => c.node), ['node1', 'node2']);
    assert.deepEqual(cards.map((c) => c.self), [false, true]);
    assert.equal(cards[0].href, node1.url);
    assert.equal(cards[1].href, url2);
    assert.match(cards[1].state, /this node/);
    await screenshot(page, 'console-cluster');
    browser.assertNoPageErrors();
  }));
