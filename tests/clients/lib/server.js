'use strict';
// Starts and stops Shoal server processes for the tests.
//
//   const server = await startServer();          // shoal serve --listen 127.0.0.1:0
//   server.url, server.port, server.proc, server.log
//   await server.restart({ signal: 'SIGKILL' }); // same port, new process
//   await server.stop();                         // SIGTERM, SIGKILL after a grace
//
// Every process started here is also killed when the test process exits, whatever
// the way it exits, so that a crashed test never leaves a server behind.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { killedOnExit } = require('./util');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BIN = 'target/release/shoal';
const START_TIMEOUT_MS = 15000;
const STOP_GRACE_MS = 3000;
const LOG_LIMIT = 4000; // lines kept per server (older ones are dropped)

const LISTENING_RE = /listening on (https?):\/\/([^\s/]+):(\d+)/;

const live = killedOnExit();

function shoalBin() {
  const configured = process.env.SHOAL_BIN || DEFAULT_BIN;
  return path.resolve(REPO_ROOT, configured);
}

function checkBinary(bin) {
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch (err) {
    throw new Error(
      `Shoal binary not found or not executable: ${bin} (${err.code}). ` +
        'Build it (cargo build --release) or set SHOAL_BIN.',
    );
  }
}

// Splits a stream into lines and hands each to onLine.
function onLines(stream, onLine) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, nl).replace(/\r$/, ''));
      pending = pending.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
    pending = '';
  });
}

function waitExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    let timer = null;
    const done = (value) => {
      if (timer) clearTimeout(timer);
      proc.removeListener('exit', onExit);
      resolve(value);
    };
    const onExit = () => done(true);
    proc.on('exit', onExit);
    if (timeoutMs != null) timer = setTimeout(() => done(false), timeoutMs);
  });
}

class ShoalServer {
  // bin: executable (default SHOAL_BIN or target/release/shoal); binArgs: arguments
  // put before "serve" (lets the harness self-test run a fake server with node).
  // listeners: how many "listening on" lines to wait for (default: one per
  // `listen`; give it when the listeners come from a --config file).
  // onLine(line, { stream, generation }): sees every output line, including the
  // ones that `log` (a bounded ring) drops later.
  // fastStop: SIGTERM drains a real server for seconds (sessions moved away one
  // by one); by default tests stop it at once (--drain-grace 0 --drain-window 0).
  // false leaves the drain settings alone: a drain test gives its own --drain-*
  // in extraArgs; the harness's fake server knows no such flags.
  constructor({ bin = shoalBin(), binArgs = [], listen = ['127.0.0.1:0'], extraArgs = [], env = {}, name = 'shoal', listeners = null, onLine = null, fastStop = true } = {}) {
    if (fastStop && extraArgs.some((a) => a.startsWith('--drain-'))) {
      throw new Error(`${name}: --drain-* in extraArgs needs fastStop: false`);
    }
    this.bin = bin;
    this.binArgs = [...binArgs];
    this.listen = [...listen];
    this.expected = listeners ?? Math.max(1, listen.length);
    this.extraArgs = [...extraArgs];
    this.env = { ...env };
    this.name = name;
    this.onLine = onLine;
    this.fastStop = fastStop;
    this.proc = null;
    this.generation = 0; // how many processes were started by this handle
    this.log = []; // stdout and stderr lines of every process started by this handle
    this.addresses = []; // [{ url, host, port }] of the current process, in order
    this.url = null;
    this.port = null;
  }

  _addLog(line) {
    this.log.push(line);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }

