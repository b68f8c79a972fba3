//! The shared feed of a kit (`--feed redis|nats`): one broker for every
//! node, the adapter set `FEED` that reads it, and how to publish to it.

use crate::plan::{Feed, FeedPlan, Plan};
use std::fmt::Write;

/// The folder of adapter sets every node's `<adapters_dir>` names.
pub const ADAPTERS_DIR: &str = "adapters";
/// The adapter set served from the broker.
pub const ADAPTER_SET: &str = "FEED";
/// Redis: item `X` is the stream `shoal:X`.
pub const STREAM_PREFIX: &str = "shoal:";
/// NATS: item `X` is the subject `shoal.X` ...
pub const SUBJECT_PREFIX: &str = "shoal";
/// ... of this JetStream stream.
pub const NATS_STREAM: &str = "SHOAL";
/// The metadata adapter of `FEED`: item and field names as the client
/// writes them.
const LITERAL_BASED_PROVIDER: &str = "com.lightstreamer.adapters.metadata.LiteralBasedProvider";

/// The adapters.xml of `FEED`, relative to the kit.
pub fn adapters_file() -> String {
    format!("{ADAPTERS_DIR}/{ADAPTER_SET}/adapters.xml")
}

/// The broker's name in the kit's scripts and logs (`logs/<name>.log`).
pub fn process_name(f: &FeedPlan) -> &'static str {
    f.kind.as_str()
}

/// The broker's arguments, run from the kit's folder (after the program of
/// `Feed::server`).
pub fn server_args(f: &FeedPlan) -> Vec<String> {
    match f.kind {
        Feed::Redis => vec![
            "--bind".into(),
            f.address.to_string(),
            "--port".into(),
            f.port.to_string(),
            "--dir".into(),
            f.data_dir(),
            // Every entry is written to the append-only file before it is
            // acknowledged (fsync every second): a restart keeps them.
            "--appendonly".into(),
            "yes".into(),
        ],
        Feed::Nats => vec![
            "-js".into(),
            "-a".into(),
            f.address.to_string(),
            "-p".into(),
            f.port.to_string(),
            "-sd".into(),
            f.data_dir(),
        ],
    }
}

/// `adapters/FEED/adapters.xml`: the same file for every node.
pub fn adapters_xml(p: &Plan, f: &FeedPlan) -> String {
    let mut s = String::new();
    let what = match f.kind {
        Feed::Redis => format!("item X is the Redis stream {STREAM_PREFIX}X"),
        Feed::Nats => format!(
            "item X is the subject {SUBJECT_PREFIX}.X of the JetStream stream {NATS_STREAM}"
        ),
    };
    let _ = writeln!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!-- Adapter set {ADAPTER_SET} of a Shoal cluster: clustering guide option {}.\n     \
         Made by `shoal cluster-plan --feed {}`. Every node has this same file: they\n     \
         all serve the items of the kit's one broker ({what}). -->\n\
         <adapters_conf id=\"{ADAPTER_SET}\">\n  \
         <metadata_provider>\n    \
         <adapter_class>{}</adapter_class>\n  \
         </metadata_provider>\n  \
         <data_provider name=\"DEFAULT\">\n    \
         <adapter_class>{}</adapter_class>\n    \
         <param name=\"url\">{}</param>",
        p.topology.id,
        f.kind.as_str(),
        LITERAL_BASED_PROVIDER,
        f.kind.adapter_class(),
        f.url()
    );
    match f.kind {
        Feed::Redis => {
            let _ = writeln!(
                s,
                "    <param name=\"stream_prefix\">{STREAM_PREFIX}</param>"
            );
        }
        Feed::Nats => {
            let _ = writeln!(
                s,
                "    <param name=\"subject_prefix\">{SUBJECT_PREFIX}</param>\n    \
                 <param name=\"stream\">{NATS_STREAM}</param>"
            );
        }
    }
    let _ = writeln!(
        s,
        "    <!-- POST /publish with \"Authorization: Bearer\" and this token (new for each kit). -->\n    \
         <param name=\"publish_token\">{}</param>\n  \
         </data_provider>\n\
         </adapters_conf>",
        f.publish_token
    );
    s
}

