'use strict';
// The publisher of the nchan peer: an HTTP POST of {"seq":N,"ts":MICROS}
// to nchan's publisher location /pub/CHANNEL, RATE times a second, over
// one kept-alive connection (Node's http agent, one socket).
//
//   node publisher.js --port PORT --channel rate-10 --rate 10

const http = require('http');
const { message, tick, options } = require('../ticker');

const opt = options(['port', 'channel', 'rate']);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let failed = false;

function post(body) {
  const req = http.request(
    {
      host: '127.0.0.1',
      port: Number(opt.port),
      path: `/pub/${opt.channel}`,
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      if (res.statusCode >= 300 && !failed) {
        failed = true;
        console.error(`publisher: nchan answered ${res.statusCode}`);
        process.exit(1);
      }
    },
  );
  req.on('error', (e) => {
    console.error(`publisher: ${e.message}`);
    process.exit(1);
  });
  req.end(body);
}

console.log('publishing');
tick(Number(opt.rate), (seq) => post(message(seq)));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
