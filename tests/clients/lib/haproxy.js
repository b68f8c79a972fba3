'use strict';
// Runs Debian's HAProxy with a given configuration for a test, and stops it.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function haproxyBin() {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return 'haproxy';
  } catch {
    throw new Error('haproxy is not installed: scripts/test.sh installs it (apt-get install haproxy)');
  }
}

function waitPort(host, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`haproxy did not open ${host}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

// Starts haproxy with `config` and waits for each of `ports` ([host, port]).
async function startHaproxy(config, ports, { timeoutMs = 10000 } = {}) {
  const bin = haproxyBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  execFileSync(bin, ['-c', '-q', '-f', file]);
  const log = [];
  const proc = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => log.push(String(d)));
  proc.stderr.on('data', (d) => log.push(String(d)));
  const exited = new Promise((resolve) => proc.on('close', resolve));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [host, port] of ports) await waitPort(host, port, timeoutMs);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- haproxy output ---\n${log.join('')}`);
  }
  return { proc, stop, log };
}

module.exports = { startHaproxy };
