'use strict';
// Helpers around the official Lightstreamer Node client (lightstreamer-client-node).
//
//   const c = new TestClient(url, { transport: 'WS-STREAMING' });
//   await c.connectAndWait();                 // status CONNECTED:WS-STREAMING
//   const rec = c.subscribe({ mode: 'MERGE', items: ['item1'], fields: [...],
//                             dataAdapter: 'QUOTE_ADAPTER', snapshot: 'yes' });
//   await rec.waitSubscribed();
//   await rec.waitCount(10);
//   await c.sendMessage('CHAT|hi', { sequence: 'chat' });
//   await c.close();
//
// All waits are driven by client events and bounded by explicit timeouts; their
// failure messages include what was observed.

const { EventEmitter } = require('node:events');
const ls = require('lightstreamer-client-node');
const { waitUntil } = require('./util');

const TRANSPORTS = ['WS-STREAMING', 'HTTP-STREAMING', 'WS-POLLING', 'HTTP-POLLING'];
const STREAMING_TRANSPORTS = ['WS-STREAMING', 'HTTP-STREAMING'];

// Status strings notified by lightstreamer-client-node 9.2.2 (onStatusChange).
// "STALLED" is documented but this version never notifies it.
const STATUS = {
  CONNECTING: 'CONNECTING',
  STREAM_SENSING: 'CONNECTED:STREAM-SENSING',
  DISCONNECTED: 'DISCONNECTED',
  WILL_RETRY: 'DISCONNECTED:WILL-RETRY',
  TRYING_RECOVERY: 'DISCONNECTED:TRYING-RECOVERY',
  connected: (transport) => `CONNECTED:${transport}`,
};

// ---------------------------------------------------------------------------
// Client library log: kept in a ring buffer (printed by failing tests), and echoed
// to stderr when SHOAL_TEST_CLIENT_LOG is set. The "lightstreamer.stream" category
// at debug level shows every request sent and every line received.
const LOG_LIMIT = 800;
const logRing = [];
const echoLog = !!process.env.SHOAL_TEST_CLIENT_LOG;
const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };
const CATEGORY_LEVELS = {
  'lightstreamer.stream': 'debug',
  'lightstreamer.protocol': 'info',
  'lightstreamer.session': 'info',
  'lightstreamer.subscriptions': 'info',
  'lightstreamer.messages': 'info',
};
const t0 = Date.now();

function pushLog(level, category, message, exception) {
  const secs = ((Date.now() - t0) / 1000).toFixed(3).padStart(8);
  let line = `${secs} ${level.toUpperCase().padEnd(5)} ${category.replace('lightstreamer.', '')}: ${message}`;
  if (exception) line += ` (${exception && exception.message ? exception.message : exception})`;
  if (line.length > 600) line = `${line.slice(0, 600)}...[${line.length} chars]`;
  logRing.push(line);
  if (logRing.length > LOG_LIMIT) logRing.splice(0, logRing.length - LOG_LIMIT);
  if (echoLog) process.stderr.write(`[ls] ${line}\n`);
}

// A logger provider for the client library: a category logs at the level
// categoryLevels gives it ('debug', 'info', ...; 'warn' when not listed) and
// above, through write(level, category, message, exception).
function loggerProvider(categoryLevels, write) {
  return {
    getLogger(category) {
      const min = LEVELS[categoryLevels[category] ?? 'warn'];
      const logger = {};
      for (const [name, value] of Object.entries(LEVELS)) {
        const enabled = value >= min;
        logger[name] = enabled ? (msg, exc) => write(name, category, msg, exc) : () => {};
        logger[`is${name[0].toUpperCase()}${name.slice(1)}Enabled`] = () => enabled;
      }
      return logger;
    },
  };
}

ls.LightstreamerClient.setLoggerProvider(loggerProvider(CATEGORY_LEVELS, pushLog));

function clientLogTail(n = 150) {
  return logRing.slice(-n).join('\n');
}

// ---------------------------------------------------------------------------

let clientCounter = 0;

