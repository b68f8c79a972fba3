'use strict';
// Chromium for the browser tests: Debian's `chromium` package, started here
// (so that the test owns the process, its profile and its host names) and
// driven by playwright-core over the DevTools protocol.
//
//   const browser = await launchBrowser({ hosts: { 'node1.shoal.test': '127.0.0.2' } });
//   const page = await browser.newPage();       // own cookies, 1100x700
//   await page.goto(`${server.url}/stocks/`);
//   await screenshot(page, 'stocks');           // target/browser-artifacts/stocks.png
//   await browser.close();                      // Chromium gone, profile removed
//
// Every Chromium started here is also killed when the test process exits,
// whatever the way it exits. A missing Chromium fails the test, saying how to
// install it: browser tests are never skipped.

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { onLines, REPO_ROOT } = require('./server');
const { killedOnExit } = require('./util');

const CHROMIUM = '/usr/bin/chromium';
// No sandbox (tests may run as root), no GPU, nothing that calls home.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const VIEWPORT = { width: 1100, height: 700 };
const START_TIMEOUT_MS = 30000;
const STOP_GRACE_MS = 3000;
const LOG_LIMIT = 400; // lines kept for the failure report
const ARTIFACTS = path.join(REPO_ROOT, 'target', 'browser-artifacts');

const live = killedOnExit();

function checkChromium() {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch (err) {
    throw new Error(
      `Chromium is needed by the browser tests but ${CHROMIUM} is missing (${err.code}). ` +
        "Install Debian's package: apt-get install -y chromium (scripts/test.sh does it).",
    );
  }
}

class Browser {
  constructor(proc, profile, log) {
    this.proc = proc;
    this.profile = profile;
    this.log = log;
    this.cdp = null; // playwright's Browser, once connected
    this.pages = 0;
    this.errors = []; // uncaught page errors and console errors, for assertNoPageErrors
    // The whole process group: Chromium's renderers and helpers too.
    this.group = { kill: (signal) => process.kill(-proc.pid, signal) };
    live.add(this.group);
  }

  note(line) {
    this.log.push(line);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }

  // A page in a context of its own (own cookies, as another user would have).
  // Its console messages and errors go to the failure report. `options` are
  // more of playwright's context options, e.g. { httpCredentials }.
  async newPage(options = {}) {
    const context = await this.cdp.newContext({ viewport: VIEWPORT, ...options });
    const page = await context.newPage();
    this.pages += 1;
    const tag = `page${this.pages}`;
    page.on('console', (m) => {
      const line = `[${tag} console.${m.type()}] ${m.text()}`;
      this.note(line);
      if (m.type() === 'error') this.errors.push(line);
    });
    page.on('pageerror', (e) => {
      const line = `[${tag} error] ${e.message}`;
      this.note(line);
      this.errors.push(line);
    });
    page.on('requestfailed', (r) => this.note(`[${tag} failed] ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    return page;
  }

  // Fails if a page threw or logged an error (a script error, a resource
  // that could not be loaded) since the browser started.
  assertNoPageErrors() {
    if (this.errors.length) throw new Error(`errors in the pages:\n${this.errors.join('\n')}`);
  }

  describe() {
    return `---- chromium (pid ${this.proc.pid}) and its pages, last lines ----\n${this.log.slice(-120).join('\n')}`;
  }

  async close() {
    if (this.cdp) await this.cdp.close().catch(() => {});
    await stopGroup(this.proc, this.group);
    live.delete(this.group);
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}

function exited(proc) {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function waitExit(proc, timeoutMs) {
  if (exited(proc)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// SIGTERM to the group, SIGKILL if Chromium is still there after a grace.
async function stopGroup(proc, group) {
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    if (exited(proc)) break;
    try {
      group.kill(signal);
    } catch (_) {
      break; // already gone
    }
    await waitExit(proc, STOP_GRACE_MS);
  }
  // Helpers may outlive the main process for a moment: the group goes too.
  try {
    group.kill('SIGKILL');
  } catch (_) {
    // nothing left
  }
}

// Chromium prints its DevTools address on standard error once it is ready.
function devtoolsEndpoint(proc, browser) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Chromium did not start within ${START_TIMEOUT_MS} ms.\n${browser.describe()}`)),
      START_TIMEOUT_MS,
    );
    onLines(proc.stderr, (line) => {
      // Without a system bus (containers) every D-Bus call fails loudly and
      // harmlessly: those lines would only hide the useful ones.
      if (!line.includes('dbus/')) browser.note(`[chromium] ${line}`);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited at start (code ${code}, signal ${signal}).\n${browser.describe()}`));
    });
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${CHROMIUM}: ${err.message}`));
    });
  });
}

// Chromium on Linux trusts the authorities of the NSS database in
// $HOME/.pki/nssdb, as a user who imported a company CA would: a fresh
// database in `home` with each PEM of `trust` as an authority for TLS
// servers. Needs certutil (Debian's libnss3-tools).
function trustAuthorities(home, trust) {
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  const certutil = (args) => {
    try {
      execFileSync('certutil', ['-d', `sql:${db}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const why = err.code === 'ENOENT' ? 'certutil is missing: apt-get install -y libnss3-tools (scripts/test.sh does it)' : String(err.stderr || err.message);
      throw new Error(`cannot make Chromium trust ${trust.join(', ')}: ${why}`);
    }
  };
  certutil(['-N', '--empty-password']);
  trust.forEach((pem, i) => certutil(['-A', '-t', 'C,,', '-n', `authority${i + 1}`, '-i', pem]));
}

// Starts Chromium with a fresh profile. `hosts` maps host names to addresses
// (127.0.0.x) inside this browser only, as a cluster kit's names need;
// `trust` lists PEM files of authorities the browser trusts for TLS;
// `flags`, more command-line switches.
async function launchBrowser({ hosts = {}, trust = [], flags = [] } = {}) {
  checkChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-chromium-'));
  const args = [...FLAGS, ...flags, `--user-data-dir=${profile}`, '--remote-debugging-port=0'];
  const rules = Object.entries(hosts).map(([name, ip]) => `MAP ${name} ${ip}`);
  if (rules.length) args.push(`--host-resolver-rules=${rules.join(', ')}`);
  args.push('about:blank');
  // The profile folder doubles as HOME, for the NSS database.
  if (trust.length) trustAuthorities(profile, trust);
  const env = trust.length ? { ...process.env, HOME: profile } : process.env;
  const proc = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env });
  const browser = new Browser(proc, profile, []);
  try {
    const endpoint = await devtoolsEndpoint(proc, browser);
    browser.cdp = await chromium.connectOverCDP(endpoint);
  } catch (err) {
    await browser.close();
    throw err;
  }
  return browser;
}

// Saves what `page` shows as target/browser-artifacts/<name>.png; returns the path.
async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

module.exports = { launchBrowser, screenshot, ARTIFACTS, VIEWPORT };
