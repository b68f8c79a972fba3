//! `shoal-load floor`: the kernel's cost of a push, with no server.
//!
//! N loopback TCP connections are opened to ourselves. A sender thread then
//! writes one small message (the size of a WebSocket frame holding one
//! update) to each of the N accepted sockets per tick, as a server fanning
//! one update out to N clients does, with plain blocking `write` calls; its
//! CPU time comes from `getrusage(RUSAGE_THREAD)`, so it counts that thread
//! only. A second phase writes `batch` messages in one `write` per socket:
//! the cost per update when a server batches.
//!
//! The other ends belong to a child process (this program again, `floor
//! --sink`), which drains them with reader tasks whose time is not counted
//! (with `--no-drain` nobody reads; the receive buffers hold a few seconds
//! of small messages). A process for each side also halves the descriptors
//! each needs: N apiece, as the server and the load generator have. What the sender's time does include,
//! as a server's does on loopback, is the receiving side's TCP processing:
//! Linux runs the loopback delivery (softirq) in the context of the thread
//! that sends, and wakes the reader from there. That is part of every
//! server's CPU time in these benchmarks too, which makes the comparison fair.

use crate::connect;
use anyhow::{bail, Context};
use nix::sys::resource::{getrusage, UsageWho};
use serde_json::json;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Connections to write to.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,
    /// Ticks per second: each writes once to every connection.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    rate: u32,
    /// Seconds of each of the two phases (one message per write, then
    /// `batch` per write).
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Bytes of one message (a WebSocket text frame of one TLCP update is
    /// about 40).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    size: u32,
    /// Messages per write in the batch phase.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Leave the receiving sockets unread (their buffers fill instead).
    #[arg(long)]
    no_drain: bool,
    /// Loopback source addresses for the connections; 0 picks one per 4000.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=250))]
    source_addrs: u32,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Internal: be the receiving side, connecting --clients sockets to
    /// this address, until standard input closes.
    #[arg(long, hide = true)]
    sink: Option<SocketAddr>,
}

/// The CPU time (user plus system) of the calling thread.
fn thread_cpu() -> anyhow::Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).context("getrusage(RUSAGE_THREAD)")?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

/// What one phase cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub writes: u64,
    pub cpu: Duration,
}

impl Phase {
    /// CPU microseconds per write.
    pub fn us_per_write(&self) -> Option<f64> {
        (self.writes > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.writes as f64)
    }
}

/// Writes `message` to every socket `ticks` times, one tick every `period`,
/// and returns the sending thread's CPU time for it.
fn phase(
    sockets: &mut [TcpStream],
    message: &[u8],
    ticks: u64,
    period: Duration,
) -> anyhow::Result<Phase> {
    let before = thread_cpu()?;
    let mut next = Instant::now();
    let mut writes = 0;
    for _ in 0..ticks {
        for s in sockets.iter_mut() {
            s.write_all(message).context("write to a loopback socket")?;
            writes += 1;
        }
        // Sleeping costs no CPU time; a late tick starts at once.
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok(Phase {
        writes,
        cpu: thread_cpu()?.saturating_sub(before),
    })
}

/// A message of `size` bytes shaped like a WebSocket text frame (header,
/// then a TLCP update line padded with digits).
pub fn message(size: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(&[
        0x81,
        u8::try_from(size.saturating_sub(2).min(125)).unwrap_or(125),
    ]);
    m.extend_from_slice(b"U,1,1,");
    while m.len() < size {
        m.push(b'0' + (m.len() % 10) as u8);
    }
    m.truncate(size);
    m
}

/// Opens the connections, runs both phases on a thread of its own, and
/// formats the result.
pub fn run(args: &Args) -> anyhow::Result<String> {
    let duration = args.duration;
    if !duration.is_finite() || !(0.1..=3600.0).contains(&duration) {
        bail!("--duration {duration}: expected 0.1 to 3600 seconds");
    }
    let clients = args.clients as usize;
    let sources = match args.source_addrs {
        0 => connect::auto_sources(clients),
        n => n as usize,
    };
    if let Some(addr) = args.sink {
        // Until the measuring process closes our standard input.
        sink(addr, clients, sources, !args.no_drain, || {
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest);
        })?;
        return Ok(String::new());
    }
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let exe = std::env::current_exe().context("cannot find this program to start the sink")?;
    let mut command = std::process::Command::new(exe);
    command
        .args([
            "floor",
            "--sink",
            &addr.to_string(),
            "--clients",
            &clients.to_string(),
        ])
        .args(["--source-addrs", &sources.to_string()])
        .stdin(std::process::Stdio::piped());
    if args.no_drain {
        command.arg("--no-drain");
    }
    let mut child = command.spawn().context("cannot start the sink process")?;
    let accepted = accept(&listener, clients, Some(&mut child));
    let result = accepted.and_then(|servers| measure(args, servers));
    // Closing its standard input ends the sink.
    drop(child.stdin.take());
    let _ = child.wait();
    result
}

