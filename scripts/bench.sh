#!/usr/bin/env bash
# Benchmarks Shoal with shoal-load (crates/loadgen) over WebSocket on
# 127.0.0.1: for each scenario a fresh `shoal serve` on a free port, the load
# generator against it (sampling the server's memory and CPU), then the server
# is stopped. Prints one markdown table of every scenario.
#
# "demo" scenarios use the embedded DEMO set's COUNTER; "remote" scenarios
# serve the same items from a remote data adapter on the official Node.js
# SDK (scripts/bench/remote-counter.js) connected over ARI to a proxy of an
# adapters.xml written here. They need node (>= 18) and npm, and install
# tests/clients/node_modules (npm ci) when it lacks the SDK.
#
# "redis" scenarios are the broker feed (scripts/bench/feed-run.sh): a
# producer (`shoal-load produce`) writes `seq` and `ts` to a redis-server
# started here (127.0.0.1, a free port, no persistence; the Debian package
# redis-server is installed when missing) at the scenario's rate; Shoal
# reads the stream with shoal.redis (adapter set FEED) and delivers it to
# the sessions in RAW, and in the same run, interleaved, Socket.IO 4.8 with
# its Redis adapter gets the same traffic as Redis emitter packets. They
# print a table of their own (server CPU per delivered update, Redis's and
# the producer's CPU apart, latency publish-to-client, the ratio
# Shoal/Socket.IO over BENCH_REPEAT rounds, default 2), which --write puts
# between the feed markers of docs/benchmarks.md (and the runs in
# docs/bench/feed.jsonl).
#
#   scripts/bench.sh                 # build (release), run, print the table
#   scripts/bench.sh --write         # ... and put it in docs/benchmarks.md
#   scripts/bench.sh --only fanout-1000 --only heavy
#   scripts/bench.sh --only redis-feed-throughput --only redis-feed-latency [--write]
#   scripts/bench.sh --peers [--write]   # Shoal beside Socket.IO, Mosquitto,
#       nchan and Pushpin (scripts/bench/peers-run.sh) on the workloads
#       fanout-N (N of BENCH_FANOUT, default "1000 2000 5000 10000"), batch,
#       heavy, idle, storm, with the kernel floor (shoal-load floor) for each
#       fan-out N; interleaved, BENCH_REPEAT (default 2) rounds. --only NAME
#       (repeatable) picks workloads, --peer NAME (repeatable) peers. With
#       --write: docs/bench/peers.jsonl, docs/bench/*.svg (shoal-benchplot)
#       and the peers table of docs/benchmarks.md. BENCH_IDLE_CLIENTS
#       (default 5000) and BENCH_STORM_CONCURRENCY (default 32) size the
#       idle and storm workloads.
#
# Environment: BENCH_WARMUP (s, default 3) and BENCH_DURATION (s, default 10)
# per scenario; CARGO_TARGET_DIR is honoured. With the defaults the scenarios
# take about two minutes, and the two broker-feed ones (2 rounds of Shoal
# and Socket.IO) one and a half more (the build is not counted). Logs of every process
# stay in a temporary directory that is printed when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WARMUP=${BENCH_WARMUP:-3}
DURATION=${BENCH_DURATION:-10}
DOC=docs/benchmarks.md
BEGIN_MARK='<!-- bench:begin -->'
END_MARK='<!-- bench:end -->'

# name|adapter (demo: in process, remote: Node SDK over ARI, redis: a
# Redis stream written by a producer, beside Socket.IO's Redis
# adapter)|sessions|items|first rate (redis: the producer's)|mode|what
SCENARIOS=(
    "fanout-100|demo|100|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-1000|demo|1000|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-3000|demo|3000|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-1000-merge|demo|1000|1|10|MERGE|fan-out: rate-10, MERGE"
    "throughput|demo|10|10|1000|RAW|throughput: rate-1000..rate-1009, RAW"
    "remote-throughput|remote|10|10|1000|RAW|remote throughput: rate-1000..rate-1009, RAW"
    "heavy|demo|1|1|50000|RAW|heavy item: rate-50000, RAW"
    "heavy-100k|demo|1|1|100000|RAW|heavy item: rate-100000, RAW"
    "remote-heavy|remote|1|1|100000|RAW|remote heavy item: rate-100000, RAW"
    "redis-feed-throughput|redis|3|1|200000|RAW|broker feed: Redis stream at 200 000 entries/s, RAW"
    "redis-feed-latency|redis|3|1|10000|RAW|broker feed: Redis stream at 10 000 entries/s, RAW"
)
# The adapter set and data adapter of the remote scenarios.
REMOTE_SET=REMOTE_COUNTER
REMOTE_DATA=DEFAULT

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'bench.sh: %s\n' "$*" >&2; }

