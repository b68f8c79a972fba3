'use strict';
// One official LightstreamerClient in a process of its own: a simulated client
// machine for the cluster tests. It has its own cookie jar (the Node client's jar
// is per process), its own source address, and resolves the kit's host names
// from the kit's hosts file.
//
//   node lib/cluster-client.js '{"url":"http://push.example.test:8000", ...}'
//   (or the same JSON in the SHOAL_CLUSTER_CLIENT environment variable)
//
// Configuration: name, url, adapterSet ("DEMO"), hostsFile, sourceAddress,
// ignoreControlLink (setServerInstanceAddressIgnored(true)), forcedTransport
// (setForcedTransport: "WS-STREAMING", "HTTP-STREAMING", "HTTP-POLLING", ...;
// absent or null: the client's own choice), retryDelay (setRetryDelay, ms: the
// pause before a new session after a refused bind, and between recovery tries)
// and sessionRecoveryTimeout (setSessionRecoveryTimeout, ms: how long recovery
// tries go on before the client gives up and opens a new session; absent or
// null: the library's defaults, 4000 and 15000).
// The test CA comes from NODE_EXTRA_CA_CERTS, set by the parent (Node reads it at
// start-up only).
//
// Commands, one JSON object per line on stdin:
//   {cmd:'connect'} {cmd:'exit'}
//   {cmd:'subscribe', id, mode, items, fields, dataAdapter, snapshot, maxFrequency, bufferSize}
//   {cmd:'send', text, sequence?, id?, delayTimeout?, enqueueWhileDisconnected?}
// Events, one JSON object per line on stdout, each with `t` (Date.now()), `ht`
// (same clock, fractional ms), `ev`, and `session` (the session id at that time):
//   ready, status {status}, session {session, previous, serverInstanceAddress}, property {name, value},
//   subscribed {id}, unsubscribed {id}, subscriptionError {id, code, message},
//   update {id, item, itemPos, snapshot, values}, endOfSnapshot {id, item}, clearSnapshot {id, item},
//   lost {id, item, lost}, message {id, text, sequence, outcome, response|code|message|sentOnNetwork},
//   serverError {code, message}, commandError {cmd, message}, exiting {reason}
// The client library's own log goes to stderr (timestamped), for the parent to
// keep: it is what tells why a reconnection took the time it took.
//
// The process exits by itself when stdin closes or when its parent goes away, so
// a crashed test run never leaves clients behind.

const { performance } = require('node:perf_hooks');
const { installHosts, readHostsFile, bindSourceAddress } = require('./hosts');

function readConfig() {
  const raw = process.argv[2] || process.env.SHOAL_CLUSTER_CLIENT;
  if (!raw) throw new Error('cluster-client: give the configuration as a JSON argument or in SHOAL_CLUSTER_CLIENT');
  const config = JSON.parse(raw);
  if (!config.url) throw new Error('cluster-client: "url" is required');
  return { adapterSet: 'DEMO', ...config };
}

// ---------------------------------------------------------------------------
// Output

let stdoutOpen = true;
process.stdout.on('error', () => {
  // EPIPE: the parent is gone.
  stdoutOpen = false;
  shutdown('stdout closed', 0);
});

let currentSession = () => null;

function emit(ev, fields = {}) {
  if (!stdoutOpen) return;
  const now = performance.timeOrigin + performance.now();
  const line = JSON.stringify({ t: Date.now(), ht: Number(now.toFixed(3)), ev, session: currentSession(), ...fields });
  process.stdout.write(`${line}\n`);
}

// Library log on stderr: absolute time, so that it lines up with the node logs
// and the harness's kill time. The stream category at debug shows every request
// sent and every line received; cookies at debug show what the jar holds.
const CATEGORY_LEVELS = {
  'lightstreamer.stream': 'debug',
  'lightstreamer.protocol': 'info',
  'lightstreamer.session': 'debug',
  'lightstreamer.cookies': 'debug',
  'lightstreamer.subscriptions': 'info',
  'lightstreamer.messages': 'info',
  'lightstreamer.reachability': 'info',
};

