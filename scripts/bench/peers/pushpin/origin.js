'use strict';
// The origin and publisher of the Pushpin peer, in one Node process with no
// dependency:
// - the origin answers Pushpin's WebSocket-over-HTTP requests
//   (application/websocket-events): it accepts the connection (OPEN) with
//   the GRIP extension and subscribes it to CHANNEL with a control message
//   `c:{"type":"subscribe","channel":...}`; it echoes CLOSE and ignores the
//   rest;
// - the publisher POSTs {"items":[{"channel":...,"formats":{"ws-message":
//   {"content":"{\"seq\":N,\"ts\":MICROS}"}}}]} to Pushpin's HTTP publish
//   endpoint (/publish/ on PUBLISH_PORT) RATE times a second.
//
//   node origin.js --port ORIGIN_PORT --publish-port P --channel rate-10 --rate 10
// prints "listening" once the origin listens.

const http = require('http');
const { message, tick, options } = require('../ticker');

const opt = options(['port', 'publish-port', 'channel', 'rate']);

// One WebSocket event: NAME, or NAME LEN(hex)\r\nBODY, then \r\n.
function event(name, body) {
  if (body === undefined) return `${name}\r\n`;
  return `${name} ${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
}

const subscribe = `c:${JSON.stringify({ type: 'subscribe', channel: opt.channel })}`;

const origin = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    let out = '';
    if (body.startsWith('OPEN\r\n')) out = event('OPEN') + event('TEXT', subscribe);
    else if (body.includes('CLOSE')) out = event('CLOSE', '');
    res.writeHead(200, {
      'Content-Type': 'application/websocket-events',
      'Sec-WebSocket-Extensions': 'grip',
    });
    res.end(out);
  });
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function publish(seq) {
  const body = JSON.stringify({
    items: [{ channel: opt.channel, formats: { 'ws-message': { content: message(seq) } } }],
  });
  const req = http.request(
    {
      host: '127.0.0.1',
      port: Number(opt['publish-port']),
      path: '/publish/',
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume();
      if (res.statusCode >= 300) console.error(`publish: Pushpin answered ${res.statusCode}`);
    },
  );
  // Pushpin may not listen yet at the first ticks: those are lost, and the
  // clients subscribe later anyway.
  req.on('error', (e) => console.error(`publish: ${e.message}`));
  req.end(body);
}

origin.listen(Number(opt.port), '127.0.0.1', () => {
  console.log('listening');
  tick(Number(opt.rate), publish);
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
