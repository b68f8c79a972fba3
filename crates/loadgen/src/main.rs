//! `shoal-load`: opens many TLCP sessions over WebSocket, subscribes each to
//! the same `COUNTER` items of the demo adapter set, and measures what
//! arrives: updates per second against the rate asked for, end-to-end
//! latency from the `ts` field, and gaps or repeats in `seq`. With
//! `--server-pid` it also samples the server's memory and CPU time, and with
//! `--remote-pid` the CPU time of the remote adapters feeding it.
//!
//! Items fed from outside (`--feed-rate`, a broker written to by `shoal-load
//! produce`) take any names; `--broker-pid` and `--producer-pid` report the
//! broker's and the producer's CPU time apart from the server's.

mod connect;
mod floor;
mod peer;
mod procfs;
mod produce;
mod report;
mod session;
mod stats;
mod storm;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use report::Summary;
use session::{Plan, Report, Shared};
use shoal_demo::{parse_rate, MAX_RATE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

#[derive(Debug, Parser)]
#[command(
    name = "shoal-load",
    version,
    about = "TLCP load generator: many WebSocket sessions subscribed to COUNTER items",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Server address: ws://HOST:PORT[/lightstreamer] or http://HOST:PORT
    /// (as `shoal serve` prints it). With another --protocol than tlcp, the
    /// WebSocket URL of the peer's subscription, used as it is.
    #[arg(long, default_value = "ws://127.0.0.1:8080/lightstreamer")]
    url: String,
    /// Sessions to open, one WebSocket each.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sessions: u32,
    /// Items each session subscribes: rate-R, rate-(R+1), ..., so that they
    /// are K distinct items.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    items: u32,
    /// Updates per second of the first item (R).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_RATE))]
    rate: u64,
    /// The items by name instead (rate-N, comma-separated); overrides
    /// --items and --rate.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["items", "rate"])]
    item_names: Vec<String>,
    /// The items of --item-names are fed from outside (a producer writing
    /// to a broker, `shoal-load produce`) at this many updates a second
    /// each: they may have any names, and this is what each session
    /// expects of each.
    #[arg(long, requires = "item_names", conflicts_with_all = ["idle", "storm"],
          value_parser = clap::value_parser!(u64).range(1..))]
    feed_rate: Option<u64>,
    /// Subscription mode.
    #[arg(long, value_enum, default_value_t = Mode::Raw, ignore_case = true)]
    mode: Mode,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds after every session is subscribed and before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds allowed for every session to connect and subscribe.
    #[arg(long, default_value_t = 60.0)]
    connect_timeout: f64,
    /// Sessions being set up at once (handshake to SUBOK).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    connect_concurrency: u32,
    /// Process id of the server: its resident memory (VmRSS) and CPU time are
    /// sampled from /proc during the run. Repeatable, for a server of several
    /// processes (nginx's master and workers, Pushpin's services): their
    /// memory and CPU time are summed.
    #[arg(long, value_name = "PID")]
    server_pid: Vec<u32>,
    /// The server's protocol: Shoal's TLCP, or a peer's for the side-by-side
    /// benchmark, whose sessions subscribe the one item's name as their
    /// channel (room, topic) and read `{"seq":N,"ts":MICROS}` messages.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Tlcp)]
    protocol: ProtocolArg,
    /// Process id of a remote adapter feeding the server (repeatable): their
    /// CPU time while measuring is reported apart from the server's and
    /// left out of the other processes'.
    #[arg(long, value_name = "PID")]
    remote_pid: Vec<u32>,
    /// Process id of the broker the items come through (Redis): its CPU
    /// time while measuring is reported apart (repeatable, summed).
    #[arg(long, value_name = "PID")]
    broker_pid: Vec<u32>,
    /// Process id of the producer writing to the broker: its CPU time while
    /// measuring is reported apart (repeatable, summed).
    #[arg(long, value_name = "PID")]
    producer_pid: Vec<u32>,
    /// Adapter set of the sessions.
    #[arg(long, default_value = shoal_demo::ADAPTER_SET)]
    adapter_set: String,
    /// Data adapter of the subscription.
    #[arg(long, default_value = shoal_demo::COUNTER)]
    data_adapter: String,
    /// Print the results as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Idle clients: the items get no updates (any item name is taken, e.g.
    /// `--data-adapter CHAT_ROOM --item-names chat_room` for Shoal, a
    /// channel nobody publishes to for a peer); what matters is the
    /// server's memory per session.
    #[arg(long, conflicts_with = "storm")]
    idle: bool,
    /// Session storm: --connect-concurrency workers each open a session,
    /// wait for its subscription, close it and start over, for --warmup
    /// then --duration seconds; reports sessions per second and the
    /// server's CPU per session. --sessions is ignored.
    #[arg(long)]
    storm: bool,
    /// Loopback source addresses to spread the sessions over (127.0.0.1,
    /// 127.0.0.2, ...): each gives about 28 000 ephemeral ports to one
    /// server port. 0 picks one per 4000 sessions.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=250))]
    source_addrs: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kernel floor: the CPU time a sender thread spends to write one
    /// small message to each of N loopback TCP connections, with nothing
    /// else (no protocol, no server): what no server beats without batching.
    Floor(floor::Args),
    /// A producer: writes `seq` and `ts` updates to Redis at a target rate
    /// (stream entries for Shoal's shoal.redis, or Socket.IO Redis emitter
    /// packets), pipelined, for a number of seconds; says what it wrote.
    Produce(produce::Args),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolArg {
    /// TLCP over WebSocket (Shoal, Lightstreamer).
    Tlcp,
    /// Socket.IO 4 (Engine.IO 4) over WebSocket: `subscribe` event, then
    /// `update` events.
    Socketio,
    /// MQTT 3.1.1 over WebSocket, QoS 0.
    Mqtt,
    /// nchan: the WebSocket subscriber location of the channel.
    Nchan,
    /// Pushpin: a WebSocket whose origin subscribes it to the channel.
    Pushpin,
}