function writeLog(level, category, msg, exc) {
  let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${category.replace('lightstreamer.', '')}: ${msg}`;
  if (exc) line += ` (${exc && exc.message ? exc.message : exc})`;
  if (line.length > 1000) line = `${line.slice(0, 1000)}...[${line.length} chars]`;
  process.stderr.write(`${line.replace(/\r?\n/g, '\\n')}\n`);
}

// ---------------------------------------------------------------------------
// The client

let client = null;
const subscriptions = new Map(); // id -> Subscription
let shuttingDown = false;

function setupClient(config, { ls, loggerProvider }) {
  ls.LightstreamerClient.setLoggerProvider(loggerProvider(CATEGORY_LEVELS, writeLog));
  client = new ls.LightstreamerClient(config.url, config.adapterSet);
  if (config.ignoreControlLink) client.connectionOptions.setServerInstanceAddressIgnored(true);
  if (config.forcedTransport) client.connectionOptions.setForcedTransport(config.forcedTransport);
  if (config.retryDelay != null) client.connectionOptions.setRetryDelay(config.retryDelay);
  if (config.sessionRecoveryTimeout != null) client.connectionOptions.setSessionRecoveryTimeout(config.sessionRecoveryTimeout);
  const details = client.connectionDetails;
  currentSession = () => details.getSessionId();
  let lastSession = null;
  client.addListener({
    onStatusChange: (status) => emit('status', { status }),
    onServerError: (code, message) => emit('serverError', { code, message }),
    onPropertyChange: (name) => {
      if (name === 'sessionId') {
        const sid = details.getSessionId();
        if (sid !== lastSession) {
          emit('session', { previous: lastSession, serverInstanceAddress: details.getServerInstanceAddress() });
          lastSession = sid;
        }
        return;
      }
      const getters = {
        serverInstanceAddress: 'getServerInstanceAddress',
        serverSocketName: 'getServerSocketName',
        clientIp: 'getClientIp',
      };
      if (getters[name]) emit('property', { name, value: details[getters[name]]() });
    },
  });
}

function subscribe(cmd) {
  const { makeSubscription } = require('./client');
  if (cmd.id == null) throw new Error('subscribe needs an id');
  if (subscriptions.has(cmd.id)) throw new Error(`subscription id ${cmd.id} already used`);
  const sub = makeSubscription(cmd);
  const fields = sub.getFields() || [];
  const id = cmd.id;
  // The session of this subscription's last update. The client hands
  // updates to listeners after it has read them: the last ones of a session
  // that ended (END, a drain) come when the client holds no session any
  // more, and are that session's.
  let updateSession = null;
  sub.addListener({
    onSubscription: () => emit('subscribed', { id }),
    onUnsubscription: () => emit('unsubscribed', { id }),
    onSubscriptionError: (code, message) => emit('subscriptionError', { id, code, message }),
    onItemUpdate: (u) => {
      const values = {};
      for (const f of fields) values[f] = u.getValue(f);
      updateSession = currentSession() ?? updateSession;
      emit('update', { session: updateSession, id, item: u.getItemName(), itemPos: u.getItemPos(), snapshot: u.isSnapshot(), values });
    },
    onEndOfSnapshot: (item) => emit('endOfSnapshot', { id, item }),
    onClearSnapshot: (item) => emit('clearSnapshot', { id, item }),
    onItemLostUpdates: (item, itemPos, lost) => emit('lost', { id, item, lost }),
  });
  subscriptions.set(id, sub);
  client.subscribe(sub);
}

function send(cmd) {
  const { id = null, text, sequence = null, delayTimeout = null, enqueueWhileDisconnected = false } = cmd;
  if (typeof text !== 'string') throw new Error('send needs a text');
  const base = { id, text, sequence };
  client.sendMessage(text, sequence, delayTimeout, {
    onProcessed: (_msg, response) => emit('message', { ...base, outcome: 'processed', response }),
    onDeny: (_msg, code, message) => emit('message', { ...base, outcome: 'deny', code, message }),
    onError: () => emit('message', { ...base, outcome: 'error' }),
    onDiscarded: () => emit('message', { ...base, outcome: 'discarded' }),
    onAbort: (_msg, sentOnNetwork) => emit('message', { ...base, outcome: 'abort', sentOnNetwork }),
  }, enqueueWhileDisconnected);
}

function handle(cmd) {
  switch (cmd.cmd) {
    case 'connect': client.connect(); break;
    case 'subscribe': subscribe(cmd); break;
    case 'send': send(cmd); break;
    case 'exit': shutdown('exit command', 0); break;
    default: throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`);
  }
}

// Disconnects (so that the server sees the session end) and exits; bounded, since
// a dead server must not keep the process alive.
function shutdown(reason, code) {
  if (shuttingDown) return;
  shuttingDown = true;
  emit('exiting', { reason });
  const finish = () => process.exit(code);
  if (!client || client.getStatus() === 'DISCONNECTED') {
    setImmediate(finish);
    return;
  }
  client.addListener({ onStatusChange: (s) => { if (s === 'DISCONNECTED') setTimeout(finish, 50); } });
  client.disconnect();
  setTimeout(finish, 1000);
}

function readCommands() {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      let cmd = null;
      try {
        cmd = JSON.parse(line);
        handle(cmd);
      } catch (err) {
        emit('commandError', { cmd: cmd ? cmd.cmd : line, message: err.message });
      }
    }
  });
  process.stdin.on('end', () => shutdown('stdin closed', 0));
  process.stdin.on('close', () => shutdown('stdin closed', 0));
}

// stdin EOF covers a parent that dies, but a stdin inherited elsewhere would
// keep it open: also watch the parent pid.
function watchParent() {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) shutdown('parent gone', 0);
  }, 500);
  timer.unref();
}

function main() {
  const config = readConfig();
  // Before the library is loaded, so that every socket it opens is covered.
  if (config.hostsFile) installHosts(readHostsFile(config.hostsFile));
  if (config.sourceAddress) bindSourceAddress(config.sourceAddress);
  setupClient(config, require('./client'));
  readCommands();
  watchParent();
  emit('ready', { pid: process.pid, name: config.name || null, url: config.url, sourceAddress: config.sourceAddress || null });
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`cluster-client: ${err.stack || err.message}\n`);
    process.exit(2);
  }
}
