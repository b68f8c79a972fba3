'use strict';
// The origin and publisher of the Pushpin peer, in one Node process with no
// dependency:
// - the origin answers Pushpin's WebSocket-over-HTTP requests
//   (application/websocket-events): it accepts the connection (OPEN) with
//   the GRIP extension and subscribes it, with one control message
//   `c:{"type":"subscribe","channel":...}` each, to the channels named in
//   the request's path, comma-separated (ws://pushpin/rate-10,rate-11); it
//   echoes CLOSE and ignores the rest;
// - the publisher POSTs {"items":[{"channel":...,"formats":{"ws-message":
//   {"content":"{\"seq\":N,\"ts\":MICROS}"}}}, ...]} to Pushpin's HTTP
//   publish endpoint (/publish/ on PUBLISH_PORT), N updates a second for
//   each channel rate-N of CHANNELS, with every update due at a 1 ms timer
//   tick in one request (the endpoint takes a list of items). At most
//   MAX_PENDING requests wait for an answer; an update due when that many
//   wait is not published (its seq is skipped, so clients count it
//   missing), and the number skipped is printed at the end.
//
//   node origin.js --port ORIGIN_PORT --publish-port P --channels rate-10[,...]
// prints "listening" once the origin listens.

const http = require('http');
const { message, channels, tickBatch, options, postJson } = require('../ticker');

const MAX_PENDING = 64;
const opt = options(['port', 'publish-port', 'channels']);

// One WebSocket event: NAME, or NAME LEN(hex)\r\nBODY, then \r\n.
function event(name, body) {
  if (body === undefined) return `${name}\r\n`;
  return `${name} ${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
}

// The channels of a request path: /rate-10,rate-11 -> the GRIP control
// messages subscribing to each.
function subscriptions(url) {
  const path = decodeURIComponent((url || '/').split('?')[0]).replace(/^\/+/, '');
  return path
    .split(',')
    .filter((c) => c !== '')
    .map((channel) => event('TEXT', `c:${JSON.stringify({ type: 'subscribe', channel })}`))
    .join('');
}

const origin = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    let out = '';
    if (body.startsWith('OPEN\r\n')) out = event('OPEN') + subscriptions(req.url);
    else if (body.includes('CLOSE')) out = event('CLOSE', '');
    res.writeHead(200, {
      'Content-Type': 'application/websocket-events',
      'Sec-WebSocket-Extensions': 'grip',
    });
    res.end(out);
  });
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const list = channels(opt.channels);
let pending = 0;
let skipped = 0;
function publish(channel, seqs) {
  if (pending >= MAX_PENDING) {
    skipped += seqs.length;
    return;
  }
  pending += 1;
  const ch = list.length > 1 ? channel : undefined;
  const items = seqs.map((seq) => ({ channel, formats: { 'ws-message': { content: message(seq, ch) } } }));
  const body = JSON.stringify({ items });
  postJson({
    agent,
    port: Number(opt['publish-port']),
    path: '/publish/',
    body,
    onStatus: (status) => {
      if (status >= 300) console.error(`publish: Pushpin answered ${status}`);
    },
    onDone: () => {
      pending -= 1;
    },
    // Pushpin may not listen yet at the first ticks: those are lost, and
    // the clients subscribe later anyway.
    onError: (e) => {
      pending -= 1;
      console.error(`publish: ${e.message}`);
    },
  });
}

origin.listen(Number(opt.port), '127.0.0.1', () => {
  console.log('listening');
  for (const { name, rate } of list) tickBatch(rate, (seqs) => publish(name, seqs));
});
// However it ends (a signal, or nchan gone first): what was not published.
process.on('exit', () => console.log(`skipped ${skipped}`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
