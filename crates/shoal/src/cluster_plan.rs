//! `shoal cluster-plan`: writes a cluster kit for one option of the
//! clustering guide.

use anyhow::Context;
use shoal_cluster::{kit, plan, readme, topology, CaSource, Options};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The guide's option: 1.A.1, 1.A.2, 1.B.1, 1.B.2, 2.A.1, 2.A.2, 2.B.1.1 ..
    /// 2.B.2.4, or 4 (direct instance access). --list shows them.
    #[arg(long, required_unless_present_any = ["list", "docs"])]
    topology: Option<String>,
    /// The option's multihosting variant (a second domain).
    #[arg(long)]
    multihosting: bool,
    /// Number of nodes (2 to 9).
    #[arg(long, default_value_t = 2)]
    nodes: usize,
    /// Folder to write the kit into (created; an earlier kit there is replaced).
    #[arg(long, required_unless_present_any = ["list", "docs"])]
    out: Option<PathBuf>,
    /// Domain of the public names (push.DOMAIN, push1.DOMAIN, ...).
    #[arg(long, default_value = "example.test")]
    domain: String,
    /// Second domain, with --multihosting.
    #[arg(long, default_value = "example2.test")]
    other_domain: String,
    /// First three octets of every address of the kit (127.0.10 runs on one machine).
    #[arg(long, default_value = "127.0.10", value_parser = parse_network)]
    network: [u8; 3],
    /// HTTP port of the balancer and the nodes.
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    http_port: u16,
    /// HTTPS port of the balancer and the nodes.
    #[arg(long, default_value_t = 8443, value_parser = clap::value_parser!(u16).range(1..))]
    https_port: u16,
    /// Second HTTPS port of a node, where the option needs two listeners on one address.
    #[arg(long, default_value_t = 8444, value_parser = clap::value_parser!(u16).range(1..))]
    https_port2: u16,
    /// The balancer to configure.
    #[arg(long, value_enum, default_value_t = Balancer::Haproxy)]
    balancer: Balancer,
    /// `off`: the balancer refuses WebSocket (to see clients fall back to HTTP).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    balancer_websocket: OnOff,
    /// Password of the generated PKCS12 keystores.
    #[arg(long, default_value = "shoal-kit")]
    keystore_password: String,
    /// Run one broker for the whole kit (redis-server or nats-server -js)
    /// and give every node the adapter set FEED that serves its items, with
    /// POST /publish enabled by a token made for the kit.
    #[arg(long, value_enum, value_name = "BROKER")]
    feed: Option<FeedArg>,
    /// keepalived (VRRP) moves a dead node's public address to a live node,
    /// which takes its clients' sessions over: one keepalived/nodeK.conf per
    /// node host; the nodes listen on every interface. For the options whose
    /// control link names a node's own address (1.B.2, 2.B.1.2, 2.B.1.4,
    /// 2.B.2.2, 2.B.2.4).
    #[arg(long)]
    vrrp: bool,
    /// The node hosts' network interface that holds their addresses, with --vrrp.
    #[arg(long, default_value = "eth0", value_name = "IFACE", requires = "vrrp")]
    vrrp_interface: String,
    /// The origin of web pages of another site that use the kit, e.g.
    /// https://www.partner.example (repeat for more). Pages of the kit's
    /// own domains (any host) are allowed without it.
    #[arg(long, value_name = "ORIGIN")]
    page_origin: Vec<String>,
    /// Sign the certificates with this CA (PEM) instead of a new test CA.
    #[arg(long, requires = "ca_key", value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// The key of --ca-cert (PEM).
    #[arg(long, requires = "ca_cert", value_name = "PEM")]
    ca_key: Option<PathBuf>,
    /// List the options and exit.
    #[arg(long)]
    list: bool,
    /// Print the reference of every option (the generated part of
    /// docs/clustering.md) and exit.
    #[arg(long)]
    docs: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Balancer {
    Haproxy,
    /// Open-source nginx (the cookie options' cookie made with maps).
    Nginx,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FeedArg {
    /// Redis Streams (Debian package redis-server).
    Redis,
    /// NATS JetStream (Debian package nats-server).
    Nats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

fn parse_network(s: &str) -> Result<[u8; 3], String> {
    let parts: Vec<_> = s.split('.').map(str::parse::<u8>).collect();
    match parts.as_slice() {
        [Ok(a), Ok(b), Ok(c)] => Ok([*a, *b, *c]),
        _ => Err(format!(
            "'{s}' is not three octets like 127.0.10 (the kit adds the fourth)"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.docs {
        println!("{}", shoal_cluster::docs::BEGIN);
        print!("{}", shoal_cluster::docs::reference()?);
        println!("{}", shoal_cluster::docs::END);
        return Ok(());
    }
    if args.list {
        for t in topology::TOPOLOGIES {
            let mh = if t.multihosting {
                " [--multihosting]"
            } else {
                ""
            };
            println!("{:8} {}{mh}", t.id, t.title);
        }
        return Ok(());
    }
    let (Some(topology), Some(out)) = (args.topology, args.out) else {
        anyhow::bail!("--topology and --out are required");
    };
    let opts = Options {
        topology,
        multihosting: args.multihosting,
        nodes: args.nodes,
        domain: args.domain,
        other_domain: args.other_domain,
        network: args.network,
        http_port: args.http_port,
        https_port: args.https_port,
        https_port2: args.https_port2,
        balancer_websocket: args.balancer_websocket == OnOff::On,
        keystore_password: args.keystore_password,
        balancer: match args.balancer {
            Balancer::Haproxy => shoal_cluster::Balancer::Haproxy,
            Balancer::Nginx => shoal_cluster::Balancer::Nginx,
        },
        feed: args.feed.map(|f| match f {
            FeedArg::Redis => shoal_cluster::Feed::Redis,
            FeedArg::Nats => shoal_cluster::Feed::Nats,
        }),
        vrrp: args.vrrp,
        vrrp_interface: args.vrrp_interface,
        page_origins: args.page_origin,
    };
    let plan = plan(&opts)?;
    let ca = match (args.ca_cert, args.ca_key) {
        (Some(cert), Some(key)) => CaSource::Files { cert, key },
        _ => CaSource::Generate,
    };
    let files = kit::write(&plan, &out, &ca)
        .with_context(|| format!("cannot write the kit into {}", out.display()))?;
    println!(
        "kit for option {} ({}) written to {}:",
        plan.topology.id,
        plan.topology.title,
        out.display()
    );
    for f in files {
        println!("  {f}");
    }
    println!("\n{}", readme::route_table(&plan));
    if let Some(f) = &plan.feed {
        println!(
            "Shared feed: {} at {}; publish token {} (see README.md, Shared feed).",
            f.kind.as_str(),
            f.url(),
            f.publish_token
        );
    }
    if plan.options.vrrp {
        println!(
            "Next: see {}/README.md (host names, one host per node with its keepalived/nodeK.conf).",
            out.display()
        );
    } else {
        println!(
            "Next: see {}/README.md (host names, then ./start.sh).",
            out.display()
        );
    }
    Ok(())
}
