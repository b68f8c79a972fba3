#!/usr/bin/env bash
# What session handoff costs: the same broker-feed fan-out served with
# `session_handoff` on (Y) and off (N), interleaved (Y N Y N ...), each run
# with a fresh redis-server, server and producer. Prints the server's CPU
# per delivered update for each run, and the ratio Y/N per round with its
# median and spread.
#
#   scripts/bench/handoff-ab.sh                  # 1000 sessions, 100 entries/s, 3 rounds
#   SESSIONS=200 RATE=1000 ROUNDS=5 scripts/bench/handoff-ab.sh
#
# Needs redis-server and a release build (`cargo build --release`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHOAL=$ROOT/target/release/shoal
LOAD=$ROOT/target/release/shoal-load
SESSIONS=${SESSIONS:-1000}
RATE=${RATE:-100}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-10}
for b in "$SHOAL" "$LOAD"; do
    [ -x "$b" ] || { echo "handoff-ab.sh: $b is missing: cargo build --release" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "handoff-ab.sh: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until file $1 has a line matching $2 (10 s at most).
wait_line() {
    for _ in $(seq 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "handoff-ab.sh: no '$2' in $1" >&2
    return 1
}

# One run: handoff Y or N; prints server µs per update.
run() { # handoff, tag
    local w=$WORK/$2 port
    mkdir -p "$w/adapters/FEED"
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$w" \
        --logfile "$w/redis.log" >/dev/null 2>&1 &
    local redis=$!
    PIDS+=("$redis")
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    cat >"$w/adapters/FEED/adapters.xml" <<EOF
<?xml version="1.0"?>
<adapters_conf id="FEED">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>shoal.redis</adapter_class>
    <param name="url">redis://127.0.0.1:$port/0</param>
    <param name="stream_prefix">shoal:</param>
    <param name="session_handoff">$1</param>
  </data_provider>
</adapters_conf>
EOF
    "$SHOAL" serve --listen 127.0.0.1:0 --log-level warn --adapters-dir "$w/adapters" \
        >"$w/server.out" 2>"$w/server.log" &
    local server=$!
    PIDS+=("$server")
    wait_line "$w/server.out" "listening on"
    local url
    url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$w/server.out" | head -n 1)
    "$LOAD" produce --redis-url "redis://127.0.0.1:$port" --format xadd --target shoal:feed \
        --rate "$RATE" --duration $((WARMUP + DURATION + 60)) --json >"$w/producer.json" 2>"$w/producer.log" &
    local producer=$!
    PIDS+=("$producer")
    "$LOAD" --url "$url" --protocol tlcp --adapter-set FEED --data-adapter DEFAULT --mode RAW \
        --sessions "$SESSIONS" --item-names feed --feed-rate "$RATE" --warmup "$WARMUP" \
        --duration "$DURATION" --connect-timeout 30 --server-pid "$server" --json \
        >"$w/load.json" 2>"$w/load.log"
    kill "$producer" "$server" "$redis" 2>/dev/null || true
    wait "$producer" "$server" "$redis" 2>/dev/null || true
    sed -n 's/.*"server_cpu_us_per_update":\([0-9.]*\).*/\1/p' "$w/load.json"
}

echo "handoff A/B: $SESSIONS sessions, one Redis item at $RATE entries/s, RAW, ${DURATION}s measured, $ROUNDS rounds"
ratios=()
for r in $(seq "$ROUNDS"); do
    on=$(run Y "on.$r")
    off=$(run N "off.$r")
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
    ratios+=("$ratio")
    echo "round $r: handoff on $on µs/update, off $off µs/update, on/off $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "on/off: median %.3f, min %.3f, max %.3f over %d rounds\n", m, v[1], v[NR], NR
}'
