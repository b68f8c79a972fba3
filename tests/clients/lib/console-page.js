'use strict';
// Waits on the monitor console page of Shoal (crates/web/assets/dashboard)
// in a playwright page: its footer, identity, tiles, charts and tables.

const WAIT_MS = 20000;

// Waits until the footer says the client is connected (the page shows the
// client's CONNECTED:<transport> status as "connected" and the transport);
// resolves with the transport, e.g. "ws-streaming".
async function waitConsoleConnected(page, { timeoutMs = WAIT_MS } = {}) {
  await page.waitForFunction(() => document.getElementById('status').textContent === 'connected', null, {
    timeout: timeoutMs,
  });
  return page.textContent('#transport');
}

// Waits until the header shows the node; resolves with { name, version }.
async function waitNode(page, { timeoutMs = WAIT_MS } = {}) {
  await page.waitForFunction(() => document.getElementById('node-version').textContent !== '–', null, {
    timeout: timeoutMs,
  });
  return page.evaluate(() => ({
    name: document.getElementById('node-name').textContent,
    version: document.getElementById('node-version').textContent,
  }));
}

// Waits until the tile of `field` (of `stats`) shows a number from `min` to
// `max`; resolves with it.
async function waitTile(page, field, { min = -Infinity, max = Infinity, timeoutMs = WAIT_MS } = {}) {
  const handle = await page
    .waitForFunction(
      ([field, min, max]) => {
        const n = Number(document.getElementById(`tile-${field}`).textContent);
        return Number.isFinite(n) && n >= min && n <= max ? n : null;
      },
      [field, min, max],
      { timeout: timeoutMs },
    )
    .catch(async (err) => {
      const shown = await page.textContent(`#tile-${field}`).catch(() => '?');
      throw new Error(`the ${field} tile shows ${shown}, not ${min}..${max}: ${err.message}`);
    });
  return handle.jsonValue();
}

// The rows of the Sessions table: [{ key, adapter_set, user, client_ip,
// transport, started, subscriptions, user_agent }], in the table's order.
function sessionRows(page) {
  return page.$$eval('#sessions tbody tr', (rows) =>
    rows.map((tr) =>
      Object.fromEntries([...tr.children].map((td) => [td.className, td.title || td.textContent])),
    ),
  );
}

// Waits until the Sessions table has a row for session `id`; resolves with it.
async function waitSessionRow(page, id, { timeoutMs = WAIT_MS } = {}) {
  await page
    .waitForSelector(`#sessions tr[data-session="${id}"]`, { timeout: timeoutMs })
    .catch(async (err) => {
      const rows = await sessionRows(page).catch(() => []);
      throw new Error(`no row for session ${id} in ${JSON.stringify(rows)}: ${err.message}`);
    });
  return (await sessionRows(page)).find((r) => r.key === id);
}

// The rows of the data adapters table: [{ set, adapter, kind, state }].
function adapterRows(page) {
  return page.$$eval('#adapters tbody tr', (rows) =>
    rows.map((tr) => {
      const [set, adapter, kind, state] = [...tr.children].map((td) => td.textContent);
      return { set, adapter, kind, state };
    }),
  );
}

// Waits until the chart of `field` has drawn a line through two points or
// more (an SVG path "M x,y L x,y ...").
function waitChartDrawn(page, field, { timeoutMs = WAIT_MS } = {}) {
  return page.waitForFunction(
    (field) => {
      const line = document.querySelector(`#chart-${field} path.line`);
      return line && /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/.test(line.getAttribute('d'));
    },
    field,
    { timeout: timeoutMs },
  );
}

module.exports = { WAIT_MS, waitConsoleConnected, waitNode, waitTile, sessionRows, waitSessionRow, adapterRows, waitChartDrawn };
