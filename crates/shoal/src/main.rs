//! The `shoal` command.

/// jemalloc, with its background threads, gives memory freed by ended
/// sessions back to the system within seconds; glibc's malloc kept much of
/// it (see docs/limits.md, "Memory coming back").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod adapters;
mod broker;
mod check;
mod check_adapters;
mod cluster_plan;
mod console;
mod discovery;
mod drain;
mod handoff;
mod literal;
mod logs;
mod remote;
mod settings;
mod tls;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shoal_engine::{Engine, EngineConfig};
use shoal_transport::{serve, Handshakes, ListenerConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
#[command(
    name = "shoal",
    version,
    about = "A Lightstreamer-compatible (TLCP 2.5) push server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve TLCP over HTTP and WebSocket. With no options: 0.0.0.0:8080 and
    /// the embedded demo adapter set DEMO.
    Serve(ServeArgs),
    /// Check a lightstreamer_conf.xml and the adapters.xml files of its
    /// adapter sets: print the listeners, control-link settings and adapter
    /// sets they give, or the first error with its file, element and line.
    CheckConfig {
        /// The configuration file.
        #[arg(required_unless_present = "adapters_dir")]
        file: Option<PathBuf>,
        /// A folder of adapter sets (one folder with an adapters.xml each);
        /// overrides <adapters_dir> of the file.
        #[arg(long, value_name = "DIR")]
        adapters_dir: Option<PathBuf>,
    },
    /// Write a cluster kit for one option of the clustering guide: balancer
    /// and node configurations, certificates, host names and a README.
    ClusterPlan(cluster_plan::Args),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A lightstreamer_conf.xml to run with (listeners, timings, control
    /// link); without it, the defaults and --listen.
    #[arg(long, value_name = "FILE", conflicts_with = "listen")]
    config: Option<PathBuf>,
    /// A folder of adapter sets (one folder with an adapters.xml each);
    /// overrides <adapters_dir> of --config. A set named DEMO replaces the
    /// embedded demo.
    #[arg(long, value_name = "DIR")]
    adapters_dir: Option<PathBuf>,
    /// Address to listen on, ADDR:PORT (repeatable). Port 0 picks a free port.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Most sessions held at once; more are refused with error 8.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions: Option<u32>,
    /// Longest wait for a request (headers, body; before the first request
    /// and between kept-alive ones), in milliseconds; 0: no limit. Overrides
    /// <read_timeout_millis>; default 20000.
    #[arg(long, value_name = "MILLIS")]
    read_timeout_millis: Option<u64>,
    /// Longest time a write may make no progress (a client that stopped
    /// reading), in milliseconds; 0: no limit. Overrides
    /// <write_timeout_millis>; default 120000.
    #[arg(long, value_name = "MILLIS")]
    write_timeout_millis: Option<u64>,
    /// On SIGTERM, seconds between the health check turning 503 and the
    /// first session being moved (time for the balancer to notice).
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0, value_parser = seconds)]
    drain_grace: f64,
    /// On SIGTERM, seconds over which the sessions are moved to other nodes
    /// (ended with END 48, one after the other); 0 with --drain-grace 0
    /// exits at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = seconds)]
    drain_window: f64,
    /// Log level or filter (e.g. info, debug, shoal_engine=trace); RUST_LOG
    /// is used when this is not given.
    #[arg(long)]
    log_level: Option<String>,
    /// How long a stream may hold updates to send more of them per write,
    /// in milliseconds; 0: none. Overrides <max_delay_millis>; default 0.
    #[arg(long, value_name = "MILLIS")]
    max_delay_millis: Option<u64>,
    /// Also serve the TEST adapter set, which the official clients' own test
    /// suite (TestClient) runs against; a set named TEST in the adapters
    /// folder wins over it.
    #[arg(long)]
    test_adapters: bool,
    /// Threads that run sessions and connections; default: one per core.
    /// Fan-out spreads over all of them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    worker_threads: Option<u16>,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds from 0 to 3600")),
    }
}

