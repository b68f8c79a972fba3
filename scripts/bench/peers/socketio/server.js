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
// With --redis-port, the updates come from outside instead (the broker-feed
// benchmark): the server uses Socket.IO's Redis adapter
// (@socket.io/redis-adapter 8, over Redis Pub/Sub, node-redis 4 clients as
// its docs show them) on the Redis server at 127.0.0.1:PORT, and whatever a
// producer publishes in the Redis emitter's format
// (`emitter.to(room).emit("update", {seq, ts})` of @socket.io/redis-emitter)
// reaches the clients of that room; CHANNELS are then only rooms to join
// (none is ticked here).
//
//   node server.js --port 0 --channels rate-10[,rate-11...] [--redis-port P]
// prints "listening on PORT" once it listens (with --redis-port, once its
// adapter is subscribed too).

const { createServer } = require('http');
const { Server } = require('socket.io');
const { micros, channels, tick, options } = require('../ticker');

const opt = options(['port', 'channels'], ['redis-port']);
const list = channels(opt.channels);
const fed = opt['redis-port'] !== undefined;

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
for (const { name, rate } of fed ? [] : list) {
  const room = io.to(name);
  if (list.length === 1) tick(rate, (seq) => room.emit('update', { seq, ts: Number(micros()) }));
  else tick(rate, (seq) => room.emit('update', { seq, ts: Number(micros()), ch: name }));
}

// The Redis adapter's two clients: one publishes, one subscribes (the
// adapter's PSUBSCRIBE of socket.io#/#* is made when it is set).
async function redisAdapter(port) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pubClient = createClient({ url: `redis://127.0.0.1:${port}` });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) c.on('error', (e) => console.error(`redis: ${e.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
  // A round trip on the subscriber's connection: its PSUBSCRIBE, sent
  // before, is done once this answers.
  await subClient.pSubscribe('shoal-bench-ready', () => {});
}

(fed ? redisAdapter(Number(opt['redis-port'])) : Promise.resolve()).then(
  () =>
    httpServer.listen(Number(opt.port), '127.0.0.1', () => {
      console.log(`listening on ${httpServer.address().port}`);
    }),
  (e) => {
    console.error(`cannot use Redis on port ${opt['redis-port']}: ${e.message}`);
    process.exit(1);
  },
);

const stop = () => {
  io.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
