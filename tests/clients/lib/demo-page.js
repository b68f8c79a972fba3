'use strict';
// Waits on the demo pages of Shoal (crates/web/assets/demo) in a playwright
// page: what the browser tests read from the stock list and the footer.

const WAIT_MS = 20000;

// Waits until the page's status line says CONNECTED (exactly `want`, when
// given: a client forced to a transport says STREAM-SENSING first).
async function waitConnected(page, { timeoutMs = WAIT_MS, want = null } = {}) {
  await page.waitForFunction(
    (want) => {
      const text = document.getElementById('status').textContent;
      return want ? text === want : /^CONNECTED:/.test(text);
    },
    want,
    { timeout: timeoutMs },
  );
  return page.textContent('#status');
}

// Waits until the 30 rows of the stock list have a last price.
function waitAllPrices(page, { timeoutMs = WAIT_MS } = {}) {
  return page.waitForFunction(
    () => [...document.querySelectorAll('td[data-field="last_price"]')].filter((td) => td.textContent).length === 30,
    null,
    { timeout: timeoutMs },
  );
}

// The last price of each row, by item name.
function lastPrices(page) {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('#quotes tr[data-item]')].map((tr) => [
        tr.dataset.item,
        tr.querySelector('td[data-field="last_price"]').textContent,
      ]),
    ),
  );
}

// Waits until a last price differs from `before` (from lastPrices) while its
// cell flashes; resolves with { item, from, to, cls }.
async function waitPriceFlash(page, before, { timeoutMs = WAIT_MS } = {}) {
  const handle = await page.waitForFunction(
    (old) => {
      for (const tr of document.querySelectorAll('#quotes tr[data-item]')) {
        const td = tr.querySelector('td[data-field="last_price"]');
        const flashing = td.classList.contains('flash-up') || td.classList.contains('flash-down');
        if (flashing && td.textContent !== old[tr.dataset.item]) {
          return { item: tr.dataset.item, from: old[tr.dataset.item], to: td.textContent, cls: td.className };
        }
      }
      return null;
    },
    before,
    { timeout: timeoutMs },
  );
  return handle.jsonValue();
}

module.exports = { WAIT_MS, waitConnected, waitAllPrices, lastPrices, waitPriceFlash };