write=false
peers=false
peer_only=()
REPEAT=${BENCH_REPEAT:-2}
only=()
while [ $# -gt 0 ]; do
    case $1 in
        --write) write=true ;;
        --peers) peers=true ;;
        --peer) [ $# -ge 2 ] || die "--peer needs a peer name"; peers=true; peer_only+=("$2"); shift ;;
        --only) [ $# -ge 2 ] || die "--only needs a scenario name"; only+=("$2"); shift ;;
        -h|--help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
case $WARMUP$DURATION in *[!0-9]*) die "BENCH_WARMUP and BENCH_DURATION are whole seconds" ;; esac
[ "$DURATION" -ge 1 ] || die "BENCH_DURATION must be at least 1"
case $REPEAT in ''|*[!0-9]*|0) die "BENCH_REPEAT is a whole number of rounds, at least 1" ;; esac
if $write && ! $peers; then
    grep -qF "$BEGIN_MARK" "$DOC" && grep -qF "$END_MARK" "$DOC" ||
        die "$DOC lacks the markers $BEGIN_MARK and $END_MARK"
fi

selected=()
$peers || for s in "${SCENARIOS[@]}"; do
    name=${s%%|*}
    if [ ${#only[@]} -eq 0 ] || printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
        selected+=("$s")
    fi
done
$peers || [ ${#selected[@]} -gt 0 ] || die "no scenario named ${only[*]}; they are: $(printf '%s ' "${SCENARIOS[@]%%|*}")"
if $write && printf '%s\n' "${selected[@]+"${selected[@]}"}" | grep -q '^[^|]*|redis|'; then
    grep -qF '<!-- feed:begin -->' "$DOC" && grep -qF '<!-- feed:end -->' "$DOC" ||
        die "$DOC lacks the markers <!-- feed:begin --> and <!-- feed:end -->"
fi

# Every process we start is stopped on the way out, whatever happens.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench.XXXXXX")
SERVER_PID=""
LOAD_PID=""
REMOTE_PID=""
PEER_MAIN=""
PEER_PIDS=""
PEER_OTHERS=""
keep_logs=false
# Sends SIGTERM to a process, gives it up to $2 seconds, then SIGKILL.
# Fails only if it had to be killed.
stop_pid() { # pid, seconds
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    return 1
}
cleanup() {
    for pid in $LOAD_PID ${FEED_PRODUCER_PID:-} $SERVER_PID $REMOTE_PID $PEER_MAIN $PEER_PIDS $PEER_OTHERS ${FEED_PIDS:-}; do
        stop_pid "$pid" 2 || true
    done
    if $keep_logs; then
        say "logs are in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Thousands of sockets: each side needs a descriptor per session.
most=0
remote=false
for s in "${selected[@]+"${selected[@]}"}"; do
    IFS='|' read -r _ adapter sessions _ <<<"$s"
    [ "$sessions" -gt "$most" ] && most=$sessions
    [ "$adapter" = remote ] && remote=true
done
# Raises the open-file limit of this shell (and so of everything it starts)
# to at least $1: the soft limit up to the hard one, and the hard one too
# when we may (root).
raise_nofile() { # descriptors needed
    local need=$1 soft hard
    soft=$(ulimit -Sn)
    [ "$soft" = unlimited ] || [ "$soft" -ge "$need" ] && return 0
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        ulimit -Hn "$need" 2>/dev/null ||
            die "open files are limited to $hard (ulimit -Hn) and may not be raised; $need are needed"
    fi
    ulimit -Sn "$need"
    say "raised the open-file limit from $soft to $need"
}
raise_nofile $((most + 512))

# The remote adapter: Node.js and the official adapter SDK.
if $remote; then
    command -v node >/dev/null ||
        die "node is missing: the remote scenarios run their remote adapter on Node.js (18 or later); install it, or pick other scenarios with --only"
    node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || node_major=0
    [ "$node_major" -ge 18 ] 2>/dev/null ||
        die "node $(node --version 2>/dev/null) is too old: the remote scenarios need Node.js 18 or later"
    if [ ! -f tests/clients/node_modules/lightstreamer-adapter/package.json ]; then
        command -v npm >/dev/null ||
            die "npm is missing: it installs the Node adapter SDK in tests/clients (npm ci)"
        say "installing the Node adapter SDK (npm ci in tests/clients)"
        (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
            die "npm ci failed in tests/clients"
    fi
    [ -f tests/clients/node_modules/lightstreamer-adapter/package.json ] ||
        die "npm ci did not install lightstreamer-adapter in tests/clients/node_modules"
    # One adapter set: the literal metadata adapter in process, the data
    # adapter remote, on two ports Shoal picks (the Node SDK 1.5 dials a
    # request/reply and a notify connection).
    mkdir -p "$WORK/adapters/$REMOTE_SET"
    cat >"$WORK/adapters/$REMOTE_SET/adapters.xml" <<EOF
<?xml version="1.0"?>
<adapters_conf id="$REMOTE_SET">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider name="$REMOTE_DATA">
    <adapter_class>PROXY_FOR_REMOTE_ADAPTER</adapter_class>
    <param name="request_reply_port">0</param>
    <param name="notify_port">0</param>
    <param name="interface">127.0.0.1</param>
  </data_provider>
</adapters_conf>
EOF
fi

say "building (release)"
if $peers; then
    cargo build --release --quiet -p shoal -p shoal-loadgen -p shoal-benchplot
else
    cargo build --release --quiet -p shoal -p shoal-loadgen
fi
SHOAL=$TARGET/release/shoal
LOAD=$TARGET/release/shoal-load
PLOT=$TARGET/release/shoal-benchplot
[ -x "$SHOAL" ] && [ -x "$LOAD" ] || die "no binaries under $TARGET/release"

# One field of the flat JSON object shoal-load prints.
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }
fmt() { # printf format, value (or null)
    if [ -z "$2" ] || [ "$2" = null ]; then printf -- '-'; else printf -- "$1" "$2"; fi
}

# Whether a child of ours is running (a child that exited stays a zombie,
# which `kill -0` still finds, until it is waited for).
running() { # pid
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $state in Z*) return 1 ;; esac
}

# The port of a proxy's "waiting for remote adapter on tcp://ADDR:PORT (...,
# PARAM)" line (log level info for shoal_remote).
proxy_port() { # log, param
    sed -n "s/.*waiting for remote adapter on tcp:\/\/.*:\([0-9][0-9]*\) (adapter set $REMOTE_SET, data adapter $REMOTE_DATA, $2).*/\1/p" "$1" | head -n 1
}

start_server() { # scenario name, adapter, [more serve arguments] -> SERVER_PID, REMOTE_PID, URL
    local out=$WORK/$1.server.out log=$WORK/$1.server.log
    local args=(serve --listen 127.0.0.1:0 --log-level warn "${@:3}")
    # The proxy announces its ports at info.
    [ "$2" = remote ] && args=(serve --listen 127.0.0.1:0 --adapters-dir "$WORK/adapters"
        --log-level warn,shoal_remote=info "${@:3}")
    # Created here: the child opens them after the fork, maybe after the
    # first read below (which would fail on a missing file).
    : >"$out"
    : >"$log"
    "$SHOAL" "${args[@]}" >"$out" 2>"$log" &
    SERVER_PID=$!
    if [ "$2" = remote ]; then
        local data="" notify=""
        for _ in $(seq 100); do
            data=$(proxy_port "$log" request_reply_port)
            notify=$(proxy_port "$log" notify_port)
            [ -n "$data" ] && [ -n "$notify" ] && break
            running "$SERVER_PID" || break
            sleep 0.1
        done
        if [ -z "$data" ] || [ -z "$notify" ]; then
            keep_logs=true
            die "the server did not open the remote adapter's ports (see $log)"
        fi
        NODE_PATH=$ROOT/tests/clients/node_modules node "$ROOT/scripts/bench/remote-counter.js" \
            --data-port "$data" --notify-port "$notify" \
            >"$WORK/$1.remote.out" 2>"$WORK/$1.remote.log" &
        REMOTE_PID=$!
    fi
    # A plain proxy holds the listener back until its remote is connected.
    URL=""
    for _ in $(seq 150); do
        URL=$(sed -n 's/^listening on //p' "$out" | head -n 1)
        [ -n "$URL" ] && return 0
        running "$SERVER_PID" || break
        [ -z "$REMOTE_PID" ] || running "$REMOTE_PID" || break
        sleep 0.1
    done
    keep_logs=true
    [ -z "$REMOTE_PID" ] || running "$REMOTE_PID" ||
        die "the remote adapter ended before the server listened (see $WORK/$1.remote.log)"
    die "the server did not start (see $log)"
}

stop_server() { # the server, then its remote adapter (which ends when its connections close)
    stop_pid "$SERVER_PID" 5 || say "the server did not stop within 5 s of SIGTERM; killed"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    if [ -n "$REMOTE_PID" ]; then
        stop_pid "$REMOTE_PID" 5 || say "the remote adapter did not stop within 5 s of SIGTERM; killed"
        wait "$REMOTE_PID" 2>/dev/null || true
        REMOTE_PID=""
    fi
}

if $peers; then
    # shellcheck source=bench/peers-run.sh
    . "$ROOT/scripts/bench/peers-run.sh"
    exit $?
fi

rows=()
failed=0
began=$SECONDS
feed_selected=()
for s in "${selected[@]}"; do
    IFS='|' read -r name adapter sessions items rate mode what <<<"$s"
    # The broker feed runs after the others, with its own table.
    if [ "$adapter" = redis ]; then
        feed_selected+=("$s")
        continue
    fi
    say "$name: $sessions sessions x $items items from rate-$rate, $mode, $adapter adapter"
    start_server "$name" "$adapter"
    json=$WORK/$name.json
    target=()
    [ "$adapter" = remote ] && target=(--adapter-set "$REMOTE_SET" --data-adapter "$REMOTE_DATA"
        --remote-pid "$REMOTE_PID")
    # Bounded: warm-up and measure, plus connecting and stopping.
    timeout --kill-after=5 $((WARMUP + DURATION + 90)) \
        "$LOAD" --url "$URL" --sessions "$sessions" --items "$items" --rate "$rate" \
        --mode "$mode" --warmup "$WARMUP" --duration "$DURATION" "${target[@]}" \
        --server-pid "$SERVER_PID" --json >"$json" 2>"$WORK/$name.load.log" &
    LOAD_PID=$!
    rc=0
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=""
    why=""
    # The remote adapter must have lasted the whole run.
    [ -z "$REMOTE_PID" ] || running "$REMOTE_PID" ||
        why="the remote adapter ended during the run (see $WORK/$name.remote.log)"
    stop_server
    if [ "$rc" -ne 0 ] || [ -n "$why" ] || ! grep -q '"ratio"' "$json"; then
        failed=$((failed + 1))
        keep_logs=true
        [ -n "$why" ] || why=$(grep -h 'error' "$WORK/$name.load.log" | tail -n 1 | tr '|' '/')
        [ "$rc" -eq 124 ] && why="timed out"
        say "$name failed (exit $rc): $why"
        rows+=("| $what | $sessions | $items | failed: ${why:-exit $rc} | | | | | | | | | |")
        continue
    fi
    gaps=$(field gaps "$json")
    dups=$(field duplicates "$json")
    ov=$(field overflow "$json")
    [ "$dups" != 0 ] && gaps="$gaps (+$dups dup)"
    [ "$ov" != 0 ] && gaps="$gaps (OV $ov)"
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %s | %s |' \
        "$what" "$sessions" "$items" \
        "$(fmt '%.0f' "$(field expected_per_s "$json")")" \
        "$(fmt '%.0f' "$(field received_per_s "$json")")" \
        "$(fmt '%.3f' "$(field ratio "$json")")" \
        "$(fmt '%.2f' "$(field latency_p50_ms "$json")")" \
        "$(fmt '%.2f' "$(field latency_p99_ms "$json")")" \
        "$(fmt '%.1f' "$(field latency_max_ms "$json")")" \
        "$gaps" \
        "$(fmt '%.1f' "$(field server_peak_rss_mib "$json")")" \
        "$(fmt '%.0f' "$(field server_cpu_percent "$json")")" \
        "$(fmt '%.0f' "$(field remote_cpu_percent "$json")")" \
        "$(fmt '%.0f' "$(field loadgen_cpu_percent "$json")")" \
        "$(fmt '%.0f' "$(field others_cpu_percent "$json")")")")
done
[ ${#rows[@]} -eq 0 ] || say "scenarios took $((SECONDS - began)) s"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with local changes"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
table=$WORK/table.md
node_version=""
$remote && node_version="; Node.js $(node --version)"
if [ ${#rows[@]} -gt 0 ]; then
{
    echo "Run of $(date -u +%Y-%m-%d) on ${cpu:-an unknown CPU}, $(nproc) cores shared by the server, the load generator and (remote scenarios) the remote adapter; Shoal $commit$node_version; warm-up ${WARMUP} s, measured ${DURATION} s per scenario."
    echo
    echo "| scenario | sessions | items | expected upd/s | received upd/s | ratio | latency p50 / p99 / max ms | gaps | server peak RSS MiB | server CPU % | remote adapter CPU % | load gen CPU % | other CPU % |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${rows[@]}"
} >"$table"
cat "$table"
fi

if [ "$failed" -gt 0 ]; then
    say "$failed scenario(s) failed; the table of $DOC is left as it was"
elif $write && [ ${#rows[@]} -gt 0 ]; then
    awk -v begin="$BEGIN_MARK" -v end="$END_MARK" -v table="$table" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$DOC" >"$WORK/doc.md"
    cat "$WORK/doc.md" >"$DOC"
    say "table written to $DOC"
fi

feed_failed=0
if [ ${#feed_selected[@]} -gt 0 ]; then
    # shellcheck source=bench/feed-run.sh
    . "$ROOT/scripts/bench/feed-run.sh"
fi
[ "$feed_failed" -eq 0 ] || die "$feed_failed broker-feed run(s) failed (see the FAILED lines above)"
[ "$failed" -eq 0 ] || die "$failed scenario(s) failed"