/// Accepts the sink's connections, as blocking sockets with Nagle off.
fn accept(
    listener: &std::net::TcpListener,
    clients: usize,
    mut child: Option<&mut std::process::Child>,
) -> anyhow::Result<Vec<TcpStream>> {
    let mut accepted = Vec::with_capacity(clients);
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while accepted.len() < clients {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                accepted.push(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.as_mut().map(|c| c.try_wait()).transpose()?.flatten() {
                    bail!(
                        "the sink process ended ({status}) after {} connections",
                        accepted.len()
                    );
                }
                if Instant::now() > deadline {
                    bail!(
                        "only {} of {clients} connections within 120 s",
                        accepted.len()
                    );
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e).context("accept (raise ulimit -n)"),
        }
    }
    Ok(accepted)
}

/// Runs both phases on a thread of their own and formats the result.
fn measure(args: &Args, mut servers: Vec<TcpStream>) -> anyhow::Result<String> {
    let clients = servers.len();
    let duration = args.duration;
    let ticks = (duration * f64::from(args.rate)).ceil().max(1.0) as u64;
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let single = message(args.size as usize);
    let batched = single.repeat(args.batch as usize);
    let sender = std::thread::Builder::new()
        .name("floor-sender".into())
        .spawn(move || -> anyhow::Result<(Phase, Phase)> {
            let one = phase(&mut servers, &single, ticks, period)?;
            let many = phase(&mut servers, &batched, ticks, period)?;
            Ok((one, many))
        })
        .context("cannot start the sender thread")?;
    let (one, many) = sender
        .join()
        .map_err(|_| anyhow::anyhow!("the sender thread panicked"))??;
    let batch = f64::from(args.batch);
    let per_update_batched = many.us_per_write().map(|us| us / batch);
    if args.json {
        let v = json!({
            "clients": clients,
            "rate": args.rate,
            "ticks": ticks,
            "message_bytes": args.size,
            "batch": args.batch,
            "drained": !args.no_drain,
            "writes": one.writes,
            "floor_us_per_send": one.us_per_write(),
            "floor_us_per_update_batched": per_update_batched,
            "floor_us_per_send_batched": many.us_per_write(),
        });
        return Ok(format!("{v}\n"));
    }
    let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
    Ok(format!(
        "clients             {clients}, {ticks} ticks at {}/s per phase\n\
         one update a write  {} µs CPU per write ({}-byte message)\n\
         {} updates a write  {} µs CPU per update ({} µs per write)\n",
        args.rate,
        f(one.us_per_write()),
        args.size,
        args.batch,
        f(per_update_batched),
        f(many.us_per_write())
    ))
}

/// The sink: N connections to `addr`, drained by tasks of a one-thread
/// runtime (or left unread), until `until` returns.
fn sink(
    addr: SocketAddr,
    clients: usize,
    sources: usize,
    drain: bool,
    until: impl FnOnce(),
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let _unread = rt.block_on(async {
        let mut unread = Vec::new();
        for id in 0..clients {
            let stream = connect_one(addr, connect::source_for(id, sources))
                .await
                .with_context(|| format!("connection {id} of {clients} (raise ulimit -n)"))?;
            if drain {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let mut buf = vec![0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            } else {
                unread.push(stream);
            }
        }
        anyhow::Ok(unread)
    })?;
    until();
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

async fn connect_one(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
) -> anyhow::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    Ok(socket.connect(addr).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_size_asked() {
        let m = message(40);
        assert_eq!(m.len(), 40);
        assert_eq!(&m[..2], &[0x81, 38]);
        assert!(m[2..].starts_with(b"U,1,1,"));
        assert_eq!(message(3).len(), 3);
        assert_eq!(message(300)[1], 125);
    }

    #[test]
    fn per_write() {
        let p = Phase {
            writes: 4,
            cpu: Duration::from_micros(10),
        };
        assert_eq!(p.us_per_write(), Some(2.5));
        let none = Phase {
            writes: 0,
            cpu: Duration::ZERO,
        };
        assert_eq!(none.us_per_write(), None);
    }

    #[test]
    fn thread_time_grows_with_work() {
        let before = thread_cpu().unwrap_or_default();
        let mut x = 0u64;
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = thread_cpu().unwrap_or_default();
        assert!(
            after >= before + Duration::from_millis(10),
            "{before:?} {after:?}"
        );
    }

    #[test]
    fn a_small_floor_runs() {
        let args = Args {
            clients: 20,
            rate: 100,
            duration: 0.1,
            size: 40,
            batch: 10,
            no_drain: false,
            source_addrs: 0,
            json: true,
            sink: None,
        };
        // The sink in a thread (the test binary is not shoal-load).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let sinking = std::thread::spawn(move || {
            sink(addr, 20, 1, true, move || {
                let _ = wait.recv();
            })
        });
        let servers = accept(&listener, 20, None).unwrap_or_else(|e| panic!("{e:#}"));
        let out = measure(&args, servers).unwrap_or_else(|e| panic!("{e:#}"));
        drop(done);
        assert!(sinking.join().is_ok_and(|r| r.is_ok()));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["writes"], 200);
        assert!(v["floor_us_per_send"].as_f64().is_some(), "{out}");
    }
}
