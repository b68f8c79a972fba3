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

// A case's client settings ({ retryDelay, sessionRecoveryTimeout }, ms) in
// words, for its name and the report: "retry delay 1 s, session recovery
// timeout 3 s"; '' for none (the library's defaults).
function settingsText(settings) {
  const s = settings || {};
  const secs = (ms) => `${ms / 1000} s`;
  return [
    s.retryDelay != null ? `retry delay ${secs(s.retryDelay)}` : null,
    s.sessionRecoveryTimeout != null ? `session recovery timeout ${secs(s.sessionRecoveryTimeout)}` : null,
  ].filter(Boolean).join(', ');
}

module.exports = { RESULTS, writeResult, settingsText };
