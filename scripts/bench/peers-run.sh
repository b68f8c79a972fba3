# The side-by-side run of scripts/bench.sh --peers, sourced by it after the
# build (it uses its functions and variables): for each selected workload,
# BENCH_REPEAT rounds of Shoal then each peer (interleaved: a slow drift of
# the machine touches every server alike), one shoal-load run each, and the
# kernel floor (shoal-load floor) beside each fan-out size. Every run is
# one JSON line of $RESULTS; shoal-benchplot turns them into the tables
# (and, with --write, the SVG charts).
#
# Workloads (each run bounded: warm-up, measured window, connect time):
#   fanout-N  N clients on one channel (rate-10: 10 updates/s)
#   batch     200 clients, each on 10 channels rate-10 .. rate-19 over one
#             connection (145 updates/s a client)
#   heavy     1 client on rate-50000 (50 000 updates/s)
#   idle      BENCH_IDLE_CLIENTS clients subscribed to a channel that gets
#             no update: the server's memory per client
#   storm     BENCH_STORM_CONCURRENCY workers opening, subscribing and
#             closing sessions: sessions/s and server CPU per session
. "$ROOT/scripts/bench/peers.sh"

command -v node >/dev/null || die "node is missing: the peers' servers and publishers run on Node.js 18 or later"
FANOUT=${BENCH_FANOUT:-1000 2000 5000 10000}
IDLE_CLIENTS=${BENCH_IDLE_CLIENTS:-5000}
STORM_CONCURRENCY=${BENCH_STORM_CONCURRENCY:-32}
BATCH_CLIENTS=200
HEAVY_RATE=50000
for n in $FANOUT $IDLE_CLIENTS $STORM_CONCURRENCY; do
    case $n in ''|*[!0-9]*|0) die "BENCH_FANOUT, BENCH_IDLE_CLIENTS and BENCH_STORM_CONCURRENCY are whole numbers above 0" ;; esac
done

workloads=()
for n in $FANOUT; do workloads+=("fanout-$n"); done
workloads+=(batch heavy idle storm)
if [ ${#only[@]} -gt 0 ]; then
    for w in "${only[@]}"; do
        printf '%s\n' "${workloads[@]}" | grep -qxF "$w" ||
            case $w in fanout-[1-9]*) ;; *) die "no workload named $w; they are: ${workloads[*]}" ;; esac
    done
    workloads=("${only[@]}")
fi

names=("${PEER_NAMES[@]}")
if [ ${#peer_only[@]} -gt 0 ]; then
    names=()
    for p in "${peer_only[@]}"; do
        printf '%s\n' "${PEER_NAMES[@]}" | grep -qxF "$p" || die "no peer named $p; they are: ${PEER_NAMES[*]}"
        names+=("$p")
    done
fi

# Descriptors: a socket per session in the load generator and in the server
# (nginx and Pushpin inherit our limit), one per connection on each side of
# the floor (its receiving side is a process of its own).
most=$IDLE_CLIENTS
for w in "${workloads[@]}"; do
    case $w in fanout-*) n=${w#fanout-}; [ "$n" -gt "$most" ] && most=$n ;; esac
done
raise_nofile $((most + 1024))

broken=$WORK/peers-broken
peers_install >"$broken"
while IFS= read -r line; do say "PEER NOT INSTALLED: $line"; done <"$broken"

# What a workload is: kind|clients|channels|shoal-load arguments for Shoal
# (TLCP)|shoal-load arguments for a peer (besides --protocol, --url).
workload() {
    local chans
    case $1 in
    fanout-*) echo "fanout|${1#fanout-}|rate-10|--sessions ${1#fanout-} --items 1 --rate 10|--sessions ${1#fanout-} --item-names rate-10" ;;
    batch)
        chans=$(seq -s, -f 'rate-%g' 10 19)
        echo "batch|$BATCH_CLIENTS|$chans|--sessions $BATCH_CLIENTS --items 10 --rate 10|--sessions $BATCH_CLIENTS --item-names $chans" ;;
    heavy) echo "heavy|1|rate-$HEAVY_RATE|--sessions 1 --rate $HEAVY_RATE|--sessions 1 --item-names rate-$HEAVY_RATE" ;;
    # Shoal: the demo's chat room, which only a client message updates.
    idle) echo "idle|$IDLE_CLIENTS|idle|--idle --sessions $IDLE_CLIENTS --data-adapter CHAT_ROOM --item-names chat_room|--idle --sessions $IDLE_CLIENTS --item-names idle" ;;
    storm) echo "storm|$STORM_CONCURRENCY|rate-10|--storm --connect-concurrency $STORM_CONCURRENCY --rate 10|--storm --connect-concurrency $STORM_CONCURRENCY --item-names rate-10" ;;
    esac
}

