'use strict';
// Runs Debian's HAProxy with a given configuration for a test, and stops it.
//
//   const h = await startHaproxy(configText, [[host, port]]);     // temp dir
//   const h = await startHaproxyFile('kit/haproxy.cfg', [[host, port]], { cwd: 'kit' });
//   h.log (output lines), h.proc, await h.stop()
//
// Every haproxy started here is also killed when the test process exits
// (lib/balancer.js runs it).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runDaemon } = require('./balancer');

function haproxyBin() {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return 'haproxy';
  } catch {
    throw new Error('haproxy is not installed: scripts/test.sh installs it (apt-get install haproxy)');
  }
}

// Checks and runs haproxy on `file` (paths inside it resolve against `cwd`),
// then waits for each of `ports` ([host, port]). `onStop` runs after the process
// is gone; `onLine` sees each output line.
function runHaproxy(bin, file, ports, { cwd, timeoutMs, onLine = null, onStop = () => {} }) {
  return runDaemon({
    name: 'haproxy', bin, file, check: ['-c', '-f', file], args: ['-db', '-f', file], cwd, ports, timeoutMs, onLine, onStop,
  });
}

// Starts haproxy with `config` (text, written to a temp dir) and waits for each
// of `ports` ([host, port]).
function startHaproxy(config, ports, { timeoutMs = 10000 } = {}) {
  const bin = haproxyBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config);
  return runHaproxy(bin, file, ports, { cwd: dir, timeoutMs, onStop: () => fs.rmSync(dir, { recursive: true, force: true }) });
}

// Starts haproxy with an existing configuration file, e.g. a cluster kit's, with
// `cwd` as its working directory (HAProxy resolves crt paths against it).
function startHaproxyFile(file, ports, { cwd = path.dirname(path.resolve(file)), timeoutMs = 10000, onLine = null } = {}) {
  return runHaproxy(haproxyBin(), path.resolve(file), ports, { cwd, timeoutMs, onLine });
}

module.exports = { startHaproxy, startHaproxyFile };
