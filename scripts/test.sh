#!/usr/bin/env bash
# Runs every test of Shoal: formatting and lints, the Rust unit and property
# tests, bounded fuzzing runs (request parser, engine parameters, ARI decoder,
# WebSocket frame decoder), and the end-to-end
# tests through the official Lightstreamer Node client.
#
# It installs what the tests need first (idempotently): Debian's haproxy, nginx,
# redis-server, nats-server, chromium (the browser tests), prometheus
# (the scrape test), keepalived and curl (the --vrrp kits' checks),
# the npm packages of
# the official clients and of the remote adapter SDKs (pinned by
# tests/clients/package-lock.json, examples/node-remote-adapter/package-lock.json,
# tests/python/requirements.txt and examples/python-remote-adapter/requirements.txt) and
# cargo-fuzz. The Rust workspace is built once, in release mode, and every
# test uses that build.
#
# Environment: FUZZ_SECONDS (default 30) bounds the fuzzing, split between
# the five targets.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CARGO_FUZZ_VERSION=0.13.2

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

step "checking tools"
command -v cargo >/dev/null || die "cargo is missing: install the Rust toolchain (rustup) first"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq nodejs npm
    else
        die "node and npm are missing: install Node.js 20 or newer"
    fi
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $node_major is too old: the client tests need Node.js 20 or newer"

step "installing HAProxy, nginx, Redis, NATS, Chromium (and NSS tools), Prometheus, keepalived, curl and iproute2 (Debian packages) if needed"
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
# The shared-feed tests start their own brokers.
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ] || missing+=(nats-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The browser tests drive Debian's Chromium (at this path) with playwright-core.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# They make Chromium trust a kit's test authority in an NSS database.
[ -x /usr/bin/certutil ] || missing+=(libnss3-tools)
# A real Prometheus scrapes /metrics (it is started by the test, never as a service).
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || missing+=(prometheus)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
# The console's browser test runs Shoal in a network namespace (ip netns).
[ -x /usr/sbin/ip ] || missing+=(iproute2)
# `keepalived -t` checks the --vrrp kits' files, whose health check runs curl.
[ -x /usr/sbin/keepalived ] || missing+=(keepalived)
[ -x /usr/bin/curl ] || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        # Only the programs are used: the tests start their own balancers
        # and brokers.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        die "missing ${missing[*]}: install Debian's packages (the balancer, shared-feed and browser tests need them)"
    fi
fi

step "installing the official client and remote adapter SDK packages (npm ci)"
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)
(cd examples/node-remote-adapter && npm ci --no-audit --no-fund --loglevel=error)

step "installing the official Python client and remote adapter SDK (a venv under target/)"
PY_VENV="$ROOT/target/python-venv"
command -v python3 >/dev/null || die "python3 is missing: install Python 3.9 or newer"
[ -x "$PY_VENV/bin/python" ] || python3 -m venv "$PY_VENV" || die "cannot create a Python venv (Debian: apt-get install python3-venv)"
"$PY_VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt \
    -r examples/python-remote-adapter/requirements.txt
# The Python remote adapters of the end-to-end tests (tests/adapters/python,
# examples/python-remote-adapter) run with this venv.
export SHOAL_PYTHON="$PY_VENV/bin/python"

step "installing cargo-fuzz $CARGO_FUZZ_VERSION if needed"
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

step "formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings

step "building (release, once)"
cargo build --release --workspace --all-targets
export SHOAL_BIN="$ROOT/target/release/shoal"

# The fuzz targets, one after the other, share the budget: the request
# parser, the engine driven by fuzzed parameter values, the ARI (remote
# adapter protocol) line reader and parser, WebSocket frames, publish
# bodies, and session journals read back for a handoff.
fuzz_share=$(( (FUZZ_SECONDS + 5) / 6 ))
step "Rust tests, and fuzzing (request parser, engine parameters, ARI decoder, WebSocket frames, publish bodies, session journals, ${fuzz_share}s each), in parallel"
fuzz_log=$(mktemp)
fuzz_corpus=$(mktemp -d)
(
    # cargo fuzz needs unstable compiler flags (sanitizers); RUSTC_BOOTSTRAP
    # allows them on the stable toolchain this machine has.
    cd fuzz
    for target in parse_request engine_params ari_decode ws_decode publish_body handoff_journal; do
        mkdir -p "$fuzz_corpus/$target"
        max_len=4096
        [ "$target" = engine_params ] && max_len=512
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$fuzz_corpus/$target" "seeds/$target" \
            -- -max_total_time="$fuzz_share" -max_len="$max_len" || exit 1
    done
) >"$fuzz_log" 2>&1 &
fuzz_pid=$!
cargo test --release --workspace
if ! wait "$fuzz_pid"; then
    tail -n 60 "$fuzz_log"
    die "fuzzing found a crash (see above; the input is under fuzz/artifacts/)"
fi
grep -E "^Done|runs in" "$fuzz_log" | tail -n 3
rm -rf "$fuzz_log" "$fuzz_corpus"

step "end-to-end tests through the official Lightstreamer Node client"
(cd tests/clients && npm test)

step "end-to-end tests through the official Lightstreamer Python client"
"$PY_VENV/bin/python" -m unittest discover -s tests/python -v

step "all tests passed"