RESULTS=$WORK/peers.jsonl
: >"$RESULTS"
# Appends a run's JSON object to the results with what it was.
record() { # scenario, kind, server, round, clients, json file or "", failure text, extra JSON members
    local head
    head=$(printf '"scenario":"%s","workload":"%s","server":"%s","round":%s,"clients":%s' "$1" "$2" "$3" "$4" "$5")
    [ -n "$8" ] && head="$head,$8"
    if [ -n "$6" ] && [ -s "$6" ]; then
        sed "s/^{/{$head,/" "$6" | head -n 1 >>"$RESULTS"
    else
        printf '{%s,"failed":"%s"}\n' "$head" "$(printf '%s' "$7" | tr -d '"\\' | tr '\n' ' ')" >>"$RESULTS"
    fi
}

failed=0
began=$SECONDS
# shoal-1t: Shoal on one worker thread (fan-out only), to show how the
# fan-out scales from one core to two; shoal-d30: Shoal with
# --max-delay-millis 30 (batch only), to show what packing updates saves.
servers=(shoal shoal-1t shoal-d30 "${names[@]}")
for sc in "${workloads[@]}"; do
    IFS='|' read -r kind clients chans shoal_args peer_args <<<"$(workload "$sc")"
    [ -n "$kind" ] || die "no workload named $sc"
    for round in $(seq "$REPEAT"); do
        for server in "${servers[@]}"; do
            [ "$server" = shoal-1t ] && [ "$kind" != fanout ] && continue
            [ "$server" = shoal-d30 ] && [ "$kind" != batch ] && continue
            tag=$sc.$server.$round
            json=$WORK/$tag.json
            if grep -q "^$server:" "$broken"; then
                why=$(grep "^$server:" "$broken" | head -n 1)
                say "$tag: FAILED: $why"
                record "$sc" "$kind" "$server" "$round" "$clients" "" "not installed: $why" ""
                failed=$((failed + 1))
                continue
            fi
            say "$tag: $kind, $clients clients, channels $chans"
            pids=()
            if [ "${server%%-*}" = shoal ]; then
                case $server in
                shoal) start_server "$tag" demo ;;
                shoal-1t) start_server "$tag" demo --worker-threads 1 ;;
                shoal-d30) start_server "$tag" demo --max-delay-millis 30 ;;
                esac
                url=$URL proto=tlcp pids=(--server-pid "$SERVER_PID")
                # shellcheck disable=SC2206
                args=($shoal_args)
            else
                # A free port picked for the peer can be taken by one of the
                # load generator's many connections before the peer binds it:
                # a peer that did not come up gets two more tries.
                started=false
                for attempt in 1 2 3; do
                    if peer_start "$server" "$WORK/$tag.$attempt" "$chans"; then
                        started=true
                        break
                    fi
                    say "$tag: $server did not start (attempt $attempt)"
                    peer_stop
                done
                if ! $started; then
                    say "$tag: FAILED: $server did not start (logs in $WORK/$tag.*)"
                    keep_logs=true
                    failed=$((failed + 1))
                    peer_stop
                    record "$sc" "$kind" "$server" "$round" "$clients" "" "did not start" ""
                    continue
                fi
                url=$PEER_URL proto=$PEER_PROTO
                for p in $PEER_PIDS; do pids+=(--server-pid "$p"); done
                # shellcheck disable=SC2206
                args=($peer_args)
            fi
            rc=0
            timeout --kill-after=5 $((WARMUP + DURATION + 150)) \
                "$LOAD" --protocol "$proto" --url "$url" "${args[@]}" \
                --warmup "$WARMUP" --duration "$DURATION" --connect-timeout 120 "${pids[@]}" --json \
                >"$json" 2>"$WORK/$tag.load.log" &
            LOAD_PID=$!
            wait "$LOAD_PID" || rc=$?
            LOAD_PID=""
            extra=""
            if [ "${server%%-*}" = shoal ]; then
                stop_server
            else
                peer_stop
                # What an HTTP publisher could not send (it prints it as it stops).
                skipped=$(cat "$WORK/$tag.$attempt"/publisher.out "$WORK/$tag.$attempt"/origin.out 2>/dev/null |
                    sed -n 's/^skipped \([0-9]*\)$/\1/p' | head -n 1) || true
                [ -n "$skipped" ] && extra="\"publisher_skipped\":$skipped"
            fi
            if [ "$rc" -ne 0 ] || ! grep -q '"server_cpu_percent"' "$json"; then
                keep_logs=true
                failed=$((failed + 1))
                why=$(grep -h error "$WORK/$tag.load.log" | tail -n 1)
                [ "$rc" -eq 124 ] && why="timed out"
                say "$tag: FAILED (exit $rc): $why"
                record "$sc" "$kind" "$server" "$round" "$clients" "" "${why:-exit $rc}" "$extra"
                continue
            fi
            record "$sc" "$kind" "$server" "$round" "$clients" "$json" "" "$extra"
            case $kind in
            storm) say "$tag: $(field sessions_per_s "$json") sessions/s, $(field server_cpu_us_per_session "$json") µs CPU/session" ;;
            idle) say "$tag: $(field server_rss_per_session_kib "$json") KiB/client" ;;
            *) say "$tag: $(field received_per_s "$json") upd/s of $(field expected_per_s "$json"), $(field server_cpu_us_per_update "$json") µs CPU/update" ;;
            esac
        done
        # The kernel floor of this fan-out size, in the same round.
        if [ "$kind" = fanout ]; then
            tag=$sc.floor.$round
            rc=0
            timeout --kill-after=5 $((2 * DURATION + 120)) \
                "$LOAD" floor --clients "$clients" --rate 10 --duration "$DURATION" --json \
                >"$WORK/$tag.json" 2>"$WORK/$tag.log" || rc=$?
            if [ "$rc" -ne 0 ]; then
                failed=$((failed + 1))
                keep_logs=true
                say "$tag: FAILED (exit $rc): $(tail -n 1 "$WORK/$tag.log")"
                record "$sc" floor floor "$round" "$clients" "" "exit $rc" ""
            else
                record "$sc" floor floor "$round" "$clients" "$WORK/$tag.json" "" ""
                say "$tag: $(field floor_us_per_send "$WORK/$tag.json") µs CPU/send, $(field floor_us_per_update_batched "$WORK/$tag.json") µs/update batched"
            fi
        fi
    done
