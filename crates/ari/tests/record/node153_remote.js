// A remote adapter on the Node SDK 1.5.3 (ARI 1.8.3, two data connections),
// driven by record.py. It logs what the SDK decoded from each request as
// JSON lines on stdout, and answers as the request asks.
'use strict';
const net = require('net');
const { MetadataProvider, DataProvider } = require('lightstreamer-adapter');

const [mport, dport, nport] = process.argv.slice(2).map(Number);
const seen = (what, value) => console.log(JSON.stringify([what, value]));
const creds = { user: 'ari-remote', password: 'pw' };

const metadata = new MetadataProvider(net.createConnection(mport, '127.0.0.1'), undefined, creds);
metadata.on('init', (m, r) => { seen('MPI', m.parameters); r.success(); });
metadata.on('notifyUser', (m, r) => {
  seen('NUS', [m.userName, m.userPassword, m.headers]);
  if (m.userName === 'denied') r.error('Access denied', 'access');
  else if (m.userName === 'credits') r.error('no credits', 'credits', { clientCode: -5, clientMessage: 'Sorry | 100%' });
  else r.success(0, true);
});
metadata.on('notifyUserAuth', (m, r) => { seen('NUA', [m.userName, m.userPassword, m.clientPrincipal, m.headers]); r.success(12.5, false); });
metadata.on('getItems', (m, r) => {
  seen('GIS', [m.userName, m.groupName, m.sessionId]);
  if (m.groupName === 'bad') r.error('Unknown group', 'items');
  else if (m.groupName === 'empty') r.success([]);
  else r.success(m.groupName.split(' '));
});
metadata.on('getSchema', (m, r) => {
  seen('GSC', [m.userName, m.groupName, m.schemaName, m.sessionId]);
  if (m.schemaName === 'bad') r.error('Unknown schema', 'schema');
  else r.success(m.schemaName.split(' '));
});
const all = { raw: true, merge: true, distinct: true, command: true };
metadata.on('getItemData', (m, r) => {
  seen('GIT', m.itemNames);
  r.success(m.itemNames.map((_, i) => ({ distinctSnapLen: 10 + i, minSourceFreq: i === 0 ? 0 : 0.5, allowedModes: i === 0 ? all : { merge: true } })));
});
metadata.on('getUserItemData', (m, r) => {
  seen('GUI', [m.userName, m.itemNames]);
  r.success(m.itemNames.map((_, i) => ({ allowedBufferSize: 30 + i, allowedMaxItemFreq: i === 0 ? 0 : 2.25, allowedModes: i === 0 ? all : { raw: true, distinct: true } })));
});
metadata.on('notifyUserMessage', (m, r) => {
  seen('NUM', [m.userName, m.sessionId, m.userMessage]);
  if (m.userMessage === 'fail') r.error('Refused', 'notification');
  else if (m.userMessage === 'credits') r.error('no credits', 'credits', { clientCode: -7, clientMessage: null });
  else r.success();
});
metadata.on('notifyNewSession', (m, r) => {
  seen('NNS', [m.userName, m.sessionId, m.contextProperties]);
  if (m.userName === 'conflict') r.error('Conflict', 'conflictingSession', { clientCode: -6, clientMessage: 'Too many', conflictingSessionId: 'S0000' });
  else r.success();
});
metadata.on('notifySessionClose', (m, r) => { seen('NSC', m.sessionId); r.success(); });
metadata.on('notifyNewTables', (m, r) => { seen('NNT', [m.userName, m.sessionId, m.tableInfos]); r.success(); });
metadata.on('notifyTablesClose', (m, r) => { seen('NTC', [m.sessionId, m.tableInfos]); r.success(); });

const snapshotItems = new Set(['item1']);
const data = new DataProvider(
  net.createConnection(dport, '127.0.0.1'),
  net.createConnection(nport, '127.0.0.1'),
  (item) => snapshotItems.has(item), creds);
data.on('init', (m, r) => { seen('DPI', m.parameters); r.success(); });
data.on('subscribe', (item, r) => {
  seen('SUB', item);
  if (item === 'bad') { r.error('no such item', 'subscription'); return; }
  if (item === 'failing') { r.error('adapter broke'); return; }
  r.success();
  if (item === 'item1') {
    data.update(item, true, {
      plain: '12.5', empty: '', nothing: null, hash: '#', dollar: '$', pipe: 'a|b',
      pct: '100%', plus: '1+1', crlf: 'l1\r\nl2', utf: '€ ü', space: 'a b', number: 42,
    });
    data.endOfSnapshot(item);
    data.update(item, false, { plain: '12.6' });
    data.update(item, false, { key: 'k1', command: 'ADD', qty: '1' });
  } else {
    data.clearSnapshot(item);
  }
});
data.on('unsubscribe', (item, r) => { seen('USB', item); r.success(); if (item === 'item1') data.failure('feed lost'); });
for (const p of [metadata, data]) p.on('closeMessage', (reason) => seen('CLOSE', reason));
