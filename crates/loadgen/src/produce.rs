//! `shoal-load produce`: a producer writing updates to Redis at a target
//! rate, for the broker-feed benchmarks.
//!
//! Every update carries `seq` (1, 2, 3, ...) and `ts` (microseconds since
//! the epoch when it was written), the fields `shoal-load` reads on the
//! client side, so the latency it measures is from publishing to the
//! client. Every millisecond the producer writes what is due by then
//! (`rate` a second from its start), all of it in one pipeline, and waits
//! for the answers before the next tick: a late tick makes a larger batch,
//! not a lost update, up to `--batch-max` a pipeline.
//!
//! Two formats:
//! - `xadd`: one stream entry per update, `XADD <stream> MAXLEN ~ N * seq S
//!   ts T`, what Shoal's `shoal.redis` data adapter reads (the stream of
//!   item X is `<stream_prefix>X`);
//! - `socketio`: what `@socket.io/redis-emitter` 5 publishes for
//!   `emitter.to(room).emit("update", {seq, ts})`, which the Socket.IO
//!   servers' `@socket.io/redis-adapter` 8 receive over Redis Pub/Sub and
//!   emit to the room: `PUBLISH socket.io#/#<room># <msgpack>`, the
//!   payload the msgpack array `["emitter", packet, options]` (see
//!   [`emitter_packet`]).
//!
//! Once connected it says so on standard error (`shoal-load produce:
//! RATE/s ...`, what a script waits for); it runs for `--duration`
//! seconds, or until SIGTERM or SIGINT, then says what it wrote on
//! standard output.

use anyhow::{bail, Context};
use serde_json::json;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One stream entry per update (XADD), fields `seq` and `ts`.
    Xadd,
    /// One `@socket.io/redis-emitter` packet per update (PUBLISH), event
    /// `update` with `{"seq":N,"ts":MICROS}` to one room.
    Socketio,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::Xadd => "xadd",
            Format::Socketio => "socketio",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Redis server.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Xadd)]
    format: Format,
    /// xadd: the stream's key (Shoal's `<stream_prefix><item>`); socketio:
    /// the room.
    #[arg(long)]
    target: String,
    /// Updates per second.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    rate: u64,
    /// Seconds to write for (SIGTERM or SIGINT stop it sooner).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Most updates in one pipeline: a producer that fell behind catches up
    /// in batches of this size.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch_max: u64,
    /// xadd: `MAXLEN ~ N` on every entry, so that a long run does not fill
    /// the server's memory; 0 leaves the stream untrimmed.
    #[arg(long, default_value_t = 1_000_000)]
    max_len: u64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// How often the producer looks at what is due.
const TICK: Duration = Duration::from_millis(1);

/// What a run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub format: Format,
    pub target: String,
    pub rate: u64,
    /// Updates written (acknowledged by Redis), seq 1 to `written`.
    pub written: u64,
    /// From the first tick to the last answer.
    pub elapsed: Duration,
    pub batches: u64,
    pub largest_batch: u64,
    /// The most updates that were due and not yet written when a batch was
    /// made: above `rate / 1000` the producer was late.
    pub most_behind: u64,
    /// Due and not written when it stopped.
    pub behind_at_end: u64,
    /// Why it stopped: `duration` or the signal's name.
    pub stopped_by: &'static str,
}

impl Outcome {
    pub fn written_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.written as f64 / s
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> String {
        let v = json!({
            "format": self.format.as_str(),
            "target": self.target,
            "rate": self.rate,
            "written": self.written,
            "elapsed_s": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "written_per_s": self.written_per_s().round() as u64,
            "batches": self.batches,
            "largest_batch": self.largest_batch,
            "most_behind": self.most_behind,
            "behind_at_end": self.behind_at_end,
            "stopped_by": self.stopped_by,
        });
        format!("{v}\n")
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "wrote               {} updates ({}) to {} in {:.2} s: {:.0}/s of {}/s asked",
            self.written,
            self.format.as_str(),
            self.target,
            self.elapsed.as_secs_f64(),
            self.written_per_s(),
            self.rate
        )?;
        writeln!(
            f,
            "batches             {} (largest {}), at most {} updates behind, {} at the end",
            self.batches, self.largest_batch, self.most_behind, self.behind_at_end
        )?;
        writeln!(f, "stopped by          {}", self.stopped_by)
    }
}

