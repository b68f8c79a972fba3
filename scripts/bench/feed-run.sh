# The broker-feed scenarios of scripts/bench.sh (adapter "redis" in its
# SCENARIOS), sourced by it after the build (it uses its functions and
# variables): updates written to Redis by a producer, read from Redis by
# the server, delivered to clients, for Shoal and for Socket.IO with its
# Redis adapter, the same traffic in the same run. For each selected
# scenario, BENCH_REPEAT rounds of Shoal then Socket.IO (interleaved), each
# run with a fresh redis-server, server and producer:
#
#   shoal     `shoal serve --adapters-dir` with the adapter set FEED whose
#             data adapter DEFAULT is shoal.redis (stream_prefix shoal:);
#             the clients subscribe the item `feed` in RAW (TLCP); the
#             producer XADDs `seq` and `ts` to the stream shoal:feed.
#   socketio  scripts/bench/peers/socketio/server.js --redis-port: Socket.IO
#             4.8 with @socket.io/redis-adapter (Redis Pub/Sub); the clients
#             join the room `feed`; the producer PUBLISHes what
#             @socket.io/redis-emitter publishes for
#             emitter.to("feed").emit("update", {seq, ts}).
#
# The producer is `shoal-load produce` (crates/loadgen/src/produce.rs), a
# process of its own for both servers, written in Rust so that it keeps the
# rate: every millisecond, what is due in one pipeline. Its CPU time and
# Redis's are measured apart from the server's (--producer-pid,
# --broker-pid). Every run is one JSON line of $FEED_RESULTS (shoal-load's
# JSON plus what the producer wrote); scripts/bench/feed-table.js makes the
# table, and with --write it goes between the feed markers of $DOC. A
# Socket.IO run that fails once its clients are connected (at 200 000/s
# Redis cuts its adapter's subscriber off) is Socket.IO's result: shown
# in the table, it does not make the script fail; any other failure does.

. "$ROOT/scripts/bench/peers.sh"

command -v node >/dev/null ||
    die "node is missing: the broker-feed scenarios need it for the Socket.IO server and to pick free ports"
FEED_ITEM=feed
FEED_PREFIX=shoal:
FEED_SET=FEED
FEED_PIDS=""

# redis-server from Debian's package, installed when missing.
if ! command -v redis-server >/dev/null; then
    say "installing redis-server (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >&2 ||
        die "apt-get could not install redis-server (the Debian package redis-server)"
