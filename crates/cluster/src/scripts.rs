//! `start.sh` and `stop.sh`: the whole kit on one machine, in the
//! background, with logs and process ids in `logs/`. Start order: the shared
//! broker (`--feed`), the nodes, the balancer; stop order the reverse.

use crate::feed;
use crate::plan::{Balancer, Plan};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// The folder of the processes' logs and process ids, in the kit.
pub const LOGS: &str = "logs";

/// One process the scripts run.
struct Process {
    /// Its file names in `logs/`: `<name>.log`, `<name>.pid`.
    name: String,
    /// Shell words: a variable holding the program's path, then arguments.
    command: Vec<String>,
    /// The sockets to wait for.
    listens: Vec<(Ipv4Addr, u16)>,
    /// How stop.sh ends it.
    signal: &'static str,
    /// Said before its `stop` line in stop.sh.
    stop_comment: Option<&'static str>,
}

/// The processes in start order, by group: a group starts once the one
/// before listens (the broker before any node reads it, every node before
/// the balancer checks them).
fn groups(p: &Plan) -> Vec<Vec<Process>> {
    let mut out = Vec::new();
    if let Some(f) = &p.feed {
        let mut command = vec!["\"$broker\"".to_owned()];
        command.extend(feed::server_args(f));
        out.push(vec![Process {
            name: feed::process_name(f).into(),
            command,
            listens: vec![(f.address, f.port)],
            signal: "TERM",
            stop_comment: Some("# Last: no node reads the broker any more."),
        }]);
    }
    let nodes = p.nodes.iter().map(|n| Process {
        name: n.name.clone(),
        command: vec![
            "\"$shoal\"".into(),
            "serve".into(),
            "--config".into(),
            format!("{}.xml", n.name),
        ],
        listens: n
            .listeners
            .iter()
            .map(|l| (p.reach(n, l), l.port))
            .collect(),
        signal: "INT",
        stop_comment: None,
    });
    out.push(nodes.collect());
    let command = match p.options.balancer {
        Balancer::Haproxy => vec!["\"$balancer\"", "-f", "haproxy.cfg"],
        Balancer::Nginx => vec!["\"$balancer\"", "-p", ".", "-c", "nginx.conf"],
    };
    out.push(vec![Process {
        name: p.options.balancer.as_str().into(),
        command: command.into_iter().map(String::from).collect(),
        listens: p.frontends.iter().map(|f| (f.address, f.port)).collect(),
        signal: "TERM",
        stop_comment: None,
    }]);
    out
}

/// Whether the process of `logs/NAME.pid` runs (a zombie does not); the
/// same in both scripts.
const ALIVE: &str = r#"# Whether the process of logs/$1.pid runs (a zombie does not).
alive() {
    local pid stat
    [ -f "logs/$1.pid" ] || return 1
    pid=$(cat "logs/$1.pid")
    kill -0 "$pid" 2>/dev/null || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}
"#;

