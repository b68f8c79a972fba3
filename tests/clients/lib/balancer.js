'use strict';
// Runs a load balancer (HAProxy, nginx: lib/haproxy.js, lib/nginx.js) in the
// foreground for a test, and stops it. The configuration is checked first; the
// output is kept as lines; the start waits until every listening port accepts
// connections, and fails at once, with the output, if the balancer exits.
//
//   const b = await runDaemon({ name, bin, file, check, args, cwd, ports });
//   b.log (output lines), b.proc, await b.stop()
//
// Every balancer started here is also killed when the test process exits.

const { spawn, execFileSync } = require('node:child_process');
const net = require('node:net');
const { onLines } = require('./server');
const { killedOnExit } = require('./util');

const live = killedOnExit();

// `code C, signal S` once the process has exited, else null.
function exitOf(proc) {
  return proc.exitCode !== null || proc.signalCode !== null ? `code ${proc.exitCode}, signal ${proc.signalCode}` : null;
}

// Waits until host:port accepts connections; gives up early when `exited()`
// says the balancer is gone (a bad configuration makes it exit at once).
function waitPort(host, port, timeoutMs, exited, what) {
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

// name: the balancer, for messages. bin: its executable. file: its configuration
// (for messages). check: the arguments that check the configuration (exit 0 when
// good). args: the arguments that run it in the foreground. cwd: its working
// directory. ports: [[host, port]] to wait for. group: run it in a process group
// of its own and kill the whole group (a master that forks workers). onLine(line):
// sees each output line once it is in `log`. onStop(): runs once the process is
// gone, or when it could not start.
async function runDaemon({ name, bin, file, check, args, cwd, ports, timeoutMs = 10000, group = false, onLine = null, onStop = () => {} }) {
  try {
    execFileSync(bin, check, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    onStop();
    const said = `${e.stderr || ''}${e.stdout || ''}`.trim();
    throw new Error(`${name} ${check[0]} rejects ${file}: ${said || e.message}`);
  }
  const log = [];
  const proc = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  // A process group is signalled through its leader's pid, negated.
  const target = group ? { kill: (signal) => process.kill(-proc.pid, signal) } : proc;
  live.add(target);
  const keep = (line) => {
    log.push(line);
    if (onLine) onLine(line);
  };
  onLines(proc.stdout, keep);
  onLines(proc.stderr, keep);
  const closed = new Promise((resolve) => proc.on('close', resolve));
  proc.on('exit', () => {
    // Workers may outlive their master: they go with it. Then the group is
    // forgotten, since its id may be reused once the group is empty.
    if (group) {
      try {
        target.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
    live.delete(target);
  });
  const stop = async () => {
    if (!exitOf(proc)) {
      try {
        target.kill('SIGKILL');
      } catch (_) {
        // already gone
      }
    }
    await closed;
    onStop();
  };
  try {
    for (const [host, port] of ports) await waitPort(host, port, timeoutMs, () => exitOf(proc), name);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- ${name} output ---\n${log.join('\n')}`);
  }
  return { proc, stop, log };
}

module.exports = { runDaemon };
