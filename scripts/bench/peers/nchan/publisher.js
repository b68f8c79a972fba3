'use strict';
// The publisher of the nchan peer: an HTTP POST of {"seq":N,"ts":MICROS}
// (plus "ch" when there are several channels) to nchan's publisher location
// /pub/CHANNEL, N times a second for each channel rate-N of CHANNELS, over
// one kept-alive connection (Node's http agent, one socket): nchan's
// publisher API takes one message per request.
//
// At high rates one connection cannot carry a request per update: at most
// MAX_PENDING requests wait for it, and an update due when that many wait
// is not published (its seq is skipped, so the clients count it missing).
// The number skipped is printed when the publisher stops.
//
//   node publisher.js --port PORT --channels rate-10[,rate-11...]

const http = require('http');
const { message, channels, tick, options, postJson } = require('../ticker');

const MAX_PENDING = 256;
const opt = options(['port', 'channels']);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let failed = false;
let pending = 0;
let skipped = 0;

function post(channel, body) {
  if (pending >= MAX_PENDING) {
    skipped += 1;
    return;
  }
  pending += 1;
  postJson({
    agent,
    port: Number(opt.port),
    path: `/pub/${channel}`,
    body,
    onStatus: (status) => {
      if (status >= 300 && !failed) {
        failed = true;
        console.error(`publisher: nchan answered ${status}`);
        process.exit(1);
      }
    },
    onDone: () => {
      pending -= 1;
    },
    onError: (e) => {
      console.error(`publisher: ${e.message}`);
      process.exit(1);
    },
  });
}

console.log('publishing');
const list = channels(opt.channels);
for (const { name, rate } of list) {
  tick(rate, (seq) => post(name, message(seq, list.length > 1 ? name : undefined)));
}
// However it ends (a signal, or nchan gone first): what was not published.
process.on('exit', () => console.log(`skipped ${skipped}`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
