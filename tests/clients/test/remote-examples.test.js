'use strict';
// The runnable examples under examples/ run as their READMEs say: the test reads
// the commands from the README (Shoal, the remote adapter, the curl requests),
// puts free ports where the README has fixed ones (and a copy of the example's
// adapters dir with port 0 where its adapters.xml has fixed ones), runs them and
// checks what the README says the stream shows.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { REPO_ROOT } = require('../lib/server');
const { scoped } = require('../lib/util');
const { RemoteAdapter, pythonBin, startWithRemotes } = require('../lib/remote');

const EXAMPLES = [
  {
    dir: 'examples/node-remote-adapter',
    adapter: /^node stocklist\.js /,
    // The interpreter: this Node; the SDK: the example's own node_modules.
    command: (args) => {
      const sdk = path.join(REPO_ROOT, 'examples/node-remote-adapter/node_modules/lightstreamer-adapter');
      if (!fs.existsSync(sdk)) throw new Error(`${sdk} is missing: run npm ci in examples/node-remote-adapter (scripts/test.sh does)`);
      return [process.execPath, ...args];
    },
    stream: [/SUBOK,1,2,4/, /^U,1,1,[^|]+\|\d+\.\d\d\|/, /^U,1,2,[^|]+\|\d+\.\d\d\|/],
  },
  {
    dir: 'examples/python-remote-adapter',
    adapter: /^\.venv\/bin\/python hello_chat\.py /,
    // The interpreter: the test venv, which has the same pinned SDK.
    command: (args) => [pythonBin(), ...args],
    stream: [/^U,1,1,(Hello|world!)\|/, /^U,2,1,anonymous\|hello from curl\|/],
  },
];

// Command lines of the README's sh blocks.
function readmeCommands(readme) {
  const out = [];
  let inSh = false;
  for (const raw of readme.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('```')) {
      inSh = line === '```sh';
      continue;
    }
    if (inSh && line) out.push(line);
  }
  return out;
}

// The example's adapters.xml ports: documented port -> { set, adapter, kind };
// writes a copy of the adapters dir with every port 0.
function copyWithFreePorts(src, dst) {
  const ports = new Map();
  const sets = [];
  for (const name of fs.readdirSync(src)) {
    let xml = fs.readFileSync(path.join(src, name, 'adapters.xml'), 'utf8');
    const set = /<adapters_conf id="([^"]+)"/.exec(xml)[1];
    sets.push({ id: set, notify: /name="notify_port"/.test(xml) });
    for (const [adapter, re] of [['metadata', /<metadata_provider>[\s\S]*?<\/metadata_provider>/], ['data', /<data_provider[\s\S]*?<\/data_provider>/]]) {
      for (const m of re.exec(xml)[0].matchAll(/<param name="(request_reply_port|notify_port)">(\d+)<\/param>/g)) {
        ports.set(m[2], { set, adapter, kind: m[1] });
      }
    }
    xml = xml.replace(/(<param name="(?:request_reply_port|notify_port)">)\d+(<\/param>)/g, '$10$2');
    fs.mkdirSync(path.join(dst, name));
    fs.writeFileSync(path.join(dst, name, 'adapters.xml'), xml);
  }
  return { ports, sets };
}

function sh(line) {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', line], { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${line}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

for (const ex of EXAMPLES) {
  describe(`${ex.dir} as its README says`, () => {
    it('Shoal with its adapters dir, the remote adapter, curl over TLCP: the stream shows the data', { timeout: 60000 }, (t) => scoped(t, async (s) => {
      const exampleDir = path.join(REPO_ROOT, ex.dir);
      const commands = readmeCommands(fs.readFileSync(path.join(exampleDir, 'README.md'), 'utf8'));
      const find = (re, what) => {
        const hit = commands.find((l) => re.test(l));
        if (!hit) throw new Error(`${ex.dir}/README.md has no ${what} command (${re}); its commands: ${JSON.stringify(commands)}`);
        return hit;
      };

      // Shoal: the README's arguments, with a free client port and the adapters dir copy.
      const serve = find(/^target\/release\/shoal serve /, 'shoal serve').split(/\s+/).slice(2);
      const adaptersArg = serve.indexOf('--adapters-dir');
      assert.ok(adaptersArg >= 0 && serve.includes('--listen'), `shoal serve arguments: ${serve}`);
      const documentedDir = path.join(REPO_ROOT, serve[adaptersArg + 1]);
      const dir = s.tempDir('shoal-example-');
      const { ports: documented, sets } = copyWithFreePorts(documentedDir, dir);
      // startWithRemotes gives --listen 127.0.0.1:0 and --adapters-dir itself.
      const extraArgs = serve.filter((a, i) => !['--listen', '--adapters-dir'].includes(a) &&
        !['--listen', '--adapters-dir'].includes(serve[i - 1]));
      const { server, ports, listening } = await startWithRemotes(s, { dir, sets, extraArgs, startAdapters: false });

      // The remote adapter: the README's command line with the ports Shoal took.
      const args = find(ex.adapter, 'adapter').split(/\s+/).slice(1).map((a) => {
        const d = documented.get(a);
        if (!d) return a;
        const p = ports.of(d.set);
        return String(d.adapter === 'metadata' ? p.metadata : d.kind === 'notify_port' ? p.notify : p.data);
      });
      assert.ok(args.every((a) => !documented.has(a)), `every documented port replaced: ${args}`);
      const remote = s.track(new RemoteAdapter({
        command: ex.command(args), cwd: exampleDir, name: ex.dir, ready: [/metadata adapter ready/, /data adapter ready/],
      }));
      await remote.start();
      await listening;
      await remote.waitReady();

      // curl: the stream in the background, then each request of the README.
      const base = 'http://127.0.0.1:8080';
      const documentedCurls = commands.filter((l) => l.startsWith('curl '));
      assert.ok(documentedCurls.length >= 2 && documentedCurls.every((l) => l.includes(base)), `curl lines name the server as ${base}`);
      const curls = documentedCurls.map((l) => l.split(base).join(server.url));
      const stream = s.track(new RemoteAdapter({ command: ['bash', '-c', `exec ${curls[0]}`], name: 'curl stream', ready: [] }));
      await stream.start();
      const conok = await stream.waitLog(/CONOK,/, { what: 'CONOK on the stream' });
      const session = /CONOK,([^,]+),/.exec(conok)[1];
      for (const line of curls.slice(1)) {
        const out = await sh(line.split('<SESSION>').join(session));
        assert.match(out, /^REQOK,/, `${line}: ${out}`);
        // Wait for the adapter to have the item before the next request, which may be a message for it.
        const group = /LS_group=([^&']+)/.exec(line);
        if (group) {
          for (const item of decodeURIComponent(group[1]).split(' ')) await remote.waitLog(new RegExp(`subscribed: ${item}$`));
        }
      }
      for (const re of ex.stream) {
        await stream.waitLog(new RegExp(`^\\[out#1\\] ${re.source.replace(/^\^/, '')}`), { what: `the stream shows ${re}` });
      }
    }));
  });
}