done
say "peer runs took $((SECONDS - began)) s"

title="Run of $(date -u +%Y-%m-%d) on $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores shared by server, publisher and load generator; Shoal $(git rev-parse --short HEAD 2>/dev/null); Node.js $(node --version); warm-up ${WARMUP} s, measured ${DURATION} s, $REPEAT round(s) interleaved."
plot_args=(--results "$RESULTS" --title "$title" --table "$WORK/peers-table.md")
$write && plot_args+=(--svg-dir "$ROOT/docs/bench" --svg-link bench)
"$PLOT" "${plot_args[@]}" || die "shoal-benchplot failed on $RESULTS"
cat "$WORK/peers-table.md"
if $write; then
    cp "$RESULTS" "$ROOT/docs/bench/peers.jsonl"
    begin='<!-- peers:begin -->' end='<!-- peers:end -->'
    grep -qF "$begin" "$DOC" && grep -qF "$end" "$DOC" || die "$DOC lacks the markers $begin and $end"
    awk -v begin="$begin" -v end="$end" -v table="$WORK/peers-table.md" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$DOC" >"$WORK/doc.md"
    cat "$WORK/doc.md" >"$DOC"
    say "results in docs/bench/peers.jsonl, charts in docs/bench/, table in $DOC"
fi
[ "$failed" -eq 0 ] || die "$failed run(s) failed (see the FAILED lines above)"
