'use strict';
// Small shared helpers: event-driven waits with explicit timeouts, sequence checks,
// and per-test resource scopes that clean up and report diagnostics on failure.

// Resolves with the first truthy value returned by `check()`, evaluated now and
// again each time `emitter` emits 'change'. Rejects after `timeoutMs` with a
// message naming `what` and the state described by `state()`. If `check` throws,
// the wait fails at once with that error (used to fail fast, e.g. on a
// subscription error while waiting for updates).
function waitUntil(emitter, check, { timeoutMs, what, state = () => '' }) {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    return Promise.reject(new TypeError(`waitUntil(${what}): a positive timeoutMs is required`));
  }
  return new Promise((resolve, reject) => {
    let timer = null;
    const cleanup = () => {
      clearTimeout(timer);
      emitter.removeListener('change', evaluate);
    };
    function evaluate() {
      let result;
      try {
        result = check();
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (result) {
        cleanup();
        resolve(result);
      }
    }
    timer = setTimeout(() => {
      cleanup();
      let extra = '';
      try {
        extra = state();
      } catch (err) {
        extra = `(state unavailable: ${err.message})`;
      }
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.${extra ? `\n${extra}` : ''}`));
    }, timeoutMs);
    emitter.on('change', evaluate);
    evaluate();
  });
}

// Checks that `seqs` (numbers, in arrival order) go up by exactly one each time.
// Returns a list of human-readable problems (empty when the sequence is fine).
function sequenceProblems(seqs, { maxReported = 10 } = {}) {
  const problems = [];
  for (let i = 0; i < seqs.length; i += 1) {
    const s = seqs[i];
    if (!Number.isSafeInteger(s)) {
      problems.push(`#${i}: seq ${JSON.stringify(s)} is not an integer`);
      continue;
    }
    if (i === 0 || !Number.isSafeInteger(seqs[i - 1])) continue;
    const prev = seqs[i - 1];
    if (s === prev + 1) continue;
    if (s === prev) problems.push(`#${i}: duplicate seq ${s}`);
    else if (s > prev + 1) problems.push(`#${i}: gap ${prev} -> ${s} (${s - prev - 1} missing)`);
    else problems.push(`#${i}: seq went back ${prev} -> ${s}`);
  }
  if (problems.length > maxReported) {
    const n = problems.length;
    problems.splice(maxReported, n - maxReported, `... ${n - maxReported} more`);
  }
  return problems;
}

// Parses a decimal integer field value strictly; anything else is returned as is
// (so that sequenceProblems reports it instead of silently reading null as 0).
function parseSeq(value) {
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
}

// Compact rendering of a long list of numbers: "1..5, 7, 9..12".
function compactRanges(nums, maxParts = 40) {
  const parts = [];
  let start = null;
  let prev = null;
  const flush = () => {
    if (start === null) return;
    parts.push(start === prev ? `${start}` : `${start}..${prev}`);
  };
  for (const n of nums) {
    if (start !== null && Number.isSafeInteger(n) && n === prev + 1) {
      prev = n;
      continue;
    }
    flush();
    start = n;
    prev = n;
  }
  flush();
  if (parts.length > maxParts) {
    return `${parts.slice(0, maxParts / 2).join(', ')}, ... ${parts.slice(-maxParts / 2).join(', ')}`;
  }
  return parts.join(', ');
}

function uniqueToken(prefix = 't') {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

// A per-test set of resources (servers, proxies, clients) that are always released
// at the end of the test, failed or not, and described on failure.
//
//   it('x', (t) => scoped(t, async (s) => {
//     const c = s.client(server.url, { transport });
//     ...
//   }));
class Scope {
  constructor(t) {
    this.t = t;
    this.servers = []; // { server, owned }
    this.proxies = [];
    this.clients = [];
    this.tracked = []; // anything with close() and describe(), e.g. remote adapters
    this.dirs = [];
    this.notes = [];
  }

  // Includes `resource` (close(), describe()) in the cleanup, after the clients
  // and proxies and before the servers, and in the failure report.
  track(resource) {
    this.tracked.push(resource);
    return resource;
  }

  // A temporary directory, removed at the end of the test.
  tempDir(prefix = 'shoal-test-') {
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  // Includes a server in the failure report; `owned` servers are also stopped.
  watchServer(server, { owned = false } = {}) {
    this.servers.push({ server, owned });
    return server;
  }

  async startServer(opts) {
    const { ShoalServer } = require('./server');
    const server = new ShoalServer(opts);
    this.watchServer(server, { owned: true });
    await server.start(opts);
    return server;
  }

  async startProxy(opts) {
    const { startProxy } = require('./proxy');
    const proxy = await startProxy(opts);
    this.proxies.push(proxy);
    return proxy;
  }

  client(url, opts) {
    const { TestClient } = require('./client');
    const c = new TestClient(url, opts);
    this.clients.push(c);
    return c;
  }

  note(text) {
    this.notes.push(text);
  }

  async cleanup() {
    // Clients first, while their server still answers; then proxies and tracked
    // resources (remote adapters); then servers; then temporary directories.
    await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
    await Promise.all(this.proxies.map((p) => p.close().catch(() => {})));
    await Promise.all(this.tracked.map((r) => Promise.resolve().then(() => r.close()).catch(() => {})));
    await Promise.all(this.servers.filter((s) => s.owned).map((s) => s.server.stop().catch(() => {})));
    for (const dir of this.dirs) require('node:fs').rmSync(dir, { recursive: true, force: true });
  }

  report(err) {
    const { clientLogTail } = require('./client');
    const lines = [];
    lines.push(`FAILED: ${err && err.message ? err.message.split('\n')[0] : err}`);
    for (const n of this.notes) lines.push(`note: ${n}`);
    for (const c of this.clients) lines.push(c.describe());
    for (const p of this.proxies) lines.push(p.describe());
    for (const r of this.tracked) if (r.describe) lines.push(r.describe());
    for (const { server } of this.servers) {
      if (!server.log.length) continue;
      lines.push(`---- ${server.name} output (last lines; url ${server.url}) ----`);
      lines.push(server.logTail(120));
    }
    const clientLog = clientLogTail(150);
    if (clientLog) {
      lines.push('---- client library log (last lines, all clients of this test file) ----');
      lines.push(clientLog);
    }
    for (const block of lines) {
      for (const line of String(block).split('\n')) this.t.diagnostic(line);
    }
  }
}

async function scoped(t, fn) {
  const scope = new Scope(t);
  t.after(() => scope.cleanup());
  try {
    return await fn(scope);
  } catch (err) {
    try {
      scope.report(err);
    } catch (reportErr) {
      t.diagnostic(`(diagnostics failed: ${reportErr.message})`);
    }
    throw err;
  }
}

// A set of processes that are all killed when the test process exits, whatever
// the way it exits, so that a crashed test leaves nothing behind. It holds
// anything with kill(signal): a ChildProcess, or an object that kills a whole
// process group. Delete an entry once its process is gone.
function killedOnExit() {
  const killables = new Set();
  process.on('exit', () => {
    for (const k of killables) {
      try {
        k.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
  });
  return killables;
}

module.exports = { killedOnExit, waitUntil, sequenceProblems, parseSeq, compactRanges, uniqueToken, Scope, scoped };
