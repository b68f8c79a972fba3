'use strict';
// What every peer's publisher shares: a microsecond wall clock and a ticker
// that calls publish(seq) `rate` times a second, seq from 1. The message is
// JSON: {"seq":N,"ts":MICROS}, ts the microseconds since the epoch when the
// update is made, what shoal-load reads for every peer; a publisher of
// several channels adds {"ch":NAME} so that a client subscribed to several
// on one connection can tell them apart.
//
// Channels are named as Shoal's COUNTER items, rate-N for N updates a
// second, so one list names both what to subscribe and how fast to publish;
// any other name (the idle workload's) is never published to.

const http = require('http');

// process.hrtime is monotonic with nanosecond steps; it is anchored once on
// the wall clock at the edge of a Date.now() millisecond, so its readings
// are within a few microseconds of the epoch time Rust's SystemTime gives.
function anchor() {
  process.hrtime.bigint();
  const start = Date.now();
  let ms = Date.now();
  while (ms === start) ms = Date.now();
  return BigInt(ms) * 1000n - process.hrtime.bigint() / 1000n;
}
const offset = anchor();

function micros() {
  return offset + process.hrtime.bigint() / 1000n;
}

function message(seq, ch) {
  if (ch === undefined) return `{"seq":${seq},"ts":${micros()}}`;
  return `{"seq":${seq},"ts":${micros()},"ch":"${ch}"}`;
}

// The rate of a channel named rate-N, 0 for any other name.
function rateOf(channel) {
  const m = /^rate-([1-9][0-9]*)$/.exec(channel);
  return m ? Number(m[1]) : 0;
}

// The channels of a comma-separated list, each with its rate.
function channels(list) {
  return list.split(',').filter((c) => c !== '').map((name) => ({ name, rate: rateOf(name) }));
}

// Every millisecond, sends the updates due by then (none is skipped when a
// tick comes late). Returns a function that stops it. A rate of 0 never
// publishes.
function tick(rate, publish) {
  return tickBatch(rate, (seqs) => seqs.forEach(publish));
}

// As tick, but hands every update due at one timer tick over at once, as an
// array of seqs, for publishers whose API takes several messages in one
// request.
function tickBatch(rate, publishMany) {
  if (!(rate > 0)) return () => {};
  const started = process.hrtime.bigint();
  let sent = 0;
  const timer = setInterval(() => {
    const elapsedNs = Number(process.hrtime.bigint() - started);
    const due = Math.floor((elapsedNs * rate) / 1e9);
    if (due <= sent) return;
    const seqs = [];
    while (sent < due) {
      sent += 1;
      seqs.push(sent);
    }
    publishMany(seqs);
  }, 1);
  return () => clearInterval(timer);
}

// --name value pairs of the command line: every one of `names`, and those
// of `optional` that are given.
function options(names, optional = []) {
  const out = {};
  const args = process.argv.slice(2);
  const known = names.concat(optional);
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '');
    if (!known.includes(name) || args[i + 1] === undefined) {
      console.error(`unknown or incomplete option ${args[i]}; expected ${known.map((n) => '--' + n).join(' ')}`);
      process.exit(2);
    }
    out[name] = args[i + 1];
  }
  for (const n of names) {
    if (out[n] === undefined) {
      console.error(`missing --${n}`);
      process.exit(2);
    }
  }
  return out;
}

// One JSON POST to 127.0.0.1:PORT/PATH over `agent` (the HTTP publishers
// of nchan and Pushpin): `onStatus(code)` when the answer comes, `onDone()`
// once its body is read, `onError(e)` when the request fails.
function postJson({ agent, port, path, body, onStatus, onDone, onError }) {
  const req = http.request(
    {
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    },
    (res) => {
      res.on('end', onDone);
      res.resume();
      onStatus(res.statusCode);
    },
  );
  req.on('error', onError);
  req.end(body);
}

module.exports = { micros, message, rateOf, channels, tick, tickBatch, options, postJson };