fn main() -> ExitCode {
    match run_cli(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message names the file, element and line where it applies;
            // a backtrace would only hide it. A closed standard error must
            // not turn the error into a panic.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let logs = logs::init(args.log_level.as_deref())?;
            let mut rt = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = args.worker_threads {
                rt.worker_threads(usize::from(n));
            }
            let rt = rt
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let result = rt.block_on(async {
                logs.spawn_drop_reporter();
                run(args).await
            });
            // Connections still open end with the runtime.
            rt.shutdown_timeout(Duration::from_millis(100));
            logs.finish();
            result
        }
        Command::CheckConfig { file, adapters_dir } => {
            check::run(file.as_deref(), adapters_dir.as_deref())
        }
        Command::ClusterPlan(args) => cluster_plan::run(args),
    }
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before any listener is announced: a SIGTERM sent as soon as one is
    // must drain, not kill the process.
    let mut signals = Signals::install().context("cannot install the signal handlers")?;
    let timeouts = |conf: Option<&shoal_config::SocketTimeouts>| {
        let mut t = conf.copied().unwrap_or_default();
        t.read_millis = args.read_timeout_millis.or(t.read_millis);
        t.write_millis = args.write_timeout_millis.or(t.write_millis);
        settings::timeouts(&t)
    };
    let (config, plans, file, sets, console) = match &args.config {
        Some(file) => {
            let loaded = shoal_config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let mut config = settings::engine_config(&loaded.config)
                .with_context(|| format!("{}", file.display()))?;
            if let Some(n) = args.max_sessions {
                config.max_sessions = n as usize;
            }
            if let Some(ms) = args.max_delay_millis {
                config.max_delay = Duration::from_millis(ms);
            }
            let mut plans = settings::listeners(&loaded.config);
            let t = timeouts(Some(&loaded.config.timeouts));
            for p in &mut plans {
                p.conf.timeouts = t;
            }
            let sets = adapters::load(
                Some((file.as_path(), &loaded.config)),
                args.adapters_dir.as_deref(),
            )?;
            let console = console::Plan::new(Some(&loaded.config), sets.as_ref())?;
            for p in &mut plans {
                console.mount(Some(&loaded.config), &mut p.conf);
            }
            (config, plans, file, sets, console)
        }
        None => {
            let mut config = EngineConfig::default();
            if let Some(n) = args.max_sessions {
                config.max_sessions = n as usize;
            }
            if let Some(ms) = args.max_delay_millis {
                config.max_delay = Duration::from_millis(ms);
            }
            let addrs = if args.listen.is_empty() {
                vec![SocketAddr::from(([0, 0, 0, 0], 8080))]
            } else {
                args.listen.clone()
            };
            // Without a configuration file every origin is allowed, as in
            // Lightstreamer's factory configuration.
            let sets = adapters::load(None, args.adapters_dir.as_deref())?;
            let mut conf = ListenerConfig {
                timeouts: timeouts(None),
                origins: shoal_transport::OriginPolicy::allow_all(),
                demo_pages: adapters::serves_embedded_demo(sets.as_ref()),
                ..ListenerConfig::default()
            };
            let console = console::Plan::new(None, sets.as_ref())?;
            console.mount(None, &mut conf);
            let plans = addrs
                .into_iter()
                .map(|addr| (addr, conf.clone(), Handshakes::default()))
                .collect::<Vec<_>>();
            warn_all(sets.as_ref());
            let Some(sets) = start_sets(sets, args.test_adapters, &mut signals).await? else {
                return Ok(());
            };
            return serve_all(config, sets, plans, console, drain_of(&args), signals).await;
        }
    };
    // The demo front-ends are served where the user has no pages of their
    // own, and only with the adapters they use.
    let demo = adapters::serves_embedded_demo(sets.as_ref());
    let mut ready = Vec::with_capacity(plans.len());
    for mut p in plans {
        p.conf.demo_pages = demo && p.conf.pages_dir.is_none();
        let handshakes = Handshakes {
            proxy_protocol: p.source.proxy_protocol.then(|| {
                Duration::from_millis(p.source.proxy_protocol_timeout_millis.unwrap_or(1000))
            }),
            tls: match &p.source.keystore {
                Some(k) if p.source.secure => Some(tls::acceptor(file, &p.source, k)?),
                _ => None,
            },
        };
        ready.push((p.addr, p.conf, handshakes));
    }
    let plans = ready;
    warn_all(sets.as_ref());
    let Some(sets) = start_sets(sets, args.test_adapters, &mut signals).await? else {
        return Ok(());
    };
    serve_all(config, sets, plans, console, drain_of(&args), signals).await
}

/// Starts the adapter sets. The start may wait for remote adapters (for
/// ever, for a plain proxy): a stop signal meanwhile ends the run (`None`),
/// before any listener opens.
async fn start_sets(
    sets: Option<shoal_config::AdapterSets>,
    test_adapters: bool,
    signals: &mut Signals,
) -> anyhow::Result<Option<Vec<shoal_adapter::AdapterSet>>> {
    tokio::select! {
        started = adapters::engine_sets(sets, test_adapters) => started.map(Some),
        stop = signals.next() => {
            tracing::info!(signal = ?stop, "stopped while waiting for remote adapters");
            Ok(None)
        }
    }
}

