'use strict';
// The console's cluster view: MONITOR's `cluster` item (COMMAND, one row
// per node) through the official Node client. Peers listed in
// <dashboard><shoal_cluster_node> are polled every 2 s; a node killed
// turns `unreachable`. Nodes sharing a redis-server feed find each other
// through it without being listed; a killed one's announcement expires
// (10 s) and its row turns `stale`, then goes.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { scoped } = require('../lib/util');
const { freePort, startNode, watchCluster } = require('../lib/monitor-cluster');
const { startBroker, feedAdaptersDir } = require('../lib/broker');

describe('MONITOR cluster item', () => {
  it('shows listed peers up with their sessions, then unreachable when killed', { timeout: 60000 }, (t) => scoped(t, async (s) => {
    const port2 = await freePort('127.0.0.3');
    const url2 = `http://127.0.0.3:${port2}/dashboard/`;
    const node1 = await startNode(s, { name: 'node1', host: '127.0.0.2', peers: [{ name: 'node2', url: url2 }] });
    const node2 = await startNode(s, { name: 'node2', host: '127.0.0.3', port: port2, peers: [{ name: 'node1', url: node1.url }] });

    // A session on node 2 that node 1 should count there.
    const other = s.client(node2.server.url, { adapterSet: 'MONITOR', transport: 'WS-STREAMING' });
    await other.connectAndWait();

    const view = await watchCluster(s, node1.server);
    const both = await view.waitRows((rows) => rows.get('node1')?.state === 'up'
      && rows.get('node2')?.state === 'up' && Number(rows.get('node2')?.sessions) >= 1,
    'node1 and node2 up, node2 with a session');
    const me = both.get('node1');
    assert.equal(me.source, 'self');
    assert.equal(me.console_url, node1.url);
    assert.ok(Number(me.sessions) >= 1, `node1 counts the watching session: ${me.sessions}`);
    const peer = both.get('node2');
    assert.equal(peer.source, 'config');
    assert.equal(peer.console_url, url2);
    assert.match(peer.last_seen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(peer.error, '');

    // status.json is the document node 1 polled.
    const res = await fetch(`${url2}status.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const doc = await res.json();
    assert.equal(doc.name, 'node2');
    assert.equal(doc.accepting, true);
    assert.equal(doc.ready, true);
    assert.ok(doc.sessions >= 1);
    assert.ok('WS-STREAMING' in doc.sessions_by_transport);

    await node2.server.stop({ signal: 'SIGKILL' });
    const after = await view.waitRows((rows) => rows.get('node2')?.state === 'unreachable',
      'node2 unreachable after kill -9');
    assert.notEqual(after.get('node2').error, '');
    assert.equal(after.get('node1').state, 'up');
  }));

  for (const kind of ['redis', 'nats']) {
    it(`finds the nodes sharing a ${kind} feed, then a killed one turns stale and goes`, { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const broker = await startBroker(s, kind);
      const args = ['--adapters-dir', feedAdaptersDir(s, broker, { token: 't0k' })];
      const node1 = await startNode(s, { name: 'node1', host: '127.0.0.2', args });
      const node2 = await startNode(s, { name: 'node2', host: '127.0.0.3', args });

      const view = await watchCluster(s, node1.server);
      const both = await view.waitRows((rows) => rows.get('node1')?.state === 'up'
        && rows.get('node2')?.state === 'up', 'node1 and node2 up, listing no peers', 15000);
      assert.equal(both.get('node1').source, 'self');
      const peer = both.get('node2');
      assert.equal(peer.source, 'broker');
      assert.equal(peer.console_url, node2.url);
      assert.match(peer.last_seen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(peer.error, '');
      assert.equal(both.size, 2);

      // Its announcement lives 10 s: then its row is stale, and deleted
      // 10 s later.
      await node2.server.stop({ signal: 'SIGKILL' });
      const killed = Date.now();
      const stale = await view.waitRows((rows) => rows.get('node2')?.state === 'stale',
        'node2 stale after kill -9', 16000);
      assert.notEqual(stale.get('node2').error, '');
      assert.ok(Date.now() - killed >= 5000, `stale after ${Date.now() - killed} ms, before its announcement could expire`);
      const gone = await view.waitRows((rows) => !rows.has('node2'), 'node2 deleted', 16000);
      assert.equal(gone.get('node1').state, 'up');
    }));
  }
});