fi
command -v redis-server >/dev/null || die "redis-server is missing after installing the package redis-server"
# Socket.IO and its Redis adapter from the committed lockfile; a tree from
# before the adapter was added is installed again.
feed_sio_broken=""
if [ ! -f "$PEERS_DIR/socketio/node_modules/@socket.io/redis-adapter/package.json" ] ||
    [ ! -f "$PEERS_DIR/socketio/node_modules/redis/package.json" ]; then
    say "installing the npm packages of socketio (npm ci)"
    (cd "$PEERS_DIR/socketio" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
        feed_sio_broken="npm ci failed in $PEERS_DIR/socketio"
fi

# Starts redis-server on a free port of 127.0.0.1, without persistence:
# sets FEED_REDIS_PID and FEED_REDIS_PORT.
feed_redis_start() { # workdir
    local w=$1 attempt
    for attempt in 1 2 3; do
        FEED_REDIS_PORT=$(free_port)
        redis-server --bind 127.0.0.1 --port "$FEED_REDIS_PORT" --save "" --appendonly no \
            --dir "$w" --logfile "$w/redis.log" --daemonize no >/dev/null 2>&1 &
        FEED_REDIS_PID=$!
        FEED_PIDS="$FEED_PIDS $FEED_REDIS_PID"
        wait_port "$FEED_REDIS_PORT" "$FEED_REDIS_PID" && return 0
        say "redis-server did not listen on $FEED_REDIS_PORT (attempt $attempt; see $w/redis.log)"
        stop_pid "$FEED_REDIS_PID" 2 || true
    done
    return 1
}

# The adapters folder of Shoal's runs: FEED, shoal.redis on that Redis.
feed_adapters() { # dir, redis port
    mkdir -p "$1/$FEED_SET"
    cat >"$1/$FEED_SET/adapters.xml" <<EOF
<?xml version="1.0"?>
<adapters_conf id="$FEED_SET">
  <metadata_provider>
    <adapter_class>com.lightstreamer.adapters.metadata.LiteralBasedProvider</adapter_class>
  </metadata_provider>
  <data_provider name="DEFAULT">
    <adapter_class>shoal.redis</adapter_class>
    <param name="url">redis://127.0.0.1:$2/0</param>
    <param name="stream_prefix">$FEED_PREFIX</param>
  </data_provider>
</adapters_conf>
EOF
}

# Stops what a run started: the producer (it prints what it wrote), the
# server, then Redis.
feed_stop() {
    local pid
    [ -n "${FEED_PRODUCER_PID:-}" ] && { stop_pid "$FEED_PRODUCER_PID" 5 || say "the producer did not stop within 5 s; killed"; }
    if [ -n "$SERVER_PID" ]; then
        stop_server
    fi
    peer_stop
    [ -n "${FEED_REDIS_PID:-}" ] && { stop_pid "$FEED_REDIS_PID" 5 || say "redis-server did not stop within 5 s; killed"; }
    for pid in $FEED_PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    FEED_PIDS="" FEED_PRODUCER_PID="" FEED_REDIS_PID=""
}

FEED_RESULTS=$WORK/feed.jsonl
: >"$FEED_RESULTS"
# Appends a run's JSON line: shoal-load's object with what the run was and
# what the producer wrote, or a failure.
feed_record() { # scenario, server, round, clients, rate, load json or "", producer json or "", failure
    local head
    head=$(printf '"scenario":"%s","server":"%s","round":%s,"clients":%s,"rate":%s' "$1" "$2" "$3" "$4" "$5")
    # The producer's flat object, its keys prefixed with producer_.
    if [ -n "$7" ] && [ -s "$7" ]; then
        head="$head,$(tail -n 1 "$7" | sed 's/^{//; s/}$//; s/"\([a-z_]*\)":/"producer_\1":/g')"
    fi
    if [ -n "$6" ] && [ -s "$6" ] && [ -z "$8" ]; then
        sed "s/^{/{$head,/" "$6" | head -n 1 >>"$FEED_RESULTS"
    else
        printf '{%s,"failed":"%s"}\n' "$head" "$(printf '%s' "$8" | tr -d '"\\' | tr '\n' ' ')" >>"$FEED_RESULTS"
    fi
}

feed_failed=0
feed_began=$SECONDS
for s in "${feed_selected[@]}"; do
    IFS='|' read -r name _ sessions _ rate mode what <<<"$s"
    for round in $(seq "$REPEAT"); do
        for server in shoal socketio; do
            tag=$name.$server.$round
            w=$WORK/$tag
            mkdir -p "$w"
            json=$w/load.json
            pjson=$w/producer.json
            say "$tag: $sessions clients, $mode, producer at $rate/s"
            if [ "$server" = socketio ] && [ -n "$feed_sio_broken" ]; then
                say "$tag: FAILED: $feed_sio_broken"
                feed_record "$name" "$server" "$round" "$sessions" "$rate" "" "" "not installed: $feed_sio_broken"
                feed_failed=$((feed_failed + 1))
                continue
            fi
            why=""
            if ! feed_redis_start "$w"; then
                why="redis-server did not start (see $w/redis.log)"
            elif [ "$server" = shoal ]; then
                feed_adapters "$w/adapters" "$FEED_REDIS_PORT"
                start_server "$tag" demo --adapters-dir "$w/adapters"
                url=$URL pids=(--server-pid "$SERVER_PID")
                client=(--protocol tlcp --adapter-set "$FEED_SET" --data-adapter DEFAULT --mode "$mode")
                produce=(--format xadd --target "$FEED_PREFIX$FEED_ITEM")
            else
                started=false
                for attempt in 1 2 3; do
                    node "$PEERS_DIR/socketio/server.js" --port 0 --channels "$FEED_ITEM" \
                        --redis-port "$FEED_REDIS_PORT" >"$w/server.out" 2>"$w/server.log" &
                    PEER_MAIN=$!
                    if wait_line "$w/server.out" "listening on" "$PEER_MAIN"; then
                        started=true
                        break
                    fi
                    say "$tag: the Socket.IO server did not start (attempt $attempt; see $w/server.log)"
                    peer_stop
                done
                if $started; then
                    PEER_PIDS=$PEER_MAIN
                    url="ws://127.0.0.1:$(sed -n 's/^listening on //p' "$w/server.out")/socket.io/?EIO=4&transport=websocket"
                    pids=(--server-pid "$PEER_MAIN")
                    client=(--protocol socketio)
                    produce=(--format socketio --target "$FEED_ITEM")
                else
                    why="the Socket.IO server did not start (see $w/server.log)"
                fi
            fi
            if [ -z "$why" ]; then
                # Bounded: it writes for longer than the clients connect,
                # warm up and measure, and is stopped once they are done.
                "$LOAD" produce --redis-url "redis://127.0.0.1:$FEED_REDIS_PORT" "${produce[@]}" \
                    --rate "$rate" --duration $((WARMUP + DURATION + 90)) --json \
                    >"$pjson" 2>"$w/producer.log" &
                FEED_PRODUCER_PID=$!
                FEED_PIDS="$FEED_PIDS $FEED_PRODUCER_PID"
                wait_line "$w/producer.log" "shoal-load produce:" "$FEED_PRODUCER_PID" ||
                    why="the producer did not start (see $w/producer.log)"
            fi
            rc=0
            # Whether the run got as far as the clients: a Socket.IO run
            # that fails from there on is Socket.IO's result (recorded and
            # shown), not a failure of the harness.
            measured=false
            if [ -z "$why" ]; then
                measured=true
                timeout --kill-after=5 $((WARMUP + DURATION + 80)) \
                    "$LOAD" --url "$url" "${client[@]}" --sessions "$sessions" \
                    --item-names "$FEED_ITEM" --feed-rate "$rate" \
                    --warmup "$WARMUP" --duration "$DURATION" --connect-timeout 30 "${pids[@]}" \
                    --broker-pid "$FEED_REDIS_PID" --producer-pid "$FEED_PRODUCER_PID" --json \
                    >"$json" 2>"$w/load.log" &
                LOAD_PID=$!
                wait "$LOAD_PID" || rc=$?
                LOAD_PID=""
                running "$FEED_PRODUCER_PID" ||
                    why="the producer ended during the run (see $w/producer.log)"
                running "$FEED_REDIS_PID" || why="redis-server ended during the run (see $w/redis.log)"
                if [ -z "$why" ] && { [ "$rc" -ne 0 ] || ! grep -q '"server_cpu_percent"' "$json"; }; then
                    why=$(grep -h error "$w/load.log" | tail -n 1)
                    [ "$rc" -eq 124 ] && why="timed out"
                    why=${why:-exit $rc}
                fi
            fi
            feed_stop
            # What Redis and the server said about a failure.
            if [ -n "$why" ] && grep -q 'overcoming of output buffer limits' "$w/redis.log" 2>/dev/null; then
                why="$why; Redis closed the server's subscriber connection: its output buffer passed the pubsub limit (client-output-buffer-limit, 32 MB by default), the server read slower than the producer wrote"
            fi
            if [ -n "$why" ] && [ "$server" = socketio ] && grep -q '^Error' "$w/server.log" 2>/dev/null; then
                why="$why; the server then exited: $(grep -m 1 '^Error' "$w/server.log")"
            fi
            if [ -n "$why" ]; then
                keep_logs=true
                if [ "$server" = socketio ] && $measured; then
                    say "$tag: Socket.IO failed during the run (recorded as its result): $why"
                else
                    feed_failed=$((feed_failed + 1))
                    say "$tag: FAILED: $why"
                fi
                feed_record "$name" "$server" "$round" "$sessions" "$rate" "" "$pjson" "$why"
                continue
            fi
            feed_record "$name" "$server" "$round" "$sessions" "$rate" "$json" "$pjson" ""
            say "$tag: $(field received_per_s "$json") upd/s of $(field expected_per_s "$json"), gaps $(field gaps "$json"), $(field server_cpu_us_per_update "$json") µs CPU/update, Redis $(field broker_cpu_percent "$json") %, p50/p99 $(field latency_p50_ms "$json")/$(field latency_p99_ms "$json") ms"
        done
    done
done
say "broker-feed runs took $((SECONDS - feed_began)) s"

feed_title="Run of $(date -u +%Y-%m-%d) on $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores shared by the server, Redis, the producer and the load generator; Shoal $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' with local changes'); $(redis-server --version | sed -n 's/^Redis server v=\([^ ]*\).*/Redis \1/p'); Node.js $(node --version); warm-up ${WARMUP} s, measured ${DURATION} s, $REPEAT round(s) interleaved."
node "$ROOT/scripts/bench/feed-table.js" --results "$FEED_RESULTS" --title "$feed_title" >"$WORK/feed-table.md" ||
    die "feed-table.js failed on $FEED_RESULTS"
cat "$WORK/feed-table.md"
if $write; then
    cp "$FEED_RESULTS" "$ROOT/docs/bench/feed.jsonl"
    begin='<!-- feed:begin -->' end='<!-- feed:end -->'
    grep -qF "$begin" "$DOC" && grep -qF "$end" "$DOC" || die "$DOC lacks the markers $begin and $end"
    awk -v begin="$begin" -v end="$end" -v table="$WORK/feed-table.md" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$DOC" >"$WORK/doc.md"
    cat "$WORK/doc.md" >"$DOC"
    say "broker-feed results in docs/bench/feed.jsonl, table in $DOC"
fi
