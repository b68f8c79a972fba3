'use strict';
// A TCP proxy between the client under test and the server, able to break every
// connection going through it at once (cutAll), as a network failure would.
//
//   const proxy = await startProxy({ targetPort: server.port });
//   client URL: proxy.url
//   proxy.cutAll();   // every open client<->proxy and proxy<->server connection is reset
//   proxy.freezeAll(); // server->client data swallowed (counted in proxy.stats) until cutAll()
//   startProxy({ targetPort, onServerData: (chunk) => ... }) // a tap on what the server sends
//   await proxy.close();

const net = require('node:net');
const { EventEmitter } = require('node:events');

const UPDATE_LINE_RE = /(?<![A-Za-z0-9_])U,\d+,\d+,/g;

// Ends a socket abruptly: a TCP RST when the platform allows it, a plain destroy
// otherwise. Never throws.
function hardClose(socket) {
  if (!socket || socket.destroyed) return;
  try {
    if (typeof socket.resetAndDestroy === 'function') {
      socket.resetAndDestroy();
      return;
    }
  } catch (_) {
    // resetAndDestroy refuses sockets it cannot reset: fall through.
  }
  try {
    socket.destroy();
  } catch (_) {
    // already gone
  }
}

// Emits 'change' whenever its counters change (for waitUntil in lib/util.js).
class TcpProxy extends EventEmitter {
  constructor({ targetPort, targetHost = '127.0.0.1', listenHost = '127.0.0.1', listenPort = 0, onServerData = null }) {
    super();
    this.setMaxListeners(0);
    if (!Number.isInteger(targetPort) || targetPort <= 0) {
      throw new TypeError(`TcpProxy: invalid targetPort ${targetPort}`);
    }
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.listenHost = listenHost;
    this.listenPort = listenPort;
    this.onServerData = onServerData;
    this.port = null;
    this.url = null;
    this.server = null;
    this.pairs = new Set();
    this.closed = false;
    this.frozen = false; // black hole in effect (see freezeAll)
    // Counters, for assertions and failure messages.
    this.stats = {
      accepted: 0, // client connections accepted so far
      upstreamErrors: 0, // upstream connections that failed (e.g. server down)
      cutConnections: 0, // client connections ended by cutAll()
      cuts: 0, // calls to cutAll()
      frozenConnections: 0, // client connections frozen (see freezeAll)
      droppedBytesToClient: 0, // server->client bytes swallowed while frozen
      droppedUpdateLines: 0, // TLCP "U," lines seen in the swallowed server->client data
    };
  }

  // Client connections currently open through the proxy.
  get active() {
    return this.pairs.size;
  }

  start() {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: false }, (client) => this._onConnection(client));
      this.server = server;
      const onError = (err) => reject(err);
      server.once('error', onError);
      server.listen(this.listenPort, this.listenHost, () => {
        server.removeListener('error', onError);
        server.on('error', () => {}); // nothing useful to do after startup
        this.port = server.address().port;
        this.url = `http://${this.listenHost}:${this.port}`;
        resolve(this);
      });
    });
  }

  // Points new connections at another server port (existing ones are untouched).
  setTarget(port, host = this.targetHost) {
    this.targetPort = port;
    this.targetHost = host;
  }

  _onConnection(client) {
    if (this.closed) {
      hardClose(client);
      return;
    }
    this.stats.accepted += 1;
    this.emit('change');
    client.setNoDelay(true);
    const upstream = net.connect({ port: this.targetPort, host: this.targetHost });
    upstream.setNoDelay(true);
    const pair = { client, upstream, openedAt: Date.now() };
    this.pairs.add(pair);

    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.pairs.delete(pair);
      this.emit('change');
    };

    // Either side failing or closing takes the other one down: a half-open
    // connection would hide the failure from the other party.
    upstream.on('error', () => {
      this.stats.upstreamErrors += 1;
      hardClose(client);
    });
    client.on('error', () => hardClose(upstream));
    upstream.on('close', () => {
      finish();
      if (!client.destroyed) client.destroy();
    });
    client.on('close', () => {
      finish();
      if (!upstream.destroyed) upstream.destroy();
    });
    if (this.onServerData) upstream.on('data', (chunk) => this.onServerData(chunk));
    // Orderly half-closes are forwarded as such.
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.frozen) this._freezePair(pair);
  }

  // Starts a one-way black hole: from now on, on every connection open or opened
  // later, what the server sends is swallowed, while the sockets stay open and the
  // client's requests still reach the server. The server keeps writing
  // notifications that never reach the client (on a stream, or in the answer to a
  // poll); a following cutAll() then breaks connections with notifications lost
  // in flight, and ends the black hole. Returns how many open connections were
  // frozen.
  freezeAll() {
    this.frozen = true;
    const pairs = [...this.pairs].filter((p) => !p.frozen);
    for (const pair of pairs) this._freezePair(pair);
    this.emit('change');
    return pairs.length;
  }

  // Ends the black hole for new connections (frozen ones stay frozen until cut).
  thaw() {
    this.frozen = false;
    this.emit('change');
  }

  _freezePair(pair) {
    pair.frozen = true;
    this.stats.frozenConnections += 1;
    pair.upstream.unpipe(pair.client);
    let tail = '';
    pair.upstream.on('data', (chunk) => {
      this.stats.droppedBytesToClient += chunk.length;
      // Count TLCP update lines ("U,<subId>,<item>,"), also across chunk
      // boundaries: WS frames from the server are unmasked and HTTP bodies are
      // plain text. Matches lying entirely in `tail` were counted already.
      const text = tail + chunk.toString('latin1');
      for (const m of text.matchAll(UPDATE_LINE_RE)) {
        if (m.index + m[0].length > tail.length) this.stats.droppedUpdateLines += 1;
      }
      tail = text.slice(-32);
      this.emit('change');
    });
    pair.upstream.resume();
  }

  // Breaks every connection currently open through the proxy, in both directions,
  // with a TCP reset. New connections keep being accepted. Returns how many
  // client connections were cut.
  cutAll() {
    this.frozen = false;
    this.stats.cuts += 1;
    const n = this._resetAll();
    this.stats.cutConnections += n;
    return n;
  }

  _resetAll() {
    const pairs = [...this.pairs];
    for (const pair of pairs) {
      this.pairs.delete(pair);
      pair.client.unpipe();
      pair.upstream.unpipe();
      hardClose(pair.client);
      hardClose(pair.upstream);
    }
    this.emit('change');
    return pairs.length;
  }

  describe() {
    return `proxy ${this.url} -> ${this.targetHost}:${this.targetPort} ` +
      `(accepted ${this.stats.accepted}, active ${this.active}, cuts ${this.stats.cuts}, ` +
      `cut connections ${this.stats.cutConnections}, upstream errors ${this.stats.upstreamErrors}, ` +
      `frozen ${this.stats.frozenConnections}, dropped bytes to client ${this.stats.droppedBytesToClient} ` +
      `(${this.stats.droppedUpdateLines} U lines))`;
  }

  // Stops listening and resets every open connection. Always resolves.
  close() {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this._resetAll();
    return new Promise((resolve) => {
      if (!this.server || !this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
    });
  }
}

async function startProxy(opts) {
  const proxy = new TcpProxy(opts);
  await proxy.start();
  return proxy;
}

module.exports = { TcpProxy, startProxy };
