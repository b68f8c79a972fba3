#!/usr/bin/env node
'use strict';
// A remote data adapter for the benchmarks, on the official Node SDK
// (npm lightstreamer-adapter 1.5.3, installed under tests/clients): items
// `rate-N` as the DEMO set's COUNTER serves them (fields `seq`, from 1, and
// `ts`, microseconds since the epoch when the update was made), N updates
// per second, no snapshot. The metadata adapter is Shoal's in-process
// LiteralBasedProvider (see scripts/bench.sh), so this process only dials
// the data adapter's request/reply and notify ports.
//
//   node scripts/bench/remote-counter.js --data-port D --notify-port N

const net = require('node:net');
const { parseArgs } = require('node:util');
const { DataProvider } = require('lightstreamer-adapter');

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    'data-port': { type: 'string' },
    'notify-port': { type: 'string' },
  },
});
if (!opt['data-port'] || !opt['notify-port']) {
  console.error('usage: remote-counter.js --data-port D --notify-port N [--host H]');
  process.exit(2);
}

function connect(port, what) {
  const socket = net.createConnection(Number(port), opt.host);
  socket.on('error', (err) => {
    console.error(`${what}: ${err.message}`);
    process.exit(1);
  });
  socket.on('close', () => process.exit(0));
  return socket;
}

const data = new DataProvider(
  connect(opt['data-port'], 'data requests'),
  connect(opt['notify-port'], 'data notifications'),
  () => false, // no snapshot: the SDK sends the end of snapshot itself
);

// Microseconds since the epoch, from the monotonic clock and its offset to
// the wall clock, measured once. Date.now() has millisecond steps: read at
// any moment it is up to 1 ms behind, and every latency measured from `ts`
// would be that much too long. Read just as it steps, it is at most the
// time taken to notice the step behind, so the largest of a few readings is
// the best (within microseconds).
function wallMinusMonotonicMicros() {
  process.hrtime.bigint(); // the first call is slow
  let best = null;
  for (let i = 0; i < 10; i += 1) {
    const before = Date.now();
    let ms = before;
    while (ms === before) ms = Date.now();
    const offset = BigInt(ms) * 1000n - process.hrtime.bigint() / 1000n;
    if (best === null || offset > best) best = offset;
  }
  return best;
}
const offsetMicros = wallMinusMonotonicMicros();
function nowMicros() {
  return String(offsetMicros + process.hrtime.bigint() / 1000n);
}

const feeds = new Map(); // item -> { timer }
const TICK_MS = 1;

data.on('subscribe', (item, response) => {
  const m = /^rate-(\d+)$/.exec(item);
  const rate = m ? Number(m[1]) : 0;
  if (!(rate >= 1 && rate <= 1000000)) {
    response.error(`no such item: ${item} (expected rate-N, 1 <= N <= 1000000)`, 'subscription');
    return;
  }
  response.success();
  const started = process.hrtime.bigint();
  let seq = 0;
  // Each tick sends what is due by the clock, so the rate holds whatever
  // the timer's precision.
  const timer = setInterval(() => {
    const elapsedNs = Number(process.hrtime.bigint() - started);
    const due = Math.floor((elapsedNs / 1e9) * rate);
    while (seq < due) {
      seq += 1;
      data.update(item, false, { seq: String(seq), ts: nowMicros() });
    }
  }, TICK_MS);
  feeds.set(item, { timer });
});

data.on('unsubscribe', (item, response) => {
  const feed = feeds.get(item);
  if (feed) clearInterval(feed.timer);
  feeds.delete(item);
  response.success();
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