/// The updates due `elapsed` after the start at `rate` a second.
pub fn due(elapsed: Duration, rate: u64) -> u64 {
    let due = elapsed.as_nanos() * u128::from(rate) / 1_000_000_000;
    u64::try_from(due).unwrap_or(u64::MAX)
}

/// The Pub/Sub channel `@socket.io/redis-emitter` publishes to for one room
/// of the main namespace (key `socket.io`).
pub fn emitter_channel(room: &str) -> String {
    format!("socket.io#/#{room}#")
}

/// What `@socket.io/redis-emitter` 5.1.0 publishes for
/// `emitter.to(room).emit("update", {seq, ts})`: notepack.io's msgpack of
/// `["emitter", {"type": 2, "data": ["update", {"seq": seq, "ts": ts}],
/// "nsp": "/"}, {"rooms": [room], "flags": {}, "except": []}]`, with the
/// same encodings notepack.io picks (the smallest unsigned integer that
/// holds the number, fixstr or str8/16/32 by length).
pub fn emitter_packet(out: &mut Vec<u8>, room: &str, seq: u64, ts: u64) {
    out.clear();
    out.push(0x93);
    msgpack_str(out, "emitter");
    out.push(0x83);
    msgpack_str(out, "type");
    msgpack_uint(out, 2);
    msgpack_str(out, "data");
    out.push(0x92);
    msgpack_str(out, "update");
    out.push(0x82);
    msgpack_str(out, "seq");
    msgpack_uint(out, seq);
    msgpack_str(out, "ts");
    msgpack_uint(out, ts);
    msgpack_str(out, "nsp");
    msgpack_str(out, "/");
    out.push(0x83);
    msgpack_str(out, "rooms");
    out.push(0x91);
    msgpack_str(out, room);
    msgpack_str(out, "flags");
    out.push(0x80);
    msgpack_str(out, "except");
    out.push(0x90);
}