impl ProtocolArg {
    fn peer(self) -> Option<peer::Peer> {
        match self {
            ProtocolArg::Tlcp => None,
            ProtocolArg::Socketio => Some(peer::Peer::SocketIo),
            ProtocolArg::Mqtt => Some(peer::Peer::Mqtt),
            ProtocolArg::Nchan | ProtocolArg::Pushpin => Some(peer::Peer::Plain),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ProtocolArg::Tlcp => "tlcp",
            ProtocolArg::Socketio => "socketio",
            ProtocolArg::Mqtt => "mqtt",
            ProtocolArg::Nchan => "nchan",
            ProtocolArg::Pushpin => "pushpin",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    #[value(name = "RAW")]
    Raw,
    #[value(name = "MERGE")]
    Merge,
    #[value(name = "DISTINCT")]
    Distinct,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Raw => "RAW",
            Mode::Merge => "MERGE",
            Mode::Distinct => "DISTINCT",
        }
    }
}

/// How often the server's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long stopping sessions may take before they are abandoned.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

fn main() {
    let cli = Cli::parse();
    if let Some(command) = &cli.command {
        let (name, result) = match command {
            Command::Floor(args) => ("floor", floor::run(args)),
            Command::Produce(args) => ("produce", produce::run(args)),
        };
        match result {
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("shoal-load {name}: error: {}", chain(&e));
                std::process::exit(1);
            }
        }
        return;
    }
    let json = cli.json;
    let storm = cli.storm;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime");
    if storm {
        match runtime.and_then(|rt| rt.block_on(storm_run(cli))) {
            Ok(out) if json => print!("{}", out.to_json()),
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("shoal-load: error: {}", chain(&e));
                std::process::exit(1);
            }
        }
        return;
    }
    let result = runtime.and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(summary) if json => print!("{}", summary.to_json()),
        Ok(summary) => print!("{summary}"),
        Err(e) => {
            eprintln!("shoal-load: error: {}", chain(&e));
            std::process::exit(1);
        }
    }
}

