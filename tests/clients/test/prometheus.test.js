'use strict';
// A real Prometheus (Debian's) scrapes Shoal's /metrics: the text is accepted
// as it is, the figures are those of the sessions the official Node client
// opened, and the histograms answer histogram_quantile(). (Who may scrape
// is tested in Rust: crates/transport/tests/metrics.rs.)

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped } = require('../lib/util');
const { startPrometheus } = require('../lib/prometheus');

function target(server) {
  return new URL(server.url).host;
}

describe('Prometheus scrapes /metrics', () => {
  it('sees the sessions, updates and latency of the node', { timeout: 60000 }, (t) => scoped(t, async (s) => {
    const server = await s.startServer();
    const ws = s.client(server.url, { transport: 'WS-STREAMING' });
    const http = s.client(server.url, { transport: 'HTTP-STREAMING' });
    await Promise.all([ws.connectAndWait(), http.connectAndWait()]);
    const rec = ws.subscribe({ mode: 'RAW', items: ['rate-50'], fields: ['seq'], dataAdapter: 'COUNTER' });
    await rec.waitCount(20, { timeoutMs: 10000 });

    const prom = s.track(await startPrometheus({ targets: [target(server)] }));
    await prom.waitTargetsUp();
    const byTransport = await prom.waitQuery(
      'shoal_sessions_by_transport',
      (r) => r.length === 5,
      { what: 'shoal_sessions_by_transport, five series' },
    );
    const of = (transport) => byTransport.find((r) => r.metric.transport === transport)?.value;
    assert.equal(of('ws-streaming'), 1);
    assert.equal(of('http-streaming'), 1);
    assert.equal(of('ws-polling'), 0);

    // The server wrote at least what the client has received by now, and
    // not much more than it receives meanwhile (50 a second, one client).
    const received = rec.updates.length;
    const delivered = await prom.waitQuery('shoal_updates_delivered_total', (r) => r.length && r[0].value >= received,
      { what: `shoal_updates_delivered_total >= ${received}` });
    assert.ok(delivered[0].value <= rec.updates.length + 100, `${delivered[0].value} vs ${rec.updates.length}`);
    // The latency histogram is a real histogram to Prometheus.
    const p99 = await prom.waitQuery(
      'histogram_quantile(0.99, shoal_delivery_latency_seconds_bucket)',
      (r) => r.length && Number.isFinite(r[0].value),
    );
    assert.ok(p99[0].value > 0 && p99[0].value < 10, `p99 ${p99[0].value} s`);
    const ready = await prom.query('shoal_data_adapter_ready{adapter_set="DEMO",data_adapter="COUNTER"}');
    assert.equal(ready[0]?.value, 1);
    const rss = await prom.query('process_resident_memory_bytes');
    assert.ok(rss[0]?.value > 1e6, `rss ${JSON.stringify(rss)}`);
  }));
});
