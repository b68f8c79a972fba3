# The peers of the side-by-side benchmark, sourced by
# scripts/bench.sh --peers: how each is installed (idempotently), started on
# 127.0.0.1 on a free port with its publisher, and stopped. Files and
# configurations are in scripts/bench/peers/<peer>/.
#
# peer_start NAME WORKDIR CHANNELS sets (CHANNELS: comma-separated, each
# rate-N published N times a second, any other name never)
#   PEER_URL      the WebSocket URL shoal-load opens (--url)
#   PEER_PROTO    shoal-load's --protocol
#   PEER_MAIN     the pid stopped first (it stops its own children)
#   PEER_PIDS     every pid of the server, summed for CPU and memory
#   PEER_OTHERS   pids of the helpers (publisher, origin), stopped after
# and fails with a message on stderr when the peer does not come up.

PEERS_DIR=$ROOT/scripts/bench/peers
PEER_NAMES=(socketio mosquitto nchan pushpin)
PEER_MAIN=""
PEER_PIDS=""
PEER_OTHERS=""

# Debian packages each peer needs (all but node, which the script checks).
peer_packages() {
    case $1 in
        mosquitto) echo mosquitto ;;
        nchan) echo nginx libnginx-mod-nchan ;;
        pushpin) echo pushpin ;;
    esac
}

# Installs what is missing: Debian packages with apt-get (update once, then
# install -y), npm packages with npm ci from the committed lockfiles.
# Prints the peers that could not be installed, one a line, with why.
peers_install() {
    local missing=() p pkg updated=false
    for p in "${PEER_NAMES[@]}"; do
        for pkg in $(peer_packages "$p"); do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
                missing+=("$pkg")
        done
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]} (apt-get)"
        if apt-get update -qq >&2 && updated=true &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
            :
        else
            say "apt-get could not install ${missing[*]} (updated: $updated)"
        fi
    fi
    for p in socketio mosquitto; do
        if [ ! -d "$PEERS_DIR/$p/node_modules" ]; then
            say "installing the npm packages of $p (npm ci)"
            (cd "$PEERS_DIR/$p" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
                echo "$p: npm ci failed in $PEERS_DIR/$p"
        fi
    done
    for p in "${PEER_NAMES[@]}"; do
        for pkg in $(peer_packages "$p"); do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
                echo "$p: the Debian package $pkg is not installed (apt-get failed)"
        done
    done
}

# A TCP port free on 127.0.0.1 now.
free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Every descendant of a pid, the pid first.
process_tree() { # pid
    local pid=$1 child
    echo "$pid"
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        process_tree "$child"
    done
}

# Waits until a TCP port accepts connections (or 10 s).
wait_port() { # port, pid that must stay alive
    local _
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        running "$2" || return 1
        sleep 0.1
    done
    return 1
}

# Waits for a line in a file (or 10 s).
wait_line() { # file, text, pid that must stay alive
    local _
    for _ in $(seq 100); do
        grep -qF "$2" "$1" 2>/dev/null && return 0
        running "$3" || return 1
        sleep 0.1
    done
    return 1
}