/// An error and its causes on one line, without the repeats of errors
/// whose message already includes their cause's.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// The WebSocket URL of a server given as `ws://` or `http://`, with the
/// TLCP path when none is given.
fn ws_url(given: &str) -> anyhow::Result<String> {
    let given = given.trim();
    let rest = if let Some(r) = given.strip_prefix("ws://") {
        r
    } else if let Some(r) = given.strip_prefix("http://") {
        r
    } else if given.starts_with("wss://") || given.starts_with("https://") {
        bail!("{given}: TLS is not supported, use ws:// or http://");
    } else {
        bail!("{given}: expected ws://HOST:PORT or http://HOST:PORT");
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() {
        bail!("{given}: no host");
    }
    let path = match path {
        "" | "/" => "/lightstreamer",
        p => p,
    };
    Ok(format!("ws://{host}{path}"))
}

/// The items and their total rate (none for idle clients, whose items
/// need not be counters).
fn items(cli: &Cli) -> anyhow::Result<(Vec<String>, u64)> {
    if (cli.idle || cli.feed_rate.is_some()) && !cli.item_names.is_empty() {
        let names: Vec<String> = cli.item_names.iter().map(|s| s.trim().to_owned()).collect();
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                bail!("an item name is empty");
            }
            if names[..i].contains(name) {
                bail!("item {name} is named twice");
            }
        }
        let per_item = cli.feed_rate.unwrap_or(0);
        return Ok((names.clone(), per_item * names.len() as u64));
    }
    let names: Vec<String> = if cli.item_names.is_empty() {
        let last = cli.rate + u64::from(cli.items) - 1;
        if last > MAX_RATE {
            bail!(
                "--rate {} with --items {} asks for rate-{last}: COUNTER rates go up to {MAX_RATE}",
                cli.rate,
                cli.items
            );
        }
        (cli.rate..=last).map(|r| format!("rate-{r}")).collect()
    } else {
        cli.item_names.iter().map(|s| s.trim().to_owned()).collect()
    };
    let mut total = 0;
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            bail!("item {name} is named twice");
        }
        let rate = parse_rate(name).map_err(|_| {
            anyhow!("item {name:?}: expected rate-<N> with 1 <= N <= {MAX_RATE} (a COUNTER item)")
        })?;
        total += if cli.idle { 0 } else { rate };
    }
    Ok((names, total))
}

fn seconds(name: &str, v: f64, min: f64) -> anyhow::Result<Duration> {
    if !v.is_finite() || v < min || v > 86_400.0 {
        bail!("--{name} {v}: expected seconds, at least {min}");
    }
    Ok(Duration::from_secs_f64(v))
}

