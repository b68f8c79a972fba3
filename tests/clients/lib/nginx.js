'use strict';
// Runs Debian's nginx on a cluster kit's nginx.conf for a test, and stops it.
// nginx forks workers: lib/balancer.js runs it in a process group of its own,
// and the whole group is killed on stop and when the test process exits.

const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { runDaemon } = require('./balancer');

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
// each of `ports` ([host, port]). `onLine` sees each output line.
function startNginxFile(file, ports, { timeoutMs = 10000, onLine = null } = {}) {
  const bin = nginxBin();
  const dir = path.dirname(path.resolve(file));
  const args = ['-p', dir, '-c', path.basename(file)];
  return runDaemon({ name: 'nginx', bin, file, check: ['-t', '-q', ...args], args, cwd: dir, ports, timeoutMs, group: true, onLine });
}

module.exports = { startNginxFile };
