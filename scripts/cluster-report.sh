#!/usr/bin/env bash
# Measures fail over (kill -9) in every clustering option, drain and rolling
# restart, with more clients than the test suite uses, and session handoff
# (kits with a shared feed: its own client count), and writes the figures
# into docs/clustering.md. Needs what scripts/test.sh installs (haproxy, the
# Node packages) and a release build; takes a few minutes.
#
#   scripts/cluster-report.sh              # 12 clients per option
#   SHOAL_CLUSTER_CLIENTS=20 scripts/cluster-report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SHOAL_CLUSTER_CLIENTS=${SHOAL_CLUSTER_CLIENTS:-12}
export SHOAL_CLUSTER_RESULTS=${SHOAL_CLUSTER_RESULTS:-$PWD/target/cluster-results}
command -v haproxy >/dev/null || { echo "cluster-report.sh: haproxy is missing (scripts/test.sh installs it)" >&2; exit 1; }
[ -d tests/clients/node_modules ] || (cd tests/clients && npm ci --no-audit --no-fund)
cargo build --release --quiet -p shoal
rm -rf "$SHOAL_CLUSTER_RESULTS"
# One file at a time: the figures are times, and the machine has 2 cores.
# SHOAL_FAILOVER_ALL=1: every case of the transports group (forced transports,
# client settings), of which the test suite runs a subset.
(cd tests/clients && SHOAL_FAILOVER_ALL=1 node --test --test-concurrency=1 \
    test/cluster-http.test.js test/cluster-https-1.test.js test/cluster-https-2.test.js \
    test/cluster-nginx.test.js test/cluster-transports.test.js test/cluster-drain.test.js)
# Session handoff: each scenario writes its figures even when a check fails
# (the table marks it), and the script fails at the end.
handoff=0
# The keepalived (--vrrp) scenarios add their rows to the same table.
(cd tests/clients && SHOAL_HANDOFF_ALL=1 node --test --test-concurrency=1 test/cluster-handoff.test.js test/cluster-vrrp.test.js) || handoff=$?
node tests/clients/tools/cluster-report.js
if [ "$handoff" != 0 ]; then
    echo "cluster-report.sh: test/cluster-handoff.test.js or test/cluster-vrrp.test.js failed (see above); the handoff table marks the failed checks" >&2
    exit "$handoff"
fi