async fn run(cli: Cli) -> anyhow::Result<Summary> {
    let peer = cli.protocol.peer();
    let url = match peer {
        None => ws_url(&cli.url)?,
        Some(_) => cli.url.trim().to_owned(),
    };
    let (names, rate_per_session) = items(&cli)?;
    let duration = seconds("duration", cli.duration, 0.5)?;
    let warmup = seconds("warmup", cli.warmup, 0.0)?;
    let connect_timeout = seconds("connect-timeout", cli.connect_timeout, 1.0)?;
    let server = (!cli.server_pid.is_empty())
        .then(|| {
            cli.server_pid
                .iter()
                .map(|&pid| procfs::check_pid("--server-pid", pid))
                .collect::<anyhow::Result<Vec<_>>>()
                .map(procfs::Group)
        })
        .transpose()?;
    let probes = |option: &str, pids: &[u32]| {
        pids.iter()
            .map(|&pid| procfs::check_pid(option, pid))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let remotes = probes("--remote-pid", &cli.remote_pid)?;
    let brokers = probes("--broker-pid", &cli.broker_pid)?;
    let producers = probes("--producer-pid", &cli.producer_pid)?;
    let me = procfs::Probe::new("self")?;
    let sessions = cli.sessions as usize;
    let sources = match cli.source_addrs {
        0 => connect::auto_sources(sessions),
        n => n as usize,
    };
    // The server's memory before any session: what the sessions add is
    // measured from here.
    let rss_before = server.as_ref().map(procfs::Group::sample).transpose()?;

    let plan = Arc::new(Plan {
        url: url.clone(),
        adapter_set: cli.adapter_set.clone(),
        data_adapter: cli.data_adapter.clone(),
        mode: cli.mode.as_str(),
        items: names.clone(),
    });
    let shared = Arc::new(Shared::new());
    let (stop_tx, stop_rx) = watch::channel(false);

    // The server's peak resident memory in bytes, sampled until the end.
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = server.clone().map(|probe| {
        let peak_rss = peak_rss.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                // A server that exited shows up as failed sessions.
                if let Ok(s) = probe.sample() {
                    peak_rss.fetch_max(s.rss, Ordering::Relaxed);
                }
            }
        })
    });

    eprintln!(
        "shoal-load: {sessions} sessions x {} items ({}) {} on {url}",
        names.len(),
        report::describe_items(&names),
        plan.mode
    );
    let started = Instant::now();
    let connecting = Arc::new(Semaphore::new(cli.connect_concurrency as usize));
    let mut tasks: JoinSet<anyhow::Result<Report>> = JoinSet::new();
    let target = peer.map(|p| {
        Arc::new(peer::Target {
            peer: p,
            url: url.clone(),
            channels: names.clone(),
        })
    });
    for id in 0..sessions {
        let source = connect::source_for(id, sources);
        match &target {
            None => tasks.spawn(session::run(
                id,
                plan.clone(),
                source,
                shared.clone(),
                connecting.clone(),
                stop_rx.clone(),
            )),
            Some(t) => tasks.spawn(peer::run(
                id,
                t.clone(),
                source,
                shared.clone(),
                connecting.clone(),
                stop_rx.clone(),
            )),
        };
    }

    // Connecting: until every session is subscribed.
    let deadline = tokio::time::Instant::now() + connect_timeout;
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        if shared.subscribed.load(Ordering::Relaxed) >= sessions {
            break;
        }
        tokio::select! {
            _ = poll.tick() => {}
            done = tasks.join_next() => return Err(early_end(done)),
            () = tokio::time::sleep_until(deadline) => bail!(
                "only {} of {sessions} sessions subscribed within {:.0}s",
                shared.subscribed.load(Ordering::Relaxed),
                connect_timeout.as_secs_f64()
            ),
        }
    }
    let connect_time = started.elapsed();
    eprintln!(
        "shoal-load: {sessions} sessions subscribed in {:.2}s; warming up {:.1}s",
        connect_time.as_secs_f64(),
        warmup.as_secs_f64()
    );
    hold(&mut tasks, warmup).await?;

    // Measuring.
    let server_before = server.as_ref().map(procfs::Group::sample).transpose()?;
    let remotes_before = sample_all(&remotes)?;
    let brokers_before = sample_all(&brokers)?;
    let producers_before = sample_all(&producers)?;
    let me_before = me.sample()?;
    let machine_before = procfs::machine_busy();
    let t0 = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    eprintln!("shoal-load: measuring {:.1}s", duration.as_secs_f64());
    hold(&mut tasks, duration).await?;
    shared.measuring.store(false, Ordering::Relaxed);
    let measured_for = t0.elapsed();
    let server_after = server.as_ref().map(procfs::Group::sample).transpose()?;
    let remotes_after = sample_all(&remotes)?;
    let brokers_after = sample_all(&brokers)?;
    let producers_after = sample_all(&producers)?;
    let me_after = me.sample()?;
    let machine_after = procfs::machine_busy();

    // Stopping: every session destroys itself.
    let _ = stop_tx.send(true);
    let mut reports = Vec::with_capacity(sessions);
    let stopped = tokio::time::timeout(STOP_TIMEOUT, async {
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(r)) => reports.push(r),
                Ok(Err(e)) => eprintln!("shoal-load: while stopping: {e:#}"),
                Err(e) => eprintln!("shoal-load: a session task failed: {e}"),
            }
        }
    })
    .await;
    if stopped.is_err() {
        eprintln!(
            "shoal-load: {} sessions did not stop within {}s; abandoned",
            tasks.len(),
            STOP_TIMEOUT.as_secs()
        );
        tasks.abort_all();
    }
    if let Some(s) = sampler {
        let _ = s.await;
    }
    let server_peak = server.as_ref().map(|probe| {
        let sampled = peak_rss.load(Ordering::Relaxed);
        let last = probe.sample().ok();
        (
            sampled.max(server_after.map_or(0, |s| s.rss)),
            last.or(server_after).map_or(0, |s| s.hwm),
        )
    });
    let percent = |d: Duration| 100.0 * d.as_secs_f64() / measured_for.as_secs_f64();
    let cpu_percent = |before: procfs::Sample, after: procfs::Sample| {
        percent(after.cpu.saturating_sub(before.cpu))
    };
    let server_cpu = server_before
        .zip(server_after)
        .map(|(b, a)| cpu_percent(b, a));
    // The summed CPU of a list of processes, none when there are none.
    let summed = |before: &[procfs::Sample], after: &[procfs::Sample]| {
        (!before.is_empty()).then(|| {
            before
                .iter()
                .zip(after)
                .map(|(&b, &a)| cpu_percent(b, a))
                .sum::<f64>()
        })
    };
    let remote_cpu = summed(&remotes_before, &remotes_after);
    let broker_cpu = summed(&brokers_before, &brokers_after);
    let producer_cpu = summed(&producers_before, &producers_after);
    let loadgen_cpu = cpu_percent(me_before, me_after);
    // What the rest of the machine used meanwhile: other work skews the run.
    let others_cpu = machine_before.zip(machine_after).map(|(b, a)| {
        let ours = loadgen_cpu
            + [server_cpu, remote_cpu, broker_cpu, producer_cpu]
                .iter()
                .map(|c| c.unwrap_or(0.0))
                .sum::<f64>();
        (percent(a.saturating_sub(b)) - ours).max(0.0)
    });

    let latency = std::mem::take(&mut *shared.latency.lock());
    Ok(Summary::new(report::Inputs {
        url,
        protocol: cli.protocol.as_str(),
        mode: if peer.is_some() { "-" } else { plan.mode },
        items: names,
        sessions,
        rate_per_session,
        warmup,
        measured_for,
        connect_time,
        reports,
        latency,
        server_peak_rss: server_peak.map(|p| p.0),
        server_rss_before: rss_before.map(|s| s.rss),
        server_rss_end: server_after.map(|s| s.rss),
        server_hwm: server_peak.map(|p| p.1),
        server_cpu,
        remote_cpu,
        broker_cpu,
        producer_cpu,
        loadgen_cpu,
        others_cpu,
    }))
}

