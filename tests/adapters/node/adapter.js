#!/usr/bin/env node
'use strict';
// Shoal's test remote adapter on the Node SDK (npm lightstreamer-adapter 1.5.3,
// ARI 1.8.3, two data connections). One process runs the metadata adapter and the
// DEFAULT data adapter of one adapter set; tests/adapters/README.md describes the
// items, messages and users, which the Python adapter next to this one offers too.
//
//   node adapter.js --metadata-port 6663 --data-port 6661 --notify-port 6662
//                   [--host 127.0.0.1] [--user U --password P] [--tls --ca ca.pem]
//                   [--name LABEL]
//
// It logs what it does on stderr, one line per event, and exits with 0 on SIGTERM,
// 2 when the server closed it with an ARI CLOSE (e.g. wrong credentials), 1 when a
// connection failed or ended otherwise.

const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

// The SDK comes from tests/clients (pinned in its package.json) unless this
// folder has its own node_modules.
function loadSdk() {
  try {
    return require('lightstreamer-adapter');
  } catch (err) {
    const fallback = path.join(__dirname, '..', '..', 'clients', 'node_modules', 'lightstreamer-adapter');
    try {
      return require(fallback);
    } catch (_) {
      process.stderr.write(`cannot load lightstreamer-adapter (run npm ci in tests/clients): ${err.message}\n`);
      process.exit(1);
    }
  }
}
const { DataProvider, MetadataProvider } = loadSdk();

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    'metadata-port': { type: 'string' },
    'data-port': { type: 'string' },
    'notify-port': { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    tls: { type: 'boolean', default: false },
    ca: { type: 'string' },
    name: { type: 'string', default: 'node' },
  },
});

function log(...parts) {
  process.stderr.write(`[${opt.name} ${new Date().toISOString().slice(11, 23)}] ${parts.join(' ')}\n`);
}

function need(flag) {
  const v = Number(opt[flag]);
  if (!Number.isInteger(v) || v <= 0 || v > 65535) {
    log(`--${flag} must be a TCP port, got ${JSON.stringify(opt[flag])}`);
    process.exit(64);
  }
  return v;
}
const ports = { metadata: need('metadata-port'), data: need('data-port'), notify: need('notify-port') };
const credentials = opt.user != null ? { user: opt.user, password: opt.password ?? '' } : undefined;

let stopping = false;
function exit(code, why) {
  if (stopping) return;
  stopping = true;
  log(`exiting (${code}): ${why}`);
  process.exit(code);
}

// Opens one ARI connection (plain or TLS) and watches it: a CLOSE from the
// server, an error or the end of the connection ends the process.
function dial(label, port) {
  const sock = opt.tls
    ? tls.connect({ host: opt.host, port, ca: opt.ca ? fs.readFileSync(opt.ca) : undefined })
    : net.createConnection({ host: opt.host, port });
  sock.setNoDelay(true);
  sock.on(opt.tls ? 'secureConnect' : 'connect', () => log(`connected ${label} to ${opt.tls ? 'tls' : 'tcp'}://${opt.host}:${port}`));
  sock.on('error', (err) => {
    if (/Close requested by the counterpart/.test(err.message)) exit(2, `${label}: server sent CLOSE: ${err.message}`);
    else exit(1, `${label}: connection error: ${err.message}`);
  });
  sock.on('close', () => exit(1, `${label}: connection closed by the server`));
  return sock;
}

// ---------------------------------------------------------------------------
// What the metadata adapter saw, per user, published by the data adapter as the
// MERGE item seen_<user> (fields nus, nns, closed: JSON texts).
const seen = new Map(); // user -> { nus, nns, closed: [] }
const sessionUser = new Map(); // session id -> user

function seenOf(user) {
  if (!seen.has(user)) seen.set(user, { nus: null, nns: null, closed: [] });
  return seen.get(user);
}
function seenFields(user) {
  const s = seenOf(user);
  return { nus: JSON.stringify(s.nus), nns: JSON.stringify(s.nns), closed: JSON.stringify(s.closed) };
}

// ---------------------------------------------------------------------------
// Data adapter.
const subscribed = new Map(); // item -> stop function
const portfolios = new Map(); // item -> Map(key -> qty)
const newsHistory = new Map(); // item -> [{ seq, headline }]
const boards = new Map(); // item -> value or null (cleared)

const reqResp = dial('data request_reply_port', ports.data);
const notify = dial('data notify_port', ports.notify);
// The SDK never reads the notify connection; reading it shows a CLOSE sent there.
notify.on('data', (d) => {
  const text = String(d);
  if (/\|CLOSE\|/.test(text)) exit(2, `data notify_port: server sent CLOSE: ${text.trim()}`);
  log(`unexpected data on the notify connection: ${JSON.stringify(text)}`);
});