// Builds a Subscription. `snapshot`: 'yes' | 'no' | number | undefined (not sent);
// `maxFrequency`: number | 'unlimited' | 'unfiltered' | undefined.
function makeSubscription({ mode, items, fields, dataAdapter, snapshot, maxFrequency, bufferSize }) {
  const sub = new ls.Subscription(mode, items, fields);
  if (dataAdapter != null) sub.setDataAdapter(dataAdapter);
  if (snapshot != null) sub.setRequestedSnapshot(String(snapshot));
  if (maxFrequency != null) sub.setRequestedMaxFrequency(maxFrequency);
  if (bufferSize != null) sub.setRequestedBufferSize(bufferSize);
  return sub;
}

// Records everything a Subscription notifies.
class SubscriptionRecorder extends EventEmitter {
  constructor(subscription, label) {
    super();
    this.setMaxListeners(0);
    this.subscription = subscription;
    this.label = label;
    this.fields = subscription.getFields() || [];
    this.updates = []; // { index, item, itemPos, snapshot, values, at }
    this.subscribedCount = 0;
    this.unsubscribedCount = 0;
    this.errors = []; // { code, message }
    this.endOfSnapshot = []; // { item, itemPos }
    this.clearSnapshot = []; // { item, itemPos }
    this.lost = []; // { item, itemPos, lost }
    this.realMaxFrequency = [];
    this.listener = {
      onSubscription: () => {
        this.subscribedCount += 1;
        this.emit('change');
      },
      onUnsubscription: () => {
        this.unsubscribedCount += 1;
        this.emit('change');
      },
      onSubscriptionError: (code, message) => {
        this.errors.push({ code, message });
        this.emit('change');
      },
      onItemUpdate: (u) => this._onUpdate(u),
      onEndOfSnapshot: (item, itemPos) => {
        this.endOfSnapshot.push({ item, itemPos });
        this.emit('change');
      },
      onClearSnapshot: (item, itemPos) => {
        this.clearSnapshot.push({ item, itemPos });
        this.emit('change');
      },
      onItemLostUpdates: (item, itemPos, lost) => {
        this.lost.push({ item, itemPos, lost });
        this.emit('change');
      },
      onRealMaxFrequency: (freq) => {
        this.realMaxFrequency.push(freq);
        this.emit('change');
      },
    };
    subscription.addListener(this.listener);
  }

  _onUpdate(u) {
    const values = {};
    for (const f of this.fields) values[f] = u.getValue(f);
    this.updates.push({
      index: this.updates.length,
      item: u.getItemName(),
      itemPos: u.getItemPos(),
      snapshot: u.isSnapshot(),
      values,
      at: Date.now(),
    });
    this.emit('change');
  }

  // Fails fast: while waiting for anything else, a subscription error is fatal.
  _throwIfError() {
    if (this.errors.length) {
      const e = this.errors[0];
      throw new Error(`${this.label}: unexpected onSubscriptionError(${e.code}, ${JSON.stringify(e.message)})`);
    }
  }

  describe({ lastUpdates = 5 } = {}) {
    const last = this.updates.slice(-lastUpdates).map((u) => `${u.item}${u.snapshot ? '(snap)' : ''} ${JSON.stringify(u.values)}`);
    return (
      `${this.label}: subscribed ${this.subscribedCount}x, unsubscribed ${this.unsubscribedCount}x, ` +
      `${this.updates.length} updates, errors ${JSON.stringify(this.errors)}, EOS ${JSON.stringify(this.endOfSnapshot)}, ` +
      `lost ${JSON.stringify(this.lost)}, realMaxFrequency ${JSON.stringify(this.realMaxFrequency)}` +
      (last.length ? `; last updates: ${last.join(' ; ')}` : '')
    );
  }

  waitSubscribed({ timeoutMs = 10000, count = 1 } = {}) {
    return waitUntil(this, () => {
      this._throwIfError();
      return this.subscribedCount >= count;
    }, { timeoutMs, what: `${this.label}: onSubscription (#${count})`, state: () => this.describe() });
  }

  waitError({ timeoutMs = 10000 } = {}) {
    return waitUntil(this, () => this.errors[0], {
      timeoutMs,
      what: `${this.label}: onSubscriptionError`,
      state: () => this.describe(),
    });
  }

  // Waits until check(updates) returns a truthy value and resolves with it.
  waitFor(check, { timeoutMs = 10000, what = 'updates' } = {}) {
    return waitUntil(this, () => {
      this._throwIfError();
      return check(this.updates);
    }, { timeoutMs, what: `${this.label}: ${what}`, state: () => this.describe() });
  }

