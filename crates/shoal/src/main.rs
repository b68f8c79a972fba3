//! The `shoal` command.

/// jemalloc, with its background threads, gives memory freed by ended
/// sessions back to the system within seconds; glibc's malloc kept much of
/// it (see docs/limits.md, "Memory coming back").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod check;
mod cluster_plan;
mod drain;
mod settings;
mod tls;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shoal_engine::{Engine, EngineConfig};
use shoal_transport::{router, serve, serve_with, Handshakes, ListenerConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

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
    /// Check a lightstreamer_conf.xml: print the listeners and control-link
    /// settings it gives, or the first error with its element and line.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
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
    /// Address to listen on, ADDR:PORT (repeatable). Port 0 picks a free port.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Most sessions held at once; more are refused with error 8.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions: Option<u32>,
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
            // a backtrace would only hide it.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            init_logs(args.log_level.as_deref())?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(run(args))
        }
        Command::CheckConfig { file } => check::run(&file),
        Command::ClusterPlan(args) => cluster_plan::run(args),
    }
}

fn init_logs(level: Option<&str>) -> anyhow::Result<()> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).with_context(|| format!("invalid --log-level '{l}'"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (config, plans, file) = match &args.config {
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
            let plans = settings::listeners(&loaded.config);
            (config, plans, file)
        }
        None => {
            let mut config = EngineConfig::default();
            if let Some(n) = args.max_sessions {
                config.max_sessions = n as usize;
            }
            let addrs = if args.listen.is_empty() {
                vec![SocketAddr::from(([0, 0, 0, 0], 8080))]
            } else {
                args.listen.clone()
            };
            let plans = addrs
                .into_iter()
                .map(|addr| (addr, ListenerConfig::default(), Handshakes::default()))
                .collect::<Vec<_>>();
            return serve_all(config, plans, drain_of(&args)).await;
        }
    };
    let mut ready = Vec::with_capacity(plans.len());
    for p in plans {
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
    serve_all(config, plans, drain_of(&args)).await
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
    plans: Vec<Plan>,
    drain: drain::Drain,
) -> anyhow::Result<()> {
    let engine = Engine::new(config, vec![shoal_demo::adapter_set()]);
    let _reaper = engine.spawn_reaper();
    let mut servers = tokio::task::JoinSet::new();
    for (addr, conf, handshakes) in plans {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (listener '{}')", conf.server_name)
        })?;
        let local = listener.local_addr().context("listener has no address")?;
        // Tests and scripts read this line to learn the port.
        let scheme = if handshakes.tls.is_some() {
            "https"
        } else {
            "http"
        };
        println!("listening on {scheme}://{local}");
        tracing::info!(%local, name = %conf.server_name, port_type = conf.port_type.as_str(), "serving TLCP over HTTP and WebSocket, adapter set DEMO");
        let app = router(engine.clone(), conf);
        servers.spawn(async move {
            if handshakes.tls.is_none() && handshakes.proxy_protocol.is_none() {
                serve(listener, app).await
            } else {
                serve_with(listener, handshakes, app).await
            }
            .map_err(anyhow::Error::from)
        });
    }
    tokio::select! {
        Some(res) = servers.join_next() => return Err(listener_ended(res)),
        stop = shutdown_signal() => {
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
        _ = shutdown_signal() => {
            tracing::info!(sessions = engine.session_count(), "drain cut short by a second signal");
        }
        Some(res) = servers.join_next() => return Err(listener_ended(res)),
    }
    Ok(())
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

async fn shutdown_signal() -> Stop {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => Stop::Interrupt,
                _ = term.recv() => Stop::Terminate,
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                Stop::Interrupt
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Stop::Interrupt
    }
}
