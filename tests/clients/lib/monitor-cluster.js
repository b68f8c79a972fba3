'use strict';
// Helpers of the cluster view's tests: nodes whose <dashboard> lists peers
// (<shoal_cluster_node>), and a watch of MONITOR's `cluster` item.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const CLUSTER_FIELDS = ['key', 'command', 'name', 'console_url', 'source', 'state', 'sessions',
  'updates_per_s', 'uptime_s', 'last_seen', 'error'];

// A port that is free on host now (the server binds it right after).
function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts a node named `name` on host:port (port 0: any), whose console
// lists `peers` ([{ name, url }]); `extra` goes inside the root element,
// `args` on the command line (an --adapters-dir, say).
async function startNode(s, { name, host, port = 0, peers = [], extra = '', args = [] }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-cluster-view-'));
  s.t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const listed = peers
    .map((p) => `    <shoal_cluster_node name="${p.name}" url="${p.url}"/>`)
    .join('\n');
  const file = path.join(dir, 'lightstreamer_conf.xml');
  fs.writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>
<lightstreamer_conf>
  <http_server name="${name}">
    <port>${port}</port>
    <listening_interface>${host}</listening_interface>
  </http_server>
  <dashboard>
    <available_on_all_servers>Y</available_on_all_servers>
${listed}
  </dashboard>
${extra}
</lightstreamer_conf>
`);
  const server = await s.startServer({ name, listen: [], listeners: 1, extraArgs: ['--config', file, ...args] });
  return { server, name, url: `${server.url}/dashboard/` };
}

// A MONITOR session on `server` watching the `cluster` item. `rows()`
// gives the latest values by key (deleted keys removed).
async function watchCluster(s, server) {
  const c = s.client(server.url, { adapterSet: 'MONITOR', transport: 'WS-STREAMING' });
  await c.connectAndWait();
  const sub = c.subscribe({
    mode: 'COMMAND', items: ['cluster'], fields: CLUSTER_FIELDS, dataAdapter: 'DEFAULT', snapshot: 'yes',
  });
  const rows = () => {
    const out = new Map();
    for (const u of sub.updates) {
      if (u.values.command === 'DELETE') out.delete(u.values.key);
      else out.set(u.values.key, { ...(out.get(u.values.key) || {}), ...pick(u.values) });
    }
    return out;
  };
  // Waits until the table satisfies pred(rows).
  const waitRows = (pred, what, timeoutMs = 10000) =>
    sub.waitUpdate(() => pred(rows()), { timeoutMs, what }).then(() => rows());
  return { c, sub, rows, waitRows };
}

// The fields an update carried (a COMMAND update carries them all).
function pick(values) {
  const out = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v;
  return out;
}

module.exports = { CLUSTER_FIELDS, freePort, startNode, watchCluster };