/// Logs the warnings of the adapters.xml files.
fn warn_all(sets: Option<&shoal_config::AdapterSets>) {
    for w in sets.map(|s| s.warnings.as_slice()).unwrap_or_default() {
        tracing::warn!("{w}");
    }
}

fn drain_of(args: &ServeArgs) -> drain::Drain {
    drain::Drain {
        grace: Duration::from_secs_f64(args.drain_grace),
        window: Duration::from_secs_f64(args.drain_window),
    }
}

/// A listener to open: its address, settings, and what its connections go
/// through before HTTP (PROXY header, TLS).
type Plan = (SocketAddr, ListenerConfig, Handshakes);

async fn serve_all(
    config: EngineConfig,
    mut adapter_sets: Vec<shoal_adapter::AdapterSet>,
    plans: Vec<Plan>,
    console: console::Plan,
    drain: drain::Drain,
    mut signals: Signals,
) -> anyhow::Result<()> {
    // Bound first: the MONITOR set tells the addresses actually bound.
    let mut bound = Vec::with_capacity(plans.len());
    for (addr, conf, handshakes) in plans {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (listener '{}')", conf.server_name)
        })?;
        let local = listener.local_addr().context("listener has no address")?;
        let scheme = if handshakes.tls.is_some() {
            "https"
        } else {
            "http"
        };
        bound.push((listener, local, scheme, conf, handshakes));
    }
    let shown: Vec<_> = bound.iter().map(|b| (&b.3, b.1, b.2)).collect();
    let (monitor, monitor_set) = console.monitor(&shown, &adapter_sets);
    adapter_sets.push(monitor_set);
    let names: Vec<String> = adapter_sets.iter().map(|s| s.name.clone()).collect();
    let names = names.join(", ");
    let engine = Engine::new(config, adapter_sets);
    let _reaper = engine.spawn_reaper();
    let _sampler = monitor.start(&engine);
    console.attach(&monitor);
    discovery::start(&monitor);
    let listening: Vec<SocketAddr> = bound.iter().map(|b| b.1).collect();
    handoff::start(&engine, &monitor.node_name(), &listening).await;
    let mut servers = tokio::task::JoinSet::new();
    for (listener, local, scheme, conf, handshakes) in bound {
        // Tests and scripts read this line to learn the port.
        logs::announce(&format!("listening on {scheme}://{local}"));
        if conf.demo_pages {
            logs::announce(&format!("demo pages at {scheme}://{}/", browsable(local)));
        }
        if let Some(c) = &conf.console {
            tracing::info!(name = %conf.server_name, "monitor console at {scheme}://{}{}/", browsable(local), c.access.path);
        }
        tracing::info!(%local, name = %conf.server_name, port_type = conf.port_type.as_str(), adapter_sets = %names, "serving TLCP over HTTP and WebSocket");
        let engine = engine.clone();
        servers.spawn(async move {
            serve(listener, handshakes, engine, conf)
                .await
                .map_err(anyhow::Error::from)
        });
    }
    tokio::select! {
        Some(res) = servers.join_next() => return Err(listener_ended(res)),
        stop = signals.next() => {
            if stop == Stop::Interrupt {
                tracing::info!(sessions = engine.session_count(), "interrupted: shutting down");
                return Ok(());
            }
        }
    }
    let nothing_to_move = engine.session_count() == 0;
    if nothing_to_move || (drain.grace.is_zero() && drain.window.is_zero()) {
        tracing::info!(sessions = engine.session_count(), "shutting down");
        return Ok(());
    }
    // A second signal cuts the drain short.
    tokio::select! {
        _ = drain::run(&engine, drain) => {}
        _ = signals.next() => {
            tracing::info!(sessions = engine.session_count(), "drain cut short by a second signal");
        }
        Some(res) = servers.join_next() => return Err(listener_ended(res)),
    }
    Ok(())
}

/// `local` as a browser on this machine can open it: a listener on every
/// interface (`0.0.0.0`, `::`) is reached through the loopback address.
fn browsable(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, local.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, local.port()))
        }
        _ => local,
    }
}

/// A listener task ended while the server runs: always an error.
fn listener_ended(res: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match res {
        Err(e) => anyhow::Error::new(e).context("listener task failed"),
        Ok(Err(e)) => e,
        Ok(Ok(())) => anyhow::anyhow!("a listener stopped unexpectedly"),
    }
}

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Ctrl-C: stop now.
    Interrupt,
    /// SIGTERM (service managers, rolling restarts): drain first.
    Terminate,
}

/// The signals that stop the server, caught from [`Signals::install`] on:
/// one that arrives before anything waits for it is kept, not lost.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next stop signal.
    async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Stop::Interrupt,
                _ = self.term.recv() => Stop::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupt
        }
    }
}