const START_FUNCTIONS: &str = r#"# Prints the path of program $1: on PATH, or in an sbin folder (Debian puts
# haproxy, nginx and nats-server there, not on every user's PATH).
find_program() {
    local p
    for p in "$(command -v "$1" || true)" "/usr/local/sbin/$1" "/usr/sbin/$1" "/sbin/$1"; do
        if [ -n "$p" ] && [ -f "$p" ] && [ -x "$p" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Prints the path of program $1, or says which Debian package ($2) has it.
need() {
    find_program "$1" || {
        echo "start.sh: $1 is not installed: install the Debian package $2 (apt-get install $2)" >&2
        exit 1
    }
}

# Starts NAME ($1) with the command after it, in the background and in a
# session of its own (a Ctrl-C in this terminal does not reach it), unless
# it already runs.
start() {
    local name=$1
    shift
    if alive "$name"; then
        echo "$name already runs (pid $(cat "logs/$name.pid"))"
        return 0
    fi
    setsid "$@" </dev/null >>"logs/$name.log" 2>&1 &
    echo $! >"logs/$name.pid"
    echo "$name started: pid $!, log logs/$name.log"
}

# Waits until NAME ($1) accepts connections on address $2, port $3 (at most
# 20 s); stops here if it exited or never listened.
wait_for() {
    local i
    for ((i = 0; i < 200; i++)); do
        if (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null; then
            return 0
        fi
        alive "$1" || break
        sleep 0.1
    done
    echo "start.sh: $1 does not listen on $2:$3; the end of logs/$1.log:" >&2
    tail -n 20 "logs/$1.log" >&2
    echo "start.sh: ./stop.sh stops what did start" >&2
    exit 1
}
"#;

const STOP_FUNCTION: &str = r#"# Sends signal $2 to NAME ($1) and waits for it to exit (at most 20 s, then
# SIGKILL).
stop() {
    local pid i
    if ! alive "$1"; then
        rm -f "logs/$1.pid"
        return 0
    fi
    pid=$(cat "logs/$1.pid")
    kill "-$2" "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do
        alive "$1" || break
        sleep 0.1
    done
    if alive "$1"; then
        echo "$1 (pid $pid) did not stop within 20 s: killed"
        kill -KILL "$pid" 2>/dev/null
    else
        echo "$1 stopped"
    fi
    rm -f "logs/$1.pid"
}
"#;

/// What the kit runs, in words, in start order.
fn order(p: &Plan) -> String {
    let broker = p
        .feed
        .as_ref()
        .map(|f| format!("the {} of the shared feed, ", f.kind.title()))
        .unwrap_or_default();
    format!("{broker}the nodes, the balancer")
}

/// The README section a `--vrrp` kit's start.sh points at.
pub const VRRP_SECTION: &str = "Fail-over of the nodes' own addresses (keepalived)";

/// A `--vrrp` kit's start.sh: its nodes listen on every interface, so each
/// needs a host of its own; the script says so and where to read how.
fn start_refused(p: &Plan) -> String {
    format!(
        "#!/usr/bin/env bash\n\
         # The Shoal cluster kit for option {id}, made with --vrrp, does not run on one\n\
         # machine: its nodes listen on every interface (keepalived moves their public\n\
         # addresses between hosts), so each node needs a host of its own. See\n\
         # README.md, \"{VRRP_SECTION}\". Made by `shoal cluster-plan`.\n\
         echo \"start.sh: this kit (option {id}, --vrrp) runs one node per host, each with keepalived; it cannot start on one machine. See README.md, section \\\"{VRRP_SECTION}\\\".\" >&2\n\
         exit 1\n",
        id = p.topology.id
    )
}

pub fn start(p: &Plan) -> String {
    if p.options.vrrp {
        return start_refused(p);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#!/usr/bin/env bash\n\
         # Starts the Shoal cluster kit for option {} on this machine, in this order:\n\
         # {}.\n\
         # Each runs in the background, its output in {LOGS}/NAME.log and its process\n\
         # id in {LOGS}/NAME.pid; what already runs is left as it is. ./stop.sh stops\n\
         # them in the reverse order. Made by `shoal cluster-plan`.\n\
         #\n\
         # The shoal program: SHOAL=/path/to/shoal ./start.sh, else shoal on PATH.\n\
         set -euo pipefail\n\
         cd \"$(dirname \"$0\")\"\n",
        p.topology.id,
        order(p)
    );
    s.push_str(ALIVE);
    s.push('\n');
    s.push_str(START_FUNCTIONS);
    s.push_str(
        "\nshoal=$(find_program \"${SHOAL:-shoal}\") || {\n    \
         echo \"start.sh: ${SHOAL:-shoal} not found: put shoal on PATH or give SHOAL=/path/to/shoal\" >&2\n    \
         exit 1\n}\n",
    );
    if let Some(f) = &p.feed {
        let (program, package) = f.kind.server();
        let _ = writeln!(s, "broker=$(need {program} {package})");
    }
    let _ = writeln!(s, "balancer=$(need {0} {0})", p.options.balancer.as_str());
    if p.options.balancer == Balancer::Nginx && p.frontends.iter().any(|f| !f.http) {
        let _ = writeln!(
            s,
            "[ -f {0} ] || {{\n    \
             echo \"start.sh: nginx's stream module {0} is not installed: install the Debian package libnginx-mod-stream (apt-get install libnginx-mod-stream)\" >&2\n    \
             exit 1\n}}",
            crate::nginx::STREAM_MODULE
        );
    }
    let mut dirs = vec![LOGS.to_owned()];
    dirs.extend(p.feed.as_ref().map(|f| f.data_dir()));
    let _ = writeln!(s, "\nmkdir -p {}", dirs.join(" "));
    for group in groups(p) {
        s.push('\n');
        for pr in &group {
            let _ = writeln!(s, "start {} {}", pr.name, pr.command.join(" "));
        }
        for pr in &group {
            for (address, port) in &pr.listens {
                let _ = writeln!(s, "wait_for {} {address} {port}", pr.name);
            }
        }
    }
    let urls = p.public_urls().join(" or ");
    let ca = if p.https() { ", trusting ca.pem" } else { "" };
    let _ = writeln!(
        s,
        "\necho \"The kit runs: clients use {urls}{ca} (the names of ./hosts must resolve; see README.md). ./stop.sh stops it.\""
    );
    s
}

pub fn stop(p: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#!/usr/bin/env bash\n\
         # Stops what ./start.sh started, in the reverse order:\n\
         # {}.\n\
         # Made by `shoal cluster-plan`.\n\
         set -uo pipefail\n\
         cd \"$(dirname \"$0\")\"\n",
        reverse_order(p)
    );
    s.push_str(ALIVE);
    s.push('\n');
    s.push_str(STOP_FUNCTION);
    s.push('\n');
    let mut said_nodes = false;
    for pr in groups(p).iter().rev().flat_map(|g| g.iter().rev()) {
        if pr.signal == "INT" && !said_nodes {
            s.push_str(
                "# SIGINT: a node stops at once (SIGTERM would drain its sessions towards\n\
                 # the other nodes, which are stopping too).\n",
            );
            said_nodes = true;
        }
        if let Some(c) = pr.stop_comment {
            let _ = writeln!(s, "{c}");
        }
        let _ = writeln!(s, "stop {} {}", pr.name, pr.signal);
    }
    s
}

fn reverse_order(p: &Plan) -> String {
    let broker = p
        .feed
        .as_ref()
        .map(|f| format!(", then the {} of the shared feed", f.kind.title()))
        .unwrap_or_default();
    format!("the balancer, the nodes{broker}")
}
