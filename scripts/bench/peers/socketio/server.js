'use strict';
// The Socket.IO peer of the fan-out benchmark: a Socket.IO 4 server on
// 127.0.0.1:PORT that is also its own publisher, as a Socket.IO app is. A
// client emits `subscribe` with a channel name and joins that room (the
// server answers `subscribed`, and a client of several rooms emits one
// `subscribe` each); for each channel rate-N of CHANNELS the server emits
// `update` with {"seq":N,"ts":MICROS} (plus "ch" when there are several) to
// the room, N times a second.
//
// Settings, from the Socket.IO v4 docs ("Performance tuning"): the ws
// native add-ons bufferutil and utf-8-validate are installed (package.json,
// optionalDependencies); the HTTP request kept by each connection is
// dropped once it is established, to save memory. WebSocket only (the
// clients never poll), no per-message compression (the default since 4.0).
// One Node process: the server's CPU is that process's.
//
//   node server.js --port 0 --channels rate-10[,rate-11...]
// prints "listening on PORT" once it listens.

const { createServer } = require('http');
const { Server } = require('socket.io');
const { micros, channels, tick, options } = require('../ticker');

const opt = options(['port', 'channels']);
const list = channels(opt.channels);

const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
});

io.engine.on('connection', (rawSocket) => {
  rawSocket.request = null;
});

io.on('connection', (socket) => {
  socket.on('subscribe', (channel) => {
    if (typeof channel !== 'string') return;
    socket.join(channel);
    socket.emit('subscribed', channel);
  });
});

// The payload is an object (ts stays below 2^53): Socket.IO serialises it.
for (const { name, rate } of list) {
  const room = io.to(name);
  if (list.length === 1) tick(rate, (seq) => room.emit('update', { seq, ts: Number(micros()) }));
  else tick(rate, (seq) => room.emit('update', { seq, ts: Number(micros()), ch: name }));
}

httpServer.listen(Number(opt.port), '127.0.0.1', () => {
  console.log(`listening on ${httpServer.address().port}`);
});

const stop = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
