'use strict';
// The demo pages of `shoal serve` (no configuration) in Chromium, with the
// official web client they load from the server itself: the stock list fills
// and flashes, two chat pages talk to each other, the index links to both.
// Each page's screenshot goes to target/browser-artifacts/.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { scoped, uniqueToken } = require('../lib/util');
const { launchBrowser, screenshot } = require('../lib/browser');
const { WAIT_MS, waitConnected, waitAllPrices, lastPrices, waitPriceFlash } = require('../lib/demo-page');

// Starts a default server and a browser, both cleaned up after the test.
async function setUp(s) {
  const server = await s.startServer();
  const browser = s.track(await launchBrowser());
  return { server, browser };
}

test('the stock list shows 30 quotes, and a price that changes flashes', (t) =>
  scoped(t, async (s) => {
    const { server, browser } = await setUp(s);
    const page = await browser.newPage();
    await page.goto(`${server.url}/stocks/`);

    await waitAllPrices(page);
    const before = await lastPrices(page);
    assert.equal(Object.keys(before).length, 30);
    for (const [item, price] of Object.entries(before)) {
      assert.match(price, /^\d+\.\d\d$/, `${item} has no price`);
    }
    const names = await page.$$eval('td[data-field="stock_name"]', (tds) => tds.map((td) => td.textContent));
    assert.ok(names.every((n) => n.length > 0), `a name is missing: ${JSON.stringify(names)}`);

    // A price that moved since the table filled, caught while it flashes.
    s.note(`flashed: ${JSON.stringify(await waitPriceFlash(page, before))}`);

    const status = await waitConnected(page);
    assert.match(status, /^CONNECTED:(WS|HTTP)-(STREAMING|POLLING)$/);
    assert.equal(await page.textContent('footer #server'), server.url);
    await screenshot(page, 'demo-stocks');
    browser.assertNoPageErrors();
  }));

// Joins the chat of `page` as `nick` and waits until the room is subscribed
// (the message box opens then).
async function join(page, url, nick) {
  await page.goto(`${url}/chat/`);
  await page.fill('#nick', nick);
  await page.click('#join button');
  await page.waitForSelector('#text:enabled', { timeout: WAIT_MS });
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

// Waits until `page` shows `text` from `nick`.
function waitMessage(page, nick, text) {
  return page.waitForFunction(
    ([n, m]) =>
      [...document.querySelectorAll('#messages li')].some(
        (li) => li.querySelector('.nick').textContent === n && li.querySelector('.text').textContent === m,
      ),
    [nick, text],
    { timeout: WAIT_MS },
  );
}

test('two chat pages see each other’s messages under their nicks', (t) =>
  scoped(t, async (s) => {
    const { server, browser } = await setUp(s);
    const alice = await browser.newPage();
    const bob = await browser.newPage();
    await join(alice, server.url, 'alice');
    await join(bob, server.url, 'bob');

    const hello = `hello from alice ${uniqueToken()}`;
    await say(alice, hello);
    await waitMessage(bob, 'alice', hello);
    await waitMessage(alice, 'alice', hello);

    const reply = `hi alice, bob here ${uniqueToken()}`;
    await say(bob, reply);
    await waitMessage(alice, 'bob', reply);
    await waitMessage(bob, 'bob', reply);

    // Each page marks its own messages, and the order is the sending order.
    const onAlice = await alice.$$eval('#messages li', (lis) =>
      lis.map((li) => ({ nick: li.querySelector('.nick').textContent, mine: li.classList.contains('mine') })),
    );
    assert.deepEqual(onAlice, [
      { nick: 'alice', mine: true },
      { nick: 'bob', mine: false },
    ]);
    assert.match(await waitConnected(alice), /^CONNECTED:/);
    await screenshot(alice, 'demo-chat');
    browser.assertNoPageErrors();
  }));

test('the index page links to the stock list, the chat and the console', (t) =>
  scoped(t, async (s) => {
    const { server, browser } = await setUp(s);
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    assert.equal(await page.title(), 'Shoal demo');
    assert.match(await waitConnected(page), /^CONNECTED:/);
    assert.equal(await page.textContent('footer #server'), server.url);
    await screenshot(page, 'demo-index');

    await page.click('#to-stocks');
    await page.waitForURL(`${server.url}/stocks/`, { timeout: WAIT_MS });
    assert.equal(await page.locator('#quotes tr[data-item]').count(), 30);
    await page.goBack();

    await page.click('#to-chat');
    await page.waitForURL(`${server.url}/chat/`, { timeout: WAIT_MS });
    await page.waitForSelector('#nick', { timeout: WAIT_MS });
    await page.goBack();

    // The console is served by a route of its own, not by the demo pages:
    // the link must name it where the server puts it.
    const console = await page.$eval('#to-dashboard', (a) => a.href);
    assert.equal(console, `${server.url}/dashboard/`);
    browser.assertNoPageErrors();
  }));
