'use strict';
// Runs Debian's HAProxy with a given configuration for a test, and stops it.
//
//   const h = await startHaproxy(configText, [[host, port]]);     // temp dir
//   const h = await startHaproxyFile('kit/haproxy.cfg', [[host, port]], { cwd: 'kit' });
//   h.log (output chunks), h.proc, await h.stop()
//
// Every haproxy started here is also killed when the test process exits.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { killedOnExit } = require('./util');

const live = killedOnExit();

function haproxyBin() {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return 'haproxy';
  } catch {
    throw new Error('haproxy is not installed: scripts/test.sh installs it (apt-get install haproxy)');
  }
}

// Waits until host:port accepts connections; gives up early when `exited()`
// says haproxy is gone (a bad configuration makes it exit at once).
function waitPort(host, port, timeoutMs, exited = () => null, what = 'haproxy') {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        const gone = exited();
        if (gone) reject(new Error(`${what} exited (${gone}) before opening ${host}:${port}`));
        else if (Date.now() > deadline) reject(new Error(`${what} did not open ${host}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// Checks and runs haproxy on `file` (paths inside it resolve against `cwd`),
// then waits for each of `ports` ([host, port]). `onStop` runs after the process
// is gone.
async function runHaproxy(file, ports, { cwd = path.dirname(file), timeoutMs = 10000, onStop = () => {} } = {}) {
  const bin = haproxyBin();
  try {
    execFileSync(bin, ['-c', '-q', '-f', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    onStop();
    throw new Error(`haproxy -c rejects ${file}: ${e.stderr || e.stdout || e.message}`);
  }
  const log = [];
  const proc = spawn(bin, ['-db', '-f', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.stdout.on('data', (d) => log.push(String(d)));
  proc.stderr.on('data', (d) => log.push(String(d)));
  const exited = new Promise((resolve) => proc.on('close', resolve));
  proc.on('exit', () => live.delete(proc));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    live.delete(proc);
    onStop();
  };
  try {
    const exited = () => (proc.exitCode !== null || proc.signalCode !== null ? `code ${proc.exitCode}, signal ${proc.signalCode}` : null);
    for (const [host, port] of ports) await waitPort(host, port, timeoutMs, exited);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- haproxy output ---\n${log.join('')}`);
  }
  return { proc, stop, log };
}

// Starts haproxy with `config` (text, written to a temp dir) and waits for each
// of `ports` ([host, port]).
async function startHaproxy(config, ports, { timeoutMs = 10000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  return runHaproxy(file, ports, { cwd: dir, timeoutMs, onStop: () => fs.rmSync(dir, { recursive: true, force: true }) });
}

// Starts haproxy with an existing configuration file, e.g. a cluster kit's, with
// `cwd` as its working directory (HAProxy resolves crt paths against it).
function startHaproxyFile(file, ports, { cwd = path.dirname(path.resolve(file)), timeoutMs = 10000 } = {}) {
  return runHaproxy(path.resolve(file), ports, { cwd, timeoutMs });
}

module.exports = { startHaproxy, startHaproxyFile, waitPort };
