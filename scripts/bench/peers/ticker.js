'use strict';
// What every peer's publisher shares: a microsecond wall clock and a ticker
// that calls publish(seq, ts) `rate` times a second, seq from 1, ts the
// microseconds since the epoch when the update is made. The message is
// JSON: {"seq":N,"ts":MICROS}, what shoal-load reads for every peer.

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

function message(seq) {
  return `{"seq":${seq},"ts":${micros()}}`;
}

// Every millisecond, sends the updates due by then (none is skipped when a
// tick comes late). Returns a function that stops it.
function tick(rate, publish) {
  const started = process.hrtime.bigint();
  let sent = 0;
  const timer = setInterval(() => {
    const elapsedNs = Number(process.hrtime.bigint() - started);
    const due = Math.floor((elapsedNs * rate) / 1e9);
    while (sent < due) {
      sent += 1;
      publish(sent);
    }
  }, 1);
  return () => clearInterval(timer);
}

// --name value pairs of the command line.
function options(names) {
  const out = {};
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '');
    if (!names.includes(name) || args[i + 1] === undefined) {
      console.error(`unknown or incomplete option ${args[i]}; expected ${names.map((n) => '--' + n).join(' ')}`);
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

module.exports = { micros, message, tick, options };