/// The session storm (`--storm`): see [`storm`].
async fn storm_run(cli: Cli) -> anyhow::Result<storm::Outcome> {
    let peer = cli.protocol.peer();
    let url = match peer {
        None => ws_url(&cli.url)?,
        Some(_) => cli.url.trim().to_owned(),
    };
    let (names, _) = items(&cli)?;
    let server = cli
        .server_pid
        .iter()
        .map(|&pid| procfs::check_pid("--server-pid", pid))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(procfs::Group)?;
    let plan = storm::Plan {
        protocol: cli.protocol.as_str(),
        tlcp: Plan {
            url: url.clone(),
            adapter_set: cli.adapter_set.clone(),
            data_adapter: cli.data_adapter.clone(),
            mode: cli.mode.as_str(),
            items: names.clone(),
        },
        peer: peer.map(|p| peer::Target {
            peer: p,
            url,
            channels: names,
        }),
        concurrency: cli.connect_concurrency as usize,
        sources: cli.source_addrs as usize,
        warmup: seconds("warmup", cli.warmup, 0.0)?,
        duration: seconds("duration", cli.duration, 0.5)?,
    };
    storm::run(Arc::new(plan), server).await
}

/// One sample of each process, in order.
fn sample_all(probes: &[procfs::Probe]) -> anyhow::Result<Vec<procfs::Sample>> {
    probes.iter().map(procfs::Probe::sample).collect()
}