const SNAPSHOT_PREFIXES = ['stock_', 'portfolio_', 'news_', 'board_', 'seen_'];
const hasSnapshot = (item) => SNAPSHOT_PREFIXES.some((p) => item.startsWith(p));
const data = new DataProvider(reqResp, notify, hasSnapshot, credentials);

function publish(item, isSnapshot, fields) {
  if (subscribed.has(item)) data.update(item, isSnapshot, fields);
}

data.on('init', (request, response) => {
  log(`INIT data ${JSON.stringify(request.parameters)}`);
  response.success();
});

// A timer that calls tick(n) with how many events are due at `perSecond`
// since the start, so that high rates keep up despite timer granularity.
function paced(perSecond, emit) {
  const started = process.hrtime.bigint();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * perSecond);
    while (sent < due) {
      sent += 1;
      emit(sent);
    }
  }, perSecond > 100 ? 5 : Math.max(5, Math.floor(500 / perSecond)));
  return () => clearInterval(timer);
}

function startStock(item) {
  const name = item.slice('stock_'.length);
  let price = 100;
  let seq = 0;
  const record = () => ({
    stock_name: name,
    last_price: price.toFixed(2),
    time: new Date().toISOString().slice(11, 19),
    pct_change: (price - 100).toFixed(2),
    bid: (price - 0.05).toFixed(2),
    ask: (price + 0.05).toFixed(2),
    seq: String(seq),
  });
  data.update(item, true, record());
  return paced(10, () => {
    seq += 1;
    price = Math.max(1, price + ((seq * 7919) % 11) / 10 - 0.5);
    data.update(item, false, record());
  });
}

function startCounter(item, rate) {
  return paced(rate, (seq) => data.update(item, false, { seq: String(seq), ts: String(Date.now()) }));
}

function startPortfolio(item) {
  if (!portfolios.has(item)) portfolios.set(item, new Map([['base', 1]]));
  for (const [key, qty] of portfolios.get(item)) data.update(item, true, { key, command: 'ADD', qty: String(qty) });
  data.endOfSnapshot(item);
  return () => {};
}

function startNews(item) {
  if (!newsHistory.has(item)) {
    newsHistory.set(item, [1, 2, 3].map((seq) => ({ seq, headline: `headline ${seq}` })));
  }
  for (const n of newsHistory.get(item)) data.update(item, true, { seq: String(n.seq), headline: n.headline });
  data.endOfSnapshot(item);
  return () => {};
}

function startBoard(item) {
  if (!boards.has(item)) boards.set(item, 'v0');
  const value = boards.get(item);
  if (value != null) data.update(item, true, { value });
  else data.endOfSnapshot(item);
  return () => {};
}

function startSeen(item) {
  data.update(item, true, seenFields(item.slice('seen_'.length)));
  return () => {};
}

const COUNTER_RE = /^(counter|rawonly)_(\d+)$/;

data.on('subscribe', (item, response) => {
  let start = null;
  const m = COUNTER_RE.exec(item);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 5000) start = () => startCounter(item, Number(m[2]));
  else if (item.startsWith('stock_')) start = () => startStock(item);
  else if (item.startsWith('portfolio_')) start = () => startPortfolio(item);
  else if (item.startsWith('news_')) start = () => startNews(item);
  else if (item.startsWith('board_')) start = () => startBoard(item);
  else if (item.startsWith('seen_')) start = () => startSeen(item);
  if (!start) {
    log(`SUB ${item}: refused (no such item)`);
    response.error(`no such item: ${item}`, 'subscription');
    return;
  }
  log(`SUB ${item}`);
  response.success(); // the SDK knows the item from here on: updates may flow
  subscribed.set(item, () => {});
  subscribed.set(item, start());
});

data.on('unsubscribe', (item, response) => {
  log(`USB ${item}`);
  const stop = subscribed.get(item);
  subscribed.delete(item);
  if (stop) stop();
  response.success();
});

// ---------------------------------------------------------------------------
// Metadata adapter.
const metadataSock = dial('metadata request_reply_port', ports.metadata);
const metadata = new MetadataProvider(metadataSock, {}, credentials);
const ALL_MODES = { raw: true, merge: true, distinct: true, command: true };

metadata.on('init', (request, response) => {
  log(`INIT metadata ${JSON.stringify(request.parameters)}`);
  response.success();
});