  // Waits until at least `n` updates (matching `filter`, if given) were received
  // from index `from` on.
  waitCount(n, { from = 0, filter = null, timeoutMs = 10000, what = null } = {}) {
    const count = () => {
      let k = 0;
      for (let i = from; i < this.updates.length; i += 1) if (!filter || filter(this.updates[i])) k += 1;
      return k;
    };
    return this.waitFor(() => count() >= n, {
      timeoutMs,
      what: what || `${n} updates from #${from} (got ${count()} so far at the time of the timeout)`,
    });
  }

  // Waits for the first update from index `from` on that satisfies pred; resolves with it.
  waitUpdate(pred, { from = 0, timeoutMs = 10000, what = 'a matching update' } = {}) {
    return this.waitFor((updates) => {
      for (let i = from; i < updates.length; i += 1) if (pred(updates[i])) return updates[i];
      return null;
    }, { timeoutMs, what });
  }
}

class TestClient extends EventEmitter {
  // transport: one of TRANSPORTS (forced) or null for the client default.
  // options: { serverInstanceAddressIgnored, reverseHeartbeatInterval, ... } applied
  // through connectionOptions setters; configure(lsClient) for anything else.
  constructor(url, { transport = null, adapterSet = 'DEMO', name = null, options = {}, configure = null } = {}) {
    super();
    this.setMaxListeners(0);
    clientCounter += 1;
    this.name = name || `client${clientCounter}`;
    this.url = url;
    this.transport = transport;
    this.adapterSet = adapterSet;
    this.client = new ls.LightstreamerClient(url, adapterSet);
    const co = this.client.connectionOptions;
    if (transport) co.setForcedTransport(transport);
    if (options.serverInstanceAddressIgnored != null) co.setServerInstanceAddressIgnored(options.serverInstanceAddressIgnored);
    if (options.reverseHeartbeatInterval != null) co.setReverseHeartbeatInterval(options.reverseHeartbeatInterval);
    if (options.keepaliveInterval != null) co.setKeepaliveInterval(options.keepaliveInterval);
    if (options.sessionRecoveryTimeout != null) co.setSessionRecoveryTimeout(options.sessionRecoveryTimeout);
    if (options.retryDelay != null) co.setRetryDelay(options.retryDelay);
    if (configure) configure(this.client);
    this.statusLog = []; // { status, sessionId, at }
    this.serverErrors = []; // { code, message, at }
    this.recorders = [];
    this.closed = false;
    this.listener = {
      onStatusChange: (status) => {
        this.statusLog.push({ status, sessionId: this.sessionId(), at: Date.now() });
        this.emit('change');
      },
      onServerError: (code, message) => {
        this.serverErrors.push({ code, message, at: Date.now() });
        this.emit('change');
      },
    };
    this.client.addListener(this.listener);
  }

  get status() {
    return this.client.getStatus();
  }

  sessionId() {
    return this.client.connectionDetails.getSessionId();
  }

  statusHistory() {
    return this.statusLog.map((s) => s.status);
  }

  describe() {
    const t = this.statusLog.length ? this.statusLog[0].at : Date.now();
    const hist = this.statusLog
      .map((s) => `${s.status}${s.sessionId ? `[${s.sessionId}]` : ''}@+${s.at - t}ms`)
      .join(' -> ');
    const lines = [
      `${this.name} (${this.transport || 'auto'} -> ${this.url}, adapter set ${this.adapterSet}): ` +
        `status ${this.status}, session ${this.sessionId()}; history: ${hist || '(none)'}; ` +
        `server errors ${JSON.stringify(this.serverErrors.map(({ code, message }) => ({ code, message })))}`,
    ];
    for (const r of this.recorders) lines.push(`  ${r.describe()}`);
    return lines.join('\n');
  }

  connect() {
    this.client.connect();
  }

