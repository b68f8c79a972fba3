'use strict';
// Runs Debian's Prometheus against Shoal nodes, for the tests of /metrics:
//
//   const prom = await startPrometheus({ targets: ['127.0.0.1:8080'] });
//   await prom.waitTargetsUp();
//   const v = await prom.query('shoal_sessions');   // [{ metric, value }]
//   await prom.close();
//
// It scrapes every second, keeps its data in a temporary folder, listens on a
// port the kernel picks (read from its log), and is killed when the test
// process exits, whatever the way.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { killedOnExit } = require('./util');
const { onLines } = require('./server');

const BIN = '/usr/bin/prometheus';
const START_MS = 20000;
const live = killedOnExit();

class Prometheus {
  constructor(proc, dir, log) {
    this.proc = proc;
    this.dir = dir;
    this.log = log;
    this.url = null;
  }

  // GET of the HTTP API; resolves with its `data`.
  async api(pathAndQuery) {
    const res = await fetch(`${this.url}${pathAndQuery}`);
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${JSON.stringify(body)}`);
    return body.data;
  }

  // Polls until every target's last scrape succeeded (Prometheus has no
  // push notification of scrapes); the error of the last scrape otherwise.
  async waitTargetsUp({ timeoutMs = 20000 } = {}) {
    const until = Date.now() + timeoutMs;
    let last = [];
    while (Date.now() < until) {
      last = (await this.api('/api/v1/targets')).activeTargets;
      if (last.length && last.every((t) => t.health === 'up')) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`targets not up after ${timeoutMs} ms: ${JSON.stringify(last.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`);
  }

  // An instant query: [{ metric: {labels}, value: Number }].
  async query(expr) {
    const data = await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  // Polls `expr` until `check(result)` holds; resolves with that result.
  async waitQuery(expr, check, { timeoutMs = 20000, what = expr } = {}) {
    const until = Date.now() + timeoutMs;
    let last = null;
    while (Date.now() < until) {
      last = await this.query(expr);
      if (check(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what}: not seen in ${timeoutMs} ms; last ${JSON.stringify(last)}`);
  }

  describe() {
    return `---- prometheus (pid ${this.proc.pid}), last lines ----\n${this.log.slice(-40).join('\n')}`;
  }

  async close() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGKILL');
      await gone;
    }
    live.delete(this.proc);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// `targets`: host:port of each node; `auth`: { username, password } for
// nodes that want credentials.
async function startPrometheus({ targets, auth = null }) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`${BIN} is missing: install Debian's prometheus package (scripts/test.sh does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-prometheus-'));
  const lines = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: shoal',
    '    metrics_path: /metrics',
  ];
  if (auth) {
    fs.writeFileSync(path.join(dir, 'password'), auth.password);
    lines.push('    basic_auth:', `      username: ${auth.username}`, `      password_file: ${path.join(dir, 'password')}`);
  }
  lines.push('    static_configs:', `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`);
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, `${lines.join('\n')}\n`);
  const check = spawnSync('/usr/bin/promtool', ['check', 'config', config], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`promtool check config: ${check.stdout}${check.stderr}`);

  const proc = spawn(BIN, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    '--web.listen-address=127.0.0.1:0',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  const log = [];
  const prom = new Prometheus(proc, dir, log);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prometheus did not listen in ${START_MS} ms:\n${log.join('\n')}`)), START_MS);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`prometheus exited (${code ?? signal}):\n${log.join('\n')}`));
    });
    onLines(proc.stderr, (line) => {
      log.push(line);
      if (log.length > 400) log.shift();
      const m = /msg="Listening on" address=(\S+)/.exec(line);
      if (m && !prom.url) {
        prom.url = `http://${m[1]}`;
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return prom;
}

module.exports = { startPrometheus };
