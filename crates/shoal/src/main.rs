//! The `shoal` command.

mod check;
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
    /// Log level or filter (e.g. info, debug, shoal_engine=trace); RUST_LOG
    /// is used when this is not given.
    #[arg(long)]
    log_level: Option<String>,
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
            return serve_all(config, plans).await;
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
    serve_all(config, plans).await
}

/// A listener to open: its address, settings, and what its connections go
/// through before HTTP (PROXY header, TLS).
type Plan = (SocketAddr, ListenerConfig, Handshakes);

async fn serve_all(config: EngineConfig, plans: Vec<Plan>) -> anyhow::Result<()> {
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
        Some(res) = servers.join_next() => {
            res.context("listener task failed")??;
            anyhow::bail!("a listener stopped unexpectedly")
        }
        _ = shutdown_signal() => {
            tracing::info!(sessions = engine.session_count(), "shutting down");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