fn msgpack_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn msgpack_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else if let Ok(b) = u8::try_from(v) {
        out.extend_from_slice(&[0xcc, b]);
    } else if let Ok(h) = u16::try_from(v) {
        out.push(0xcd);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = u32::try_from(v) {
        out.push(0xce);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub fn run(args: &Args) -> anyhow::Result<String> {
    let d = args.duration;
    if !d.is_finite() || !(0.1..=86_400.0).contains(&d) {
        bail!("--duration {d}: expected seconds, at least 0.1");
    }
    if args.target.is_empty() {
        bail!("--target is empty");
    }
    // One thread: the producer's work is small and sequential.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let out = runtime.block_on(produce(args, Duration::from_secs_f64(d)))?;
    Ok(if args.json {
        out.to_json()
    } else {
        out.to_string()
    })
}

async fn produce(args: &Args, duration: Duration) -> anyhow::Result<Outcome> {
    let client = redis::Client::open(args.redis_url.as_str())
        .with_context(|| format!("--redis-url {}", args.redis_url))?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("cannot connect to {}", args.redis_url))?;
    let mut term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    let channel = emitter_channel(&args.target);
    let max_len = args.max_len.to_string();
    let mut payload = Vec::with_capacity(128);
    let mut number = String::with_capacity(24);
    // Connected: the line a script waits for.
    eprintln!(
        "shoal-load produce: {}/s ({}) to {} for {:.1} s",
        args.rate,
        args.format.as_str(),
        args.target,
        duration.as_secs_f64()
    );

    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut out = Outcome {
        format: args.format,
        target: args.target.clone(),
        rate: args.rate,
        written: 0,
        elapsed: Duration::ZERO,
        batches: 0,
        largest_batch: 0,
        most_behind: 0,
        behind_at_end: 0,
        stopped_by: "duration",
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = term.recv() => { out.stopped_by = "SIGTERM"; break; }
            _ = int.recv() => { out.stopped_by = "SIGINT"; break; }
        }
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let behind = due(elapsed, args.rate).saturating_sub(out.written);
        if behind == 0 {
            continue;
        }
        out.most_behind = out.most_behind.max(behind);
        let n = behind.min(args.batch_max);
        let mut pipe = redis::pipe();
        for seq in out.written + 1..=out.written + n {
            let ts = crate::session::now_micros();
            match args.format {
                Format::Xadd => {
                    let c = pipe.cmd("XADD").arg(&args.target);
                    if args.max_len > 0 {
                        c.arg("MAXLEN").arg("~").arg(&max_len);
                    }
                    number.clear();
                    let _ = write!(number, "{seq}");
                    c.arg("*").arg("seq").arg(&number);
                    number.clear();
                    let _ = write!(number, "{ts}");
                    c.arg("ts").arg(&number).ignore();
                }
                Format::Socketio => {
                    emitter_packet(&mut payload, &args.target, seq, ts);
                    pipe.cmd("PUBLISH").arg(&channel).arg(&payload[..]).ignore();
                }
            }
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .with_context(|| format!("writing to {}", args.redis_url))?;
        out.written += n;
        out.batches += 1;
        out.largest_batch = out.largest_batch.max(n);
    }
    out.elapsed = start.elapsed().min(duration);
    out.behind_at_end = due(out.elapsed, args.rate).saturating_sub(out.written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn emitter_packets_are_what_the_socket_io_emitter_publishes() {
        // notepack.io 3.0.1 (the encoder of @socket.io/redis-emitter 5.1.0)
        // on ["emitter",{type:2,data:["update",{seq,ts}],nsp:"/"},
        // {rooms:["feed"],flags:{},except:[]}].
        let mut out = Vec::new();
        emitter_packet(&mut out, "feed", 1, 1_764_761_234_567_890);
        assert_eq!(
            hex(&out),
            "93a7656d697474657283a47479706502a46461746192a675706461746582a373657101\
             a27473cf0006450a7e7ff2d2a36e7370a12f83a5726f6f6d7391a466656564a5666c61\
             677380a665786365707490"
        );
        emitter_packet(&mut out, "feed", 300, 1_764_761_234_567_890);
        assert!(hex(&out).contains("a3736571cd012ca27473cf0006450a7e7ff2d2"));
        assert_eq!(emitter_channel("feed"), "socket.io#/#feed#");
    }

    #[test]
    fn msgpack_sizes() {
        let enc = |v: u64| {
            let mut o = Vec::new();
            msgpack_uint(&mut o, v);
            hex(&o)
        };
        assert_eq!(enc(127), "7f");
        assert_eq!(enc(128), "cc80");
        assert_eq!(enc(256), "cd0100");
        assert_eq!(enc(65_536), "ce00010000");
        assert_eq!(enc(1 << 32), "cf0000000100000000");
        let s = |len: usize| {
            let mut o = Vec::new();
            msgpack_str(&mut o, &"x".repeat(len));
            hex(&o[..o.len() - len])
        };
        assert_eq!(s(31), "bf");
        assert_eq!(s(32), "d920");
        assert_eq!(s(256), "da0100");
        assert_eq!(s(65_536), "db00010000");
    }

    #[test]
    fn updates_due() {
        assert_eq!(due(Duration::from_millis(1), 200_000), 200);
        assert_eq!(due(Duration::from_micros(1500), 1000), 1);
        assert_eq!(due(Duration::from_secs(10), 3), 30);
        assert_eq!(due(Duration::ZERO, 5_000_000), 0);
    }
}