  // Waits for a status (exact string or predicate(entry)) among the notifications
  // at index >= fromIndex; resolves with the entry { status, sessionId, at }.
  // A server error fails the wait at once unless allowServerError is set.
  waitStatus(expected, { timeoutMs = 15000, fromIndex = 0, allowServerError = false, what = null } = {}) {
    const pred = typeof expected === 'function' ? expected : (e) => e.status === expected;
    const label = what || (typeof expected === 'string' ? `status ${expected}` : 'a status');
    return waitUntil(this, () => {
      for (let i = fromIndex; i < this.statusLog.length; i += 1) if (pred(this.statusLog[i], i)) return this.statusLog[i];
      if (!allowServerError && this.serverErrors.length) {
        const e = this.serverErrors[0];
        throw new Error(`${this.name}: onServerError(${e.code}, ${JSON.stringify(e.message)}) while waiting for ${label}\n${this.describe()}`);
      }
      return null;
    }, { timeoutMs, what: `${this.name}: ${label}`, state: () => this.describe() });
  }

  // Connects and waits for CONNECTED:<forced transport>; resolves with the session id.
  async connectAndWait({ timeoutMs = 15000 } = {}) {
    if (!this.transport) throw new Error('connectAndWait needs a forced transport');
    const from = this.statusLog.length;
    this.connect();
    await this.waitStatus(STATUS.connected(this.transport), { timeoutMs, fromIndex: from });
    const sid = this.sessionId();
    if (!sid) throw new Error(`${this.name}: connected but getSessionId() is ${JSON.stringify(sid)}`);
    return sid;
  }

  waitServerError({ timeoutMs = 15000 } = {}) {
    return waitUntil(this, () => this.serverErrors[0], {
      timeoutMs,
      what: `${this.name}: onServerError`,
      state: () => this.describe(),
    });
  }

  // Subscribes (spec object for makeSubscription, or a Subscription) and returns
  // the recorder of its notifications.
  subscribe(spec, label = null) {
    const sub = spec instanceof ls.Subscription ? spec : makeSubscription(spec);
    const items = sub.getItems ? sub.getItems() : null;
    const rec = new SubscriptionRecorder(
      sub,
      label || `${this.name} ${sub.getMode()} ${sub.getDataAdapter() || ''}/${items ? items.join(' ') : sub.getItemGroup()}`,
    );
    this.recorders.push(rec);
    this.client.subscribe(sub);
    return rec;
  }

  unsubscribe(rec) {
    this.client.unsubscribe(rec.subscription);
  }

  // Sends a message with a ClientMessageListener. Resolves with
  // { response } on onProcessed; rejects on onDeny/onError/onDiscarded/onAbort or
  // when no outcome arrives within timeoutMs.
  sendMessage(text, { sequence = null, delayTimeout = null, enqueueWhileDisconnected = false, timeoutMs = 10000 } = {}) {
    return new Promise((resolve, reject) => {
      const desc = `${this.name}: message ${JSON.stringify(text)} (sequence ${sequence || 'UNORDERED_MESSAGES'})`;
      const timer = setTimeout(() => {
        reject(new Error(`${desc}: no outcome (onProcessed/onDeny/...) within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      const settle = (fn, value) => {
        clearTimeout(timer);
        fn(value);
      };
      const listener = {
        onProcessed: (msg, response) => settle(resolve, { message: msg, response }),
        onDeny: (msg, code, message) => settle(reject, new Error(`${desc}: onDeny(${code}, ${JSON.stringify(message)})`)),
        onError: () => settle(reject, new Error(`${desc}: onError`)),
        onDiscarded: () => settle(reject, new Error(`${desc}: onDiscarded`)),
        onAbort: (msg, sentOnNetwork) => settle(reject, new Error(`${desc}: onAbort(sentOnNetwork=${sentOnNetwork})`)),
      };
      this.client.sendMessage(text, sequence, delayTimeout, listener, enqueueWhileDisconnected);
    });
  }

  // Disconnects and waits (bounded) for DISCONNECTED. Never throws.
  async close({ timeoutMs = 5000 } = {}) {
    if (this.closed) return;
    this.closed = true;
    try {
      const from = this.statusLog.length;
      this.client.disconnect();
      if (this.status !== STATUS.DISCONNECTED) {
        await this.waitStatus(STATUS.DISCONNECTED, { timeoutMs, fromIndex: from, allowServerError: true }).catch(() => {});
      }
    } catch (_) {
      // cleanup must not fail a test
    }
  }
}

module.exports = {
  ls,
  TRANSPORTS,
  STREAMING_TRANSPORTS,
  STATUS,
  TestClient,
  SubscriptionRecorder,
  makeSubscription,
  clientLogTail,
  loggerProvider,
};
