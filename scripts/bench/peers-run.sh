# The side-by-side fan-out run of scripts/bench.sh --peers, sourced by it
# after the build (it uses its functions and variables): for each selected
# fan-out scenario, BENCH_REPEAT rounds of Shoal then each peer, one
# shoal-load run each, then one table row per server.
. "$ROOT/scripts/bench/peers.sh"

command -v node >/dev/null || die "node is missing: the peers' servers and publishers run on Node.js 18 or later"
names=("${PEER_NAMES[@]}")
if [ ${#peer_only[@]} -gt 0 ]; then
    names=()
    for p in "${peer_only[@]}"; do
        printf '%s\n' "${PEER_NAMES[@]}" | grep -qxF "$p" || die "no peer named $p; they are: ${PEER_NAMES[*]}"
        names+=("$p")
    done
fi
broken=$WORK/peers-broken
peers_install >"$broken"
while IFS= read -r line; do say "PEER NOT INSTALLED: $line"; done <"$broken"

servers=(shoal "${names[@]}")
failed=0
began=$SECONDS
results=$WORK/peers-results   # scenario server round json-file
: >"$results"
for s in "${selected[@]}"; do
    IFS='|' read -r name adapter sessions items rate mode what <<<"$s"
    if [ "$adapter" != demo ] || [ "$items" != 1 ] || [ "$mode" != RAW ]; then
        die "$name is not a fan-out scenario (one item, RAW, in process): --peers runs fan-out only"
    fi
    channel=rate-$rate
    for round in $(seq "$REPEAT"); do
        for server in "${servers[@]}"; do
            tag=$name.$server.$round
            json=$WORK/$tag.json
            if grep -q "^$server:" "$broken"; then
                say "$tag: FAILED: $(grep "^$server:" "$broken" | head -n 1)"
                failed=$((failed + 1))
                continue
            fi
            say "$tag: $sessions clients of $channel"
            pids=()
            if [ "$server" = shoal ]; then
                start_server "$tag" demo
                url=$URL proto=tlcp pids=(--server-pid "$SERVER_PID")
            else
                if ! peer_start "$server" "$WORK/$tag" "$channel" "$rate"; then
                    say "$tag: FAILED: $server did not start (logs in $WORK/$tag)"
                    keep_logs=true
                    failed=$((failed + 1))
                    peer_stop
                    continue
                fi
                url=$PEER_URL proto=$PEER_PROTO
                for p in $PEER_PIDS; do pids+=(--server-pid "$p"); done
            fi
            rc=0
            timeout --kill-after=5 $((WARMUP + DURATION + 90)) \
                "$LOAD" --protocol "$proto" --url "$url" --sessions "$sessions" --rate "$rate" \
                --warmup "$WARMUP" --duration "$DURATION" "${pids[@]}" --json \
                >"$json" 2>"$WORK/$tag.load.log" &
            LOAD_PID=$!
            wait "$LOAD_PID" || rc=$?
            LOAD_PID=""
            if [ "$server" = shoal ]; then stop_server; else peer_stop; fi
            if [ "$rc" -ne 0 ] || ! grep -q '"ratio"' "$json"; then
                keep_logs=true
                failed=$((failed + 1))
                say "$tag: FAILED (exit $rc): $(grep -h error "$WORK/$tag.load.log" | tail -n 1)"
                continue
            fi
            echo "$name $server $round $json" >>"$results"
            say "$tag: $(field received_per_s "$json") upd/s of $(field expected_per_s "$json"), $(field server_cpu_us_per_update "$json") µs CPU/update"
        done
    done
done
say "peer runs took $((SECONDS - began)) s"

# One line per run, then one row per server: means over the rounds, the
# CPU per update's range, and Shoal's CPU per update over the peer's
# (round by round: mean, min..max).
{
    echo "Peers, fan-out: warm-up ${WARMUP} s, measured ${DURATION} s, $REPEAT round(s) interleaved; $(nproc) cores shared by server, publisher and load generator; Shoal $(git rev-parse --short HEAD 2>/dev/null); Node.js $(node --version)."
    echo
    echo "| scenario | server | round | clients | expected upd/s | received upd/s | ratio | gaps | latency p50 / p99 ms | server CPU µs/update | server peak RSS MiB |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    while read -r sc server round json; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n' "$sc" "$server" "$round" \
            "$(field sessions "$json")" "$(fmt '%.0f' "$(field expected_per_s "$json")")" \
            "$(fmt '%.0f' "$(field received_per_s "$json")")" "$(fmt '%.3f' "$(field ratio "$json")")" \
            "$(field gaps "$json")+$(field duplicates "$json")dup" \
            "$(fmt '%.2f' "$(field latency_p50_ms "$json")")" "$(fmt '%.2f' "$(field latency_p99_ms "$json")")" \
            "$(fmt '%.2f' "$(field server_cpu_us_per_update "$json")")" \
            "$(fmt '%.1f' "$(field server_peak_rss_mib "$json")")"
    done <"$results"
    echo
    echo "| scenario | server | clients | expected upd/s | received upd/s | ratio | gaps | latency p50 / p99 ms | server CPU µs/update (min..max) | server peak RSS MiB | Shoal/peer CPU per update (min..max) |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    while read -r sc server round json; do
        printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$sc" "$server" "$round" \
            "$(field sessions "$json")" "$(field expected_per_s "$json")" "$(field received_per_s "$json")" \
            "$(field ratio "$json")" "$(($(field gaps "$json") + $(field duplicates "$json")))" \
            "$(field latency_p50_ms "$json")" "$(field latency_p99_ms "$json")" \
            "$(field server_cpu_us_per_update "$json") $(field server_peak_rss_mib "$json")"
    done <"$results" | awk '
        { k = $1 SUBSEP $2; if (!(k in n)) order[++keys] = k; n[k]++
          cl[k] = $4; ex[k] += $5; rx[k] += $6; ra[k] += $7; gp[k] += $8; p50[k] += $9; p99[k] += $10
          cpu[k] += $11; if (!(k in lo) || $11 < lo[k]) lo[k] = $11; if ($11 > hi[k]) hi[k] = $11
          if ($12 > rss[k]) rss[k] = $12
          round[$1 SUBSEP $2 SUBSEP $3] = $11 }
        END {
          for (i = 1; i <= keys; i++) {
            k = order[i]; split(k, a, SUBSEP); m = n[k]
            ratio = "-"
            if (a[2] != "shoal") {
              s = 0; c = 0; rl = ""; rh = ""
              for (r = 1; r <= 100; r++) {
                sh = round[a[1] SUBSEP "shoal" SUBSEP r]; pe = round[a[1] SUBSEP a[2] SUBSEP r]
                if (sh != "" && pe != "" && pe > 0) { q = sh / pe; s += q; c++
                  if (rl == "" || q < rl) rl = q; if (rh == "" || q > rh) rh = q }
              }
              if (c > 0) ratio = sprintf("%.3f (%.3f..%.3f)", s / c, rl, rh)
            }
            printf "| %s | %s | %s | %.0f | %.0f | %.3f | %d | %.2f / %.2f | %.2f (%.2f..%.2f) | %.1f | %s |\n",
              a[1], a[2], cl[k], ex[k] / m, rx[k] / m, ra[k] / m, gp[k], p50[k] / m, p99[k] / m,
              cpu[k] / m, lo[k], hi[k], rss[k], ratio
          }
        }'
} >"$WORK/peers-table.md"
cat "$WORK/peers-table.md"
[ "$failed" -eq 0 ] || die "$failed run(s) failed (see the FAILED lines above)"