/// Waits `d` while watching the sessions: none may end before it is told to.
async fn hold(tasks: &mut JoinSet<anyhow::Result<Report>>, d: Duration) -> anyhow::Result<()> {
    tokio::select! {
        () = tokio::time::sleep(d) => Ok(()),
        done = tasks.join_next() => Err(early_end(done)),
    }
}

/// The error of a session that ended before the run was over.
fn early_end(
    done: Option<Result<anyhow::Result<Report>, tokio::task::JoinError>>,
) -> anyhow::Error {
    match done {
        Some(Ok(Err(e))) => e,
        Some(Ok(Ok(_))) => anyhow!("a session ended before the run was over"),
        Some(Err(e)) => anyhow!("a session task failed: {e}"),
        None => anyhow!("no sessions are running"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_do_not_repeat() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = anyhow::Error::new(io)
            .context("IO error: refused")
            .context("session 3");
        assert_eq!(chain(&e), "session 3: IO error: refused");
        let e = anyhow!("inner").context("outer");
        assert_eq!(chain(&e), "outer: inner");
    }

    #[test]
    fn urls() {
        let ok = |s: &str| ws_url(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(
            ok("http://127.0.0.1:9000"),
            "ws://127.0.0.1:9000/lightstreamer"
        );
        assert_eq!(
            ok("ws://127.0.0.1:9000/"),
            "ws://127.0.0.1:9000/lightstreamer"
        );
        assert_eq!(ok("ws://[::1]:9000/x"), "ws://[::1]:9000/x");
        assert_eq!(ok(" ws://h:1/lightstreamer "), "ws://h:1/lightstreamer");
        for bad in ["wss://h:1", "https://h", "h:1", "ws://", "ws:///x"] {
            assert!(ws_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_lists() {
        let cli = |args: &[&str]| {
            let mut all = vec!["shoal-load"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        let c = cli(&["--items", "3", "--rate", "1000"]).map_err(|e| e.to_string());
        let (names, total) = c
            .and_then(|c| items(&c).map_err(|e| e.to_string()))
            .unwrap_or_default();
        assert_eq!(names, ["rate-1000", "rate-1001", "rate-1002"]);
        assert_eq!(total, 3003);

        let c = cli(&["--item-names", "rate-5,rate-50000"]).map_err(|e| e.to_string());
        let (names, total) = c
            .and_then(|c| items(&c).map_err(|e| e.to_string()))
            .unwrap_or_default();
        assert_eq!(names, ["rate-5", "rate-50000"]);
        assert_eq!(total, 50_005);

        for bad in [
            &["--items", "2", "--rate", "100000"][..],
            &["--item-names", "rate-5,rate-5"],
            &["--item-names", "item1"],
            &["--item-names", "rate-05"],
        ] {
            let c = cli(bad).map_err(|e| e.to_string());
            assert!(
                c.and_then(|c| items(&c).map_err(|e| e.to_string()))
                    .is_err(),
                "{bad:?}"
            );
        }
        assert!(cli(&["--item-names", "rate-5", "--rate", "3"]).is_err());

        // Fed from outside: any names, the rate given per item.
        let c = cli(&["--item-names", "feed,other", "--feed-rate", "200000"])
            .map_err(|e| e.to_string());
        let (names, total) = c
            .and_then(|c| items(&c).map_err(|e| e.to_string()))
            .unwrap_or_default();
        assert_eq!(names, ["feed", "other"]);
        assert_eq!(total, 400_000);
        for bad in [
            &["--feed-rate", "10"][..],
            &["--item-names", "feed", "--feed-rate", "0"],
            &["--item-names", "feed", "--feed-rate", "10", "--idle"],
        ] {
            assert!(cli(bad).is_err(), "{bad:?}");
        }
        let twice = cli(&["--item-names", "feed,feed", "--feed-rate", "10"]);
        assert!(twice.is_ok_and(|c| items(&c).is_err()));
        assert!(cli(&["--mode", "merge"]).is_ok());
        assert!(cli(&["--mode", "COMMAND"]).is_err());
    }
}