peer_start() { # name, workdir, channels
    local name=$1 w=$2 channels=$3 port pub
    PEER_MAIN="" PEER_PIDS="" PEER_OTHERS=""
    mkdir -p "$w"
    case $name in
    socketio)
        PEER_PROTO=socketio
        node "$PEERS_DIR/socketio/server.js" --port 0 --channels "$channels" \
            >"$w/server.out" 2>"$w/server.log" &
        PEER_MAIN=$!
        wait_line "$w/server.out" "listening on" "$PEER_MAIN" ||
            { say "socketio: the Socket.IO server did not start (see $w/server.log)"; return 1; }
        port=$(sed -n 's/^listening on //p' "$w/server.out")
        PEER_URL="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
        PEER_PIDS=$PEER_MAIN
        ;;
    mosquitto)
        PEER_PROTO=mqtt
        port=$(free_port) pub=$(free_port)
        sed "s|@WS_PORT@|$port|; s|@MQTT_PORT@|$pub|" "$PEERS_DIR/mosquitto/mosquitto.conf.in" \
            >"$w/mosquitto.conf"
        mosquitto -c "$w/mosquitto.conf" >"$w/server.out" 2>"$w/server.log" &
        PEER_MAIN=$!
        wait_port "$port" "$PEER_MAIN" && wait_port "$pub" "$PEER_MAIN" ||
            { say "mosquitto: the broker did not listen (see $w/server.log)"; return 1; }
        node "$PEERS_DIR/mosquitto/publisher.js" --port "$pub" --topics "$channels" \
            >"$w/publisher.out" 2>"$w/publisher.log" &
        PEER_OTHERS=$!
        wait_line "$w/publisher.out" publishing "$PEER_OTHERS" ||
            { say "mosquitto: the MQTT publisher did not connect (see $w/publisher.log)"; return 1; }
        PEER_URL="ws://127.0.0.1:$port/"
        PEER_PIDS=$PEER_MAIN
        ;;
    nchan)
        PEER_PROTO=nchan
        port=$(free_port)
        sed "s|@PORT@|$port|; s|@WORK@|$w|g" "$PEERS_DIR/nchan/nchan.conf.in" >"$w/nchan.conf"
        nginx -p "$w/" -c "$w/nchan.conf" >"$w/server.out" 2>"$w/server.log" &
        PEER_MAIN=$!
        wait_port "$port" "$PEER_MAIN" ||
            { say "nchan: nginx did not listen (see $w/server.log and $w/nginx-error.log)"; return 1; }
        node "$PEERS_DIR/nchan/publisher.js" --port "$port" --channels "$channels" \
            >"$w/publisher.out" 2>"$w/publisher.log" &
        PEER_OTHERS=$!
        wait_line "$w/publisher.out" publishing "$PEER_OTHERS" ||
            { say "nchan: the publisher did not start (see $w/publisher.log)"; return 1; }
        PEER_URL="ws://127.0.0.1:$port/sub/$channels"
        PEER_PIDS=$(process_tree "$PEER_MAIN" | tr '\n' ' ')
        ;;
    pushpin)
        PEER_PROTO=pushpin
        local origin publish
        port=$(free_port) origin=$(free_port) publish=$(free_port)
        mkdir -p "$w/run" "$w/log"
        sed "s|@PORT@|$port|; s|@PUBLISH_PORT@|$publish|; s|@WORK@|$w|g" \
            "$PEERS_DIR/pushpin/pushpin.conf.in" >"$w/pushpin.conf"
        echo "* 127.0.0.1:$origin,over_http" >"$w/routes"
        node "$PEERS_DIR/pushpin/origin.js" --port "$origin" --publish-port "$publish" \
            --channels "$channels" >"$w/origin.out" 2>"$w/origin.log" &
        PEER_OTHERS=$!
        pushpin --config "$w/pushpin.conf" >"$w/server.out" 2>"$w/server.log" &
        PEER_MAIN=$!
        wait_port "$port" "$PEER_MAIN" && wait_port "$publish" "$PEER_MAIN" ||
            { say "pushpin: pushpin did not listen (see $w/server.log and $w/log)"; return 1; }
        wait_line "$w/origin.out" listening "$PEER_OTHERS" ||
            { say "pushpin: the origin did not start (see $w/origin.log)"; return 1; }
        PEER_URL="ws://127.0.0.1:$port/$channels"
        # condure, pushpin-proxy, pushpin-handler (and zurl if run): all
        # children of the runner.
        sleep 1
        PEER_PIDS=$(process_tree "$PEER_MAIN" | tr '\n' ' ')
        ;;
    *) say "no peer named $name"; return 1 ;;
    esac
}

# Stops the server (its main process, then whatever of its tree is left) and
# its helpers.
peer_stop() {
    local pid
    [ -n "$PEER_MAIN" ] && { stop_pid "$PEER_MAIN" 5 || say "$PEER_MAIN did not stop within 5 s; killed"; }
    for pid in $PEER_PIDS $PEER_OTHERS; do
        stop_pid "$pid" 3 || true
    done
    for pid in $PEER_MAIN $PEER_OTHERS; do
        wait "$pid" 2>/dev/null || true
    done
    PEER_MAIN="" PEER_PIDS="" PEER_OTHERS=""
}
