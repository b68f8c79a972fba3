#!/usr/bin/env bash
# Benchmarks Shoal with shoal-load (crates/loadgen) over WebSocket on
# 127.0.0.1: for each scenario a fresh `shoal serve` on a free port, the load
# generator against it (sampling the server's memory and CPU), then the server
# is stopped. Prints one markdown table of every scenario.
#
#   scripts/bench.sh                 # build (release), run, print the table
#   scripts/bench.sh --write         # ... and put it in docs/benchmarks.md
#   scripts/bench.sh --only fanout-1000 --only heavy
#
# Environment: BENCH_WARMUP (s, default 3) and BENCH_DURATION (s, default 10)
# per scenario; CARGO_TARGET_DIR is honoured. With the defaults the scenarios
# take about 100 s (the build is not counted). Logs of every process stay in a
# temporary directory that is printed when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WARMUP=${BENCH_WARMUP:-3}
DURATION=${BENCH_DURATION:-10}
DOC=docs/benchmarks.md
BEGIN_MARK='<!-- bench:begin -->'
END_MARK='<!-- bench:end -->'

# name|sessions|items|first rate|mode|what
SCENARIOS=(
    "fanout-100|100|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-1000|1000|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-3000|3000|1|10|RAW|fan-out: rate-10, RAW"
    "fanout-1000-merge|1000|1|10|MERGE|fan-out: rate-10, MERGE"
    "throughput|10|10|1000|RAW|throughput: rate-1000..rate-1009, RAW"
    "heavy|1|1|50000|RAW|heavy item: rate-50000, RAW"
)

die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'bench.sh: %s\n' "$*" >&2; }

write=false
only=()
while [ $# -gt 0 ]; do
    case $1 in
        --write) write=true ;;
        --only) [ $# -ge 2 ] || die "--only needs a scenario name"; only+=("$2"); shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
case $WARMUP$DURATION in *[!0-9]*) die "BENCH_WARMUP and BENCH_DURATION are whole seconds" ;; esac
[ "$DURATION" -ge 1 ] || die "BENCH_DURATION must be at least 1"
if $write; then
    grep -qF "$BEGIN_MARK" "$DOC" && grep -qF "$END_MARK" "$DOC" ||
        die "$DOC lacks the markers $BEGIN_MARK and $END_MARK"
fi

selected=()
for s in "${SCENARIOS[@]}"; do
    name=${s%%|*}
    if [ ${#only[@]} -eq 0 ] || printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
        selected+=("$s")
    fi
done
[ ${#selected[@]} -gt 0 ] || die "no scenario named ${only[*]}; they are: $(printf '%s ' "${SCENARIOS[@]%%|*}")"

# Every process we start is stopped on the way out, whatever happens.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench.XXXXXX")
SERVER_PID=""
LOAD_PID=""
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
    for pid in $LOAD_PID $SERVER_PID; do
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
for s in "${selected[@]}"; do
    IFS='|' read -r _ sessions _ <<<"$s"
    [ "$sessions" -gt "$most" ] && most=$sessions
done
need=$((most + 512))
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        die "open files are limited to $hard (ulimit -Hn); $most sessions need $need"
    fi
    ulimit -Sn "$need"
    say "raised the open-file limit from $soft to $need"
fi

say "building (release)"
cargo build --release --quiet -p shoal -p shoal-loadgen
SHOAL=$TARGET/release/shoal
LOAD=$TARGET/release/shoal-load
[ -x "$SHOAL" ] && [ -x "$LOAD" ] || die "no binaries under $TARGET/release"

# One field of the flat JSON object shoal-load prints.
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }
fmt() { # printf format, value (or null)
    if [ -z "$2" ] || [ "$2" = null ]; then printf -- '-'; else printf -- "$1" "$2"; fi
}

start_server() { # scenario name -> SERVER_PID, URL
    local out=$WORK/$1.server.out
    "$SHOAL" serve --listen 127.0.0.1:0 --log-level warn >"$out" 2>"$WORK/$1.server.log" &
    SERVER_PID=$!
    URL=""
    for _ in $(seq 100); do
        URL=$(sed -n 's/^listening on //p' "$out" | head -n 1)
        [ -n "$URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    keep_logs=true
    die "the server did not start (see $WORK/$1.server.log)"
}

stop_server() {
    stop_pid "$SERVER_PID" 5 || say "the server did not stop within 5 s of SIGTERM; killed"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

rows=()
failed=0
began=$SECONDS
for s in "${selected[@]}"; do
    IFS='|' read -r name sessions items rate mode what <<<"$s"
    say "$name: $sessions sessions x $items items from rate-$rate, $mode"
    start_server "$name"
    json=$WORK/$name.json
    # Bounded: warm-up and measure, plus connecting and stopping.
    timeout --kill-after=5 $((WARMUP + DURATION + 90)) \
        "$LOAD" --url "$URL" --sessions "$sessions" --items "$items" --rate "$rate" \
        --mode "$mode" --warmup "$WARMUP" --duration "$DURATION" \
        --server-pid "$SERVER_PID" --json >"$json" 2>"$WORK/$name.load.log" &
    LOAD_PID=$!
    rc=0
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=""
    stop_server
    if [ "$rc" -ne 0 ] || ! grep -q '"ratio"' "$json"; then
        failed=$((failed + 1))
        keep_logs=true
        why=$(grep -h 'error' "$WORK/$name.load.log" | tail -n 1 | tr '|' '/')
        [ "$rc" -eq 124 ] && why="timed out"
        say "$name failed (exit $rc): $why"
        rows+=("| $what | $sessions | $items | failed: ${why:-exit $rc} | | | | | | | | |")
        continue
    fi
    gaps=$(field gaps "$json")
    dups=$(field duplicates "$json")
    ov=$(field overflow "$json")
    [ "$dups" != 0 ] && gaps="$gaps (+$dups dup)"
    [ "$ov" != 0 ] && gaps="$gaps (OV $ov)"
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s | %s |' \
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
        "$(fmt '%.0f' "$(field loadgen_cpu_percent "$json")")" \
        "$(fmt '%.0f' "$(field others_cpu_percent "$json")")")")
done
say "scenarios took $((SECONDS - began)) s"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with local changes"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
table=$WORK/table.md
{
    echo "Run of $(date -u +%Y-%m-%d) on ${cpu:-an unknown CPU}, $(nproc) cores shared by the server and the load generator; Shoal $commit; warm-up ${WARMUP} s, measured ${DURATION} s per scenario."
    echo
    echo "| scenario | sessions | items | expected upd/s | received upd/s | ratio | latency p50 / p99 / max ms | gaps | server peak RSS MiB | server CPU % | load gen CPU % | other CPU % |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    printf '%s\n' "${rows[@]}"
} >"$table"
cat "$table"

if [ "$failed" -gt 0 ]; then
    die "$failed scenario(s) failed; $DOC left as it was"
fi
if $write; then
    awk -v begin="$BEGIN_MARK" -v end="$END_MARK" -v table="$table" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$DOC" >"$WORK/doc.md"
    cat "$WORK/doc.md" >"$DOC"
    say "table written to $DOC"
fi
