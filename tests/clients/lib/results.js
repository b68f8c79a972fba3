'use strict';
// Where the cluster tests leave their measured figures (fail over, drain,
// rolling restart) for tools/cluster-report.js: $SHOAL_CLUSTER_RESULTS, by
// default target/cluster-results/ at the root of the repository.

const fs = require('node:fs');
const path = require('node:path');
const { REPO_ROOT } = require('./server');

const RESULTS = process.env.SHOAL_CLUSTER_RESULTS || path.join(REPO_ROOT, 'target', 'cluster-results');

// Writes `result` as RESULTS/<name>.json.
function writeResult(name, result) {
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

module.exports = { RESULTS, writeResult };
