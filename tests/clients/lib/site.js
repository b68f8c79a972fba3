'use strict';
// The company's own web site, not served by the push cluster: a static
// server for tests/clients/fixtures/site/ on an address of the test's
// choosing, over HTTP or HTTPS, so that a browser test can open a page of
// another origin (www.example.test) or another site (www.partner.test)
// that uses the cluster.
//
//   const site = await startSite({ address: '127.0.93.20', port: 8081, tls: { cert, key } });
//   page.goto(`${site.origin('www.example.test')}/?server=...`);
//   await site.close();

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', 'fixtures', 'site');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

function serve(req, res) {
  const name = new URL(req.url, 'http://site').pathname.replace(/^\/$/, '/index.html');
  const file = path.join(ROOT, path.normalize(name));
  if (!file.startsWith(ROOT + path.sep) || !fs.existsSync(file)) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`no ${name} on this site\n`);
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
  fs.createReadStream(file).pipe(res);
}

// Resolves once the site listens; `tls`: { cert, key } PEM files for HTTPS.
function startSite({ address, port, tls = null }) {
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, serve)
    : http.createServer(serve);
  const scheme = tls ? 'https' : 'http';
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`the test web site cannot listen on ${address}:${port}: ${err.message}`)));
    server.listen(port, address, () =>
      resolve({
        scheme,
        // The site's origin under a host name the browser maps to `address`.
        origin: (host) => `${scheme}://${host}:${port}`,
        close: () => new Promise((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      }),
    );
  });
}

module.exports = { startSite };
