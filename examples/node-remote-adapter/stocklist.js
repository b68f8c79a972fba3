#!/usr/bin/env node
'use strict';
// A stock list served by a remote adapter written with the Lightstreamer SDK for
// Node adapters (npm lightstreamer-adapter 1.5.3). Shoal runs the adapter set
// STOCKLIST_NODE (adapters/STOCKLIST_NODE/adapters.xml) and waits for this
// process on three TCP ports: the metadata adapter's, and the data adapter's
// request/reply and notify ports (SDK 1.5.x uses two connections for data).
//
// Items item1 .. item10, fields stock_name last_price time pct_change bid ask
// min max; each item has a snapshot and then moves about twice a second.

const net = require('node:net');
const { parseArgs } = require('node:util');
const { DataProvider, MetadataProvider } = require('lightstreamer-adapter');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    'metadata-port': { type: 'string', default: '6663' },
    'data-port': { type: 'string', default: '6661' },
    'notify-port': { type: 'string', default: '6662' },
  },
});

const NAMES = ['Anthracite Mining', 'Bluefin Freight', 'Cobalt Robotics', 'Driftwood Media', 'Ember Foods',
  'Fjord Telecom', 'Granite Insurance', 'Harbor Pharma', 'Iris Optics', 'Juniper Energy'];

function connect(port, what) {
  const socket = net.createConnection(Number(port), opt.host);
  socket.on('connect', () => console.error(`connected to Shoal: ${what} (port ${port})`));
  socket.on('error', (err) => {
    console.error(`${what} connection: ${err.message}`);
    process.exit(1);
  });
  socket.on('close', () => {
    console.error(`${what} connection closed by Shoal`);
    process.exit(1);
  });
  return socket;
}

// The metadata adapter: the SDK's defaults take a group name as a
// space-separated list of items, and a schema as a list of fields.
const metadata = new MetadataProvider(connect(opt['metadata-port'], 'metadata'));
metadata.on('init', (request, response) => {
  console.error('metadata adapter ready');
  response.success();
});

// The data adapter.
const data = new DataProvider(
  connect(opt['data-port'], 'data requests'),
  connect(opt['notify-port'], 'data notifications'),
  () => true, // every item has a snapshot
);

const stocks = new Map(); // item -> current values
const timers = new Map(); // item -> interval of a subscribed item

function stockOf(item) {
  if (!stocks.has(item)) {
    const n = Number(item.slice(4));
    const ref = 10 + n * 7.5;
    stocks.set(item, { name: NAMES[n - 1], ref, price: ref, min: ref, max: ref });
  }
  return stocks.get(item);
}

function fields(s) {
  return {
    stock_name: s.name,
    last_price: s.price.toFixed(2),
    time: new Date().toTimeString().slice(0, 8),
    pct_change: (((s.price - s.ref) / s.ref) * 100).toFixed(2),
    bid: (s.price * 0.999).toFixed(2),
    ask: (s.price * 1.001).toFixed(2),
    min: s.min.toFixed(2),
    max: s.max.toFixed(2),
  };
}

data.on('init', (request, response) => {
  console.error('data adapter ready');
  response.success();
});

data.on('subscribe', (item, response) => {
  if (!/^item([1-9]|10)$/.test(item)) {
    response.error(`no stock called ${item}`, 'subscription');
    return;
  }
  console.error(`subscribed: ${item}`);
  response.success();
  const s = stockOf(item);
  data.update(item, true, fields(s)); // the snapshot
  timers.set(item, setInterval(() => {
    s.price = Math.max(0.01, s.price * (1 + (Math.random() - 0.5) / 50));
    s.min = Math.min(s.min, s.price);
    s.max = Math.max(s.max, s.price);
    data.update(item, false, fields(s));
  }, 400 + Math.floor(Math.random() * 200)));
});

data.on('unsubscribe', (item, response) => {
  console.error(`unsubscribed: ${item}`);
  clearInterval(timers.get(item));
  timers.delete(item);
  response.success();
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