  // Last lines of the server output (all processes of this handle), for failure reports.
  logTail(n = 150) {
    return this.log.slice(-n).join('\n');
  }

  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start({ timeoutMs = START_TIMEOUT_MS } = {}) {
    if (this.running) throw new Error(`${this.name}: already running (pid ${this.proc.pid})`);
    checkBinary(this.bin);
    const args = [...this.binArgs, 'serve'];
    for (const addr of this.listen) args.push('--listen', addr);
    args.push(...this.extraArgs);
    if (this.fastStop) args.push('--drain-grace', '0', '--drain-window', '0');
    this.generation += 1;
    const gen = this.generation;
    this._addLog(`---- [harness] start #${gen}: ${this.bin} ${args.join(' ')}`);

    const proc = spawn(this.bin, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    live.add(proc);
    const addresses = [];
    this.addresses = addresses;

    const ready = new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      const timer = setTimeout(() => {
        settle(
          reject,
          new Error(
            `${this.name}: no "listening on" line for ${this.expected} listener(s) ` +
              `within ${timeoutMs} ms (got ${addresses.length}).\n--- server output ---\n${this.logTail(60)}`,
          ),
        );
      }, timeoutMs);
      onLines(proc.stdout, (line) => {
        this._addLog(`[out#${gen}] ${line}`);
        if (this.onLine) this.onLine(line, { stream: 'stdout', generation: gen });
        const m = LISTENING_RE.exec(line);
        if (m) {
          const port = Number(m[3]);
          addresses.push({ url: `${m[1]}://${m[2]}:${port}`, host: m[2], port });
          if (addresses.length >= this.expected) settle(resolve);
        }
      });
      onLines(proc.stderr, (line) => {
        this._addLog(`[err#${gen}] ${line}`);
        if (this.onLine) this.onLine(line, { stream: 'stderr', generation: gen });
      });
      proc.on('error', (err) => {
        this._addLog(`---- [harness] spawn error: ${err.message}`);
        settle(reject, new Error(`${this.name}: cannot start ${this.bin}: ${err.message}`));
      });
      proc.on('exit', () => live.delete(proc));
      // 'close' comes after the output pipes are drained: the log is complete.
      proc.on('close', (code, signal) => {
        this._addLog(`---- [harness] process #${gen} exited (code ${code}, signal ${signal})`);
        settle(
          reject,
          new Error(
            `${this.name}: exited before listening (code ${code}, signal ${signal}).\n` +
              `--- server output ---\n${this.logTail(60)}`,
          ),
        );
      });
    });

    try {
      await ready;
    } catch (err) {
      await this._kill(proc);
      throw err;
    }
    this.url = addresses[0].url;
    this.port = addresses[0].port;
    return this;
  }

  async _kill(proc, { signal = 'SIGTERM', graceMs = STOP_GRACE_MS } = {}) {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      live.delete(proc);
      return;
    }
    try {
      proc.kill(signal);
    } catch (_) {
      // already gone
    }
    if (signal !== 'SIGKILL' && !(await waitExit(proc, graceMs))) {
      this._addLog(`---- [harness] no exit ${graceMs} ms after ${signal}: SIGKILL`);
      try {
        proc.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
    // SIGKILL cannot be ignored; the bound only protects against a zombie reaper bug.
    if (!(await waitExit(proc, 10000))) {
      this._addLog('---- [harness] process did not exit after SIGKILL');
    }
    live.delete(proc);
  }

  // Stops the current process: `signal` (SIGTERM by default), then SIGKILL after
  // `graceMs`. Always resolves once the process is gone.
  async stop({ signal = 'SIGTERM', graceMs = STOP_GRACE_MS } = {}) {
    const proc = this.proc;
    await this._kill(proc, { signal, graceMs });
  }

  // Kills the current process (SIGKILL by default: a crash) and starts a new one on
  // the same port(s) as the previous process.
  async restart({ signal = 'SIGKILL', graceMs = STOP_GRACE_MS, timeoutMs = START_TIMEOUT_MS } = {}) {
    if (!this.addresses.length) throw new Error(`${this.name}: restart before a successful start`);
    const previous = this.addresses.map((a) => `${a.host}:${a.port}`);
    await this.stop({ signal, graceMs });
    this.listen = previous;
    await this.start({ timeoutMs });
    if (this.port !== Number(previous[0].split(':').pop())) {
      throw new Error(`${this.name}: restarted on port ${this.port}, expected ${previous[0]}`);
    }
    return this;
  }
}

async function startServer(opts = {}) {
  const server = new ShoalServer(opts);
  await server.start(opts);
  return server;
}

module.exports = { ShoalServer, startServer, shoalBin, onLines, REPO_ROOT };