function onUser(kind) {
  return (request, response) => {
    const user = request.userName;
    log(`${kind} user=${JSON.stringify(user)} headers=${JSON.stringify(request.headers)}`);
    seenOf(user).nus = { user, password: request.userPassword, headers: request.headers };
    publish(`seen_${user}`, false, seenFields(user));
    if (user === 'refused') response.error('refused by the test adapter', 'access');
    else if (user === 'nocredit') response.error('no credits left', 'credits', { clientCode: -42, clientMessage: 'Out of credits' });
    else response.success(0, false);
  };
}
metadata.on('notifyUser', onUser('NUS'));
metadata.on('notifyUserAuth', onUser('NUA'));

metadata.on('notifyNewSession', (request, response) => {
  const { userName: user, sessionId, contextProperties } = request;
  log(`NNS user=${JSON.stringify(user)} session=${sessionId} context=${JSON.stringify(contextProperties)}`);
  sessionUser.set(sessionId, user);
  seenOf(user).nns = { session: sessionId, context: contextProperties };
  publish(`seen_${user}`, false, seenFields(user));
  response.success();
});

metadata.on('notifySessionClose', (request, response) => {
  const user = sessionUser.get(request.sessionId);
  log(`NSC session=${request.sessionId} user=${JSON.stringify(user)}`);
  if (user != null) {
    seenOf(user).closed.push(request.sessionId);
    publish(`seen_${user}`, false, seenFields(user));
  }
  response.success();
});

metadata.on('getItems', (request, response) => {
  const items = request.groupName.split(' ');
  const bad = items.find((i) => i.startsWith('bad'));
  if (bad) {
    log(`GIS ${request.groupName}: refused`);
    response.error(`no such item: ${bad}`, 'items');
  } else response.success(items);
});

metadata.on('getSchema', (request, response) => {
  const fields = request.schemaName.split(' ');
  const bad = fields.find((f) => f.startsWith('bad'));
  if (bad) {
    log(`GSC ${request.schemaName}: refused`);
    response.error(`no such field: ${bad}`, 'schema');
  } else response.success(fields);
});

metadata.on('getItemData', (request, response) => {
  response.success(request.itemNames.map((item) => ({
    distinctSnapLen: item.startsWith('news_') ? 10 : 0,
    minSourceFreq: 0,
    allowedModes: item.startsWith('rawonly_') ? { raw: true, merge: false, distinct: false, command: false } : ALL_MODES,
  })));
});

metadata.on('getUserItemData', (request, response) => {
  response.success(request.itemNames.map(() => ({ allowedBufferSize: 0, allowedMaxItemFreq: 0, allowedModes: ALL_MODES })));
});

// Client messages: the test drives the data items with them (see README.md).
function onMessage(text) {
  const [op, ...args] = text.split('|');
  switch (op) {
    case 'ECHO':
      return null;
    case 'FAIL':
      return { credits: Number(args[0]), message: args.slice(1).join('|') };
    case 'REJECT':
      return { notification: args.join('|') };
    case 'ADD':
    case 'UPDATE':
    case 'DELETE': {
      const [item, key, qty] = args;
      if (!portfolios.has(item)) portfolios.set(item, new Map([['base', 1]]));
      const rows = portfolios.get(item);
      if (op === 'DELETE') rows.delete(key);
      else rows.set(key, Number(qty));
      publish(item, false, { key, command: op, qty: op === 'DELETE' ? null : String(qty) });
      return null;
    }
    case 'NEWS': {
      const [item, headline] = args;
      const list = newsHistory.get(item) || [];
      const seq = list.length + 1;
      list.push({ seq, headline });
      newsHistory.set(item, list);
      publish(item, false, { seq: String(seq), headline });
      return null;
    }
    case 'SET':
      boards.set(args[0], args[1]);
      publish(args[0], false, { value: args[1] });
      return null;
    case 'CLEAR':
      boards.set(args[0], null);
      if (subscribed.has(args[0])) data.clearSnapshot(args[0]);
      return null;
    default:
      return { notification: `unknown message ${op}` };
  }
}

metadata.on('notifyUserMessage', (request, response) => {
  const { userName: user, sessionId, userMessage } = request;
  log(`NUM user=${JSON.stringify(user)} session=${sessionId} message=${JSON.stringify(userMessage)}`);
  let outcome;
  try {
    outcome = onMessage(userMessage);
  } catch (err) {
    outcome = { notification: err.message };
  }
  if (outcome == null) response.success();
  else if (outcome.credits != null) {
    response.error('message refused', 'credits', { clientCode: outcome.credits, clientMessage: outcome.message });
  } else response.error(outcome.notification, 'notification');
});

process.on('SIGTERM', () => exit(0, 'SIGTERM'));
process.on('SIGINT', () => exit(0, 'SIGINT'));
log(`dialing ${opt.host}: metadata ${ports.metadata}, data ${ports.data} + notify ${ports.notify}` +
  `${opt.tls ? ', TLS' : ''}${credentials ? `, as ${credentials.user}` : ''}`);
