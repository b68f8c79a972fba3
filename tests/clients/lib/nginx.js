'use strict';
// Runs Debian's nginx on a cluster kit's nginx.conf for a test, and stops it.
// nginx forks workers: it runs in a process group of its own, and the whole
// group is killed on stop and when the test process exits.

const { spawn, execFileSync } = require('node:child_process');
const path = require('node:path');
const { waitPort } = require('./haproxy');

const groups = new Set();
process.on('exit', () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch (_) {
      // already gone
    }
  }
});

function nginxBin() {
  for (const bin of ['/usr/sbin/nginx', 'nginx']) {
    try {
      execFileSync(bin, ['-v'], { stdio: 'ignore' });
      return bin;
    } catch (_) {
      // next
    }
  }
  throw new Error('nginx is not installed: scripts/test.sh installs it (apt-get install nginx libnginx-mod-stream)');
}

// Checks and runs nginx with prefix `dir` and its `nginx.conf`, then waits for
// each of `ports` ([host, port]).
async function startNginxFile(file, ports, { timeoutMs = 10000 } = {}) {
  const bin = nginxBin();
  const dir = path.dirname(path.resolve(file));
  const args = ['-p', dir, '-c', path.basename(file)];
  try {
    execFileSync(bin, ['-t', '-q', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`nginx -t rejects ${file}: ${e.stderr || e.stdout || e.message}`);
  }
  const log = [];
  const proc = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(proc.pid);
  proc.stdout.on('data', (d) => log.push(String(d)));
  proc.stderr.on('data', (d) => log.push(String(d)));
  const exited = new Promise((resolve) => proc.on('close', resolve));
  const stop = async () => {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch (_) {
      // already gone
    }
    await exited;
    groups.delete(proc.pid);
  };
  try {
    const gone = () => (proc.exitCode !== null || proc.signalCode !== null ? `code ${proc.exitCode}, signal ${proc.signalCode}` : null);
    for (const [host, port] of ports) await waitPort(host, port, timeoutMs, gone, 'nginx');
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- nginx output ---\n${log.join('')}`);
  }
  return { proc, stop, log };
}

module.exports = { startNginxFile };