/// The publish request of the README, through the balancer's public
/// address (curl's `--resolve` stands in for the hosts lines).
pub fn publish_curl(p: &Plan, f: &FeedPlan) -> String {
    let url = p.public_urls().into_iter().next().unwrap_or_default();
    let host = format!("push.{}", p.domains.first().map_or("", String::as_str));
    let port = if p.https() {
        p.options.https_port
    } else {
        p.options.http_port
    };
    let resolve = p
        .address_of(&host)
        .map(|a| format!(" --resolve {host}:{port}:{a}"))
        .unwrap_or_default();
    let ca = if p.https() { " --cacert ca.pem" } else { "" };
    format!(
        "curl -sS{resolve}{ca} -X POST {url}/publish \\\n     \
         -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n     \
         -d '{{\"adapter_set\":\"{ADAPTER_SET}\",\"item\":\"chat\",\"fields\":{{\"message\":\"hello\"}}}}'",
        f.publish_token
    )
}

/// The same update written straight to the broker.
pub fn publish_direct(f: &FeedPlan) -> String {
    match f.kind {
        Feed::Redis => format!(
            "redis-cli -h {} -p {} XADD {STREAM_PREFIX}chat '*' message hello",
            f.address, f.port
        ),
        Feed::Nats => format!(
            "nats --server {} pub {SUBJECT_PREFIX}.chat '{{\"message\":\"hello\"}}'",
            f.url()
        ),
    }
}

/// The README's "Shared feed" section.
pub fn readme_section(p: &Plan, f: &FeedPlan) -> String {
    let mut s = String::from("\n## Shared feed\n\n");
    let (program, package) = f.kind.server();
    let broker = match f.kind {
        Feed::Redis => "Redis",
        Feed::Nats => "NATS JetStream",
    };
    let _ = writeln!(
        s,
        "Made with `--feed {}`: besides its own `DEMO` data, every node serves the \
         items of the adapter set `{ADAPTER_SET}` from the kit's one broker, {broker} at \
         `{}` (`{program}`, Debian package `{package}`; data in `{}/`, log in \
         `logs/{}.log`). An update published once reaches the clients of every node, \
         and a client that moves to another node (fail over, drain) finds the same \
         items there, snapshots included. Clients subscribe with adapter set \
         `{ADAPTER_SET}` and any item and field names.\n",
        f.kind.as_str(),
        f.url(),
        f.data_dir(),
        process_name(f)
    );
    match f.kind {
        Feed::Redis => {
            let _ = writeln!(
                s,
                "Item `X` is the Redis stream `{STREAM_PREFIX}X`; each entry's fields are \
                 the update's fields, and the item's last entries are its snapshot."
            );
        }
        Feed::Nats => {
            let _ = writeln!(
                s,
                "Item `X` is the subject `{SUBJECT_PREFIX}.X` of the JetStream stream \
                 `{NATS_STREAM}` (the nodes create the stream, subjects `{SUBJECT_PREFIX}.>`, \
                 when it does not exist); each message is an update, and the item's last \
                 messages are its snapshot."
            );
        }
    }
    let _ = writeln!(
        s,
        "\nPublish through the balancer (any node takes it and writes it to the broker; \
         the token is this kit's `publish_token`, the same in every node's \
         `{}`):\n\n```sh\n{}\n```\n\n\
         The answer names the broker's position of the new entry: \
         `{{\"item\":\"chat\",\"position\":\"...\"}}`. With the `hosts` lines in \
         `/etc/hosts`, `--resolve` can go.",
        adapters_file(),
        publish_curl(p, f)
    );
    match f.kind {
        Feed::Redis => {
            let _ = writeln!(
                s,
                "\nOr write to Redis yourself (`redis-cli` is in the Debian package \
                 `redis-tools`):\n\n```sh\n{}\n```",
                publish_direct(f)
            );
        }
        Feed::Nats => {
            let _ = writeln!(
                s,
                "\nOr publish to NATS yourself, a JSON object of fields as the message \
                 (`nats` is the NATS project's CLI, natscli; Debian has no package of it), \
                 once a node has created the stream:\n\n```sh\n{}\n```",
                publish_direct(f)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nWhen the broker stops or restarts, the nodes keep their sessions and \
         subscriptions: the items of `{ADAPTER_SET}` just get no updates meanwhile, and \
         `POST /publish` answers 503. Once the broker is back, the nodes resume reading \
         it, and since its entries are on disk (`{}/`) nothing published before is lost. \
         To try it: `kill $(cat logs/{}.pid)`, then `./start.sh` (it starts what is not \
         running).\n\n\
         `start.sh` starts the broker before the nodes and `stop.sh` stops it after \
         them. In production, run the broker (or a cluster of them) on a machine of its \
         own and change `url` in every node's `{}`.",
        f.data_dir(),
        process_name(f),
        adapters_file()
    );
    s
}
