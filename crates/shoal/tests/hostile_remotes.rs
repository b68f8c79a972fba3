//! Hostile remote adapters against the binary: `shoal serve --adapters-dir`
//! with proxy adapters on ports the system picks, scripted remotes that
//! speak ARI over TCP, and TLCP clients over WebSocket. A remote that
//! floods, sends garbage, stalls, has wrong credentials or drops in the
//! middle of a call, and a crowd of connections that never finish their
//! handshake: the server stays up and bounded, the other clients and the
//! other adapter sets go on, and what a user sees is documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::remote::*;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024;

/// The flood test runs alone: it takes both cores, which would blur the
/// timings the other tests assert. The others share.
static ALONE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Credentials of the sets with `auth`.
const USER: &str = "ari";
const PASSWORD: &str = "secret";

fn auth_params() -> [(&'static str, &'static str); 3] {
    [
        ("auth", "Y"),
        ("auth.credentials.1.user", USER),
        ("auth.credentials.1.password", PASSWORD),
    ]
}

/// A RAW subscription to `item` (fields `schema`) of data adapter `FEED`.
fn raw(item: &str, schema: &str) -> String {
    format!("LS_group={item}&LS_schema={schema}&LS_data_adapter=FEED&LS_mode=RAW")
}

/// Samples the RSS of `pid` every 20 ms until stopped; returns the peak.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_of(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

/// Updates the flooding remote sends, each with a value of `FLOOD_VALUE`
/// bytes: about 300 MiB in all.
const FLOOD_UPDATES: usize = 300_000;
const FLOOD_VALUE: usize = 1024;
/// One update of the reader's item every this many flood updates.
const TICK_EVERY: usize = 1000;

/// A remote floods a RAW item as fast as the socket takes it, with one
/// client subscribed that does not read. The proxy reads the remote no
/// faster than the engine takes the updates (its reading task applies
/// each one), and the engine keeps at most `<max_buffer>` (10,000) updates
/// for the stalled subscriber, then counts the rest as lost: the server
/// grows by a bounded amount, far less than the flood, which TCP holds
/// back at the remote (pushed back, not disconnected). A second client,
/// of another item of the same remote, receives every one of its updates
/// in order; the stalled client, when it reads again, is told of the loss
/// (`OV`); the remote is still served afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_remote_costs_bounded_memory_and_readers_keep_receiving() {
    let _alone = ALONE.write().await;
    let conf = ConfDir::new("remote-flood", "");
    let feed = proxy(false, &[]);
    conf.add_adapter_set(
        "flood",
        &adapters_xml("FLOOD", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    let launch = conf.launch_sets();
    let port = launch.log.ari_port("FLOOD", Some("FEED"));
    let mut remote = Remote::ready(port, "DPI", None).await;
    let server = launch.listening(Duration::from_secs(10));

    // The stalled client: a tight receive buffer, and it reads nothing
    // after its subscription.
    let mut stalled = ws_connect_tight(&server).await;
    ws_create_with(&mut stalled, "LS_adapter_set=FLOOD")
        .await
        .unwrap();
    ws_subscribe(&mut stalled, 1, &raw("flood", "n%20v"))
        .await
        .unwrap();
    let (flood_sub, _) = remote.answer_sub().await;
    // The reading client, of another item.
    let (mut reader, _) = ws_session_with(&server, "LS_adapter_set=FLOOD").await;
    ws_subscribe(&mut reader, 1, &raw("tick", "n"))
        .await
        .unwrap();
    let (tick_sub, _) = remote.answer_sub().await;

    let value = "v".repeat(FLOOD_VALUE);
    let ticks = FLOOD_UPDATES / TICK_EVERY;
    let base = server.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_rss(server.pid(), stop.clone());
    let started = Instant::now();
    let mut flood_bytes = 0usize;
    let flood = async {
        let mut batch = String::new();
        for i in 1..=FLOOD_UPDATES {
            batch.push_str(&update_line(
                "flood",
                &flood_sub,
                &[("n", &i.to_string()), ("v", &value)],
            ));
            batch.push_str("\r\n");
            if i % TICK_EVERY == 0 {
                let n = (i / TICK_EVERY).to_string();
                batch.push_str(&update_line("tick", &tick_sub, &[("n", &n)]));
                batch.push_str("\r\n");
                flood_bytes += batch.len();
                remote.send_raw(batch.as_bytes()).await.unwrap();
                batch.clear();
            }
        }
        started.elapsed()
    };
    // Every tick, in order, while the flood goes on.
    let read = async {
        let mut next = 1;
        let mut longest = Duration::ZERO;
        let mut last = Instant::now();
        while next <= ticks {
            for l in ws_lines(&mut reader, Duration::from_secs(60)).await {
                let Some(n) = l.strip_prefix("U,1,1,") else {
                    continue;
                };
                assert_eq!(n, next.to_string(), "the reader lost or reordered ticks");
                longest = longest.max(last.elapsed());
                last = Instant::now();
                next += 1;
            }
        }
        longest
    };
    let (written, longest) = tokio::join!(flood, read);
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    let flood_mib = (flood_bytes / 1024 / 1024) as u64;
    let grew = peak.saturating_sub(base);
    eprintln!(
        "flood of {flood_mib} MiB: written in {written:?}, all read by Shoal in {took:?}; \
         RSS {} -> {} MiB; longest wait between two ticks {longest:?}",
        base / MIB,
        peak / MIB
    );
    // What the stalled subscriber may hold: 10,000 updates of about 1 KiB
    // (10 MiB), its recovery log (4 MiB), socket and WebSocket buffers;
    // 64 MiB leaves room for the allocator, and is a fifth of the flood.
    let bound = 64 * MIB;
    assert!(
        grew < bound,
        "a flood of {flood_mib} MiB grew Shoal by {} MiB (from {} to {} MiB); a stalled RAW \
         subscriber should cost at most <max_buffer> updates, under {} MiB in all",
        grew / MIB,
        base / MIB,
        peak / MIB,
        bound / MIB
    );

    assert!(
        longest < Duration::from_secs(2),
        "the reader waited {longest:?} between two of its updates"
    );

    // The remote was not disconnected: it is asked for a new item, and
    // what it sends for it arrives.
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("remote adapter lost")),
        "the flooding remote was disconnected"
    );
    ws_subscribe(&mut reader, 2, &raw("after", "n"))
        .await
        .unwrap();
    let (after_sub, item) = remote.answer_sub().await;
    assert_eq!(item, "after");
    remote.update("after", &after_sub, &[("n", "1")]).await;
    ws_until(&mut reader, Duration::from_secs(10), |l| l == "U,2,1,1").await;

    // The stalled client reads again: it is told that updates were lost.
    let ov = ws_until(&mut stalled, Duration::from_secs(20), |l| {
        l.starts_with("OV,1,1,")
    })
    .await;
    eprintln!("the stalled client, reading again: {ov}");
}

/// What a remote sends that is not ARI.
#[derive(Debug, Clone, Copy)]
enum Garbage {
    NotAri,
    /// Over the codec's limit.
    TooLong,
    NotUtf8,
}

impl Garbage {
    const ALL: [Garbage; 3] = [Garbage::NotAri, Garbage::TooLong, Garbage::NotUtf8];

    /// The bytes sent (the last two: an update of subscription `sub`
    /// that goes wrong).
    fn bytes(self, sub: &str) -> Vec<u8> {
        let mut l = update_line("it", sub, &[("v", "")]).into_bytes();
        match self {
            Garbage::NotAri => return b"this is not ARI\r\n".to_vec(),
            // Up to the codec's limit (1 MiB, a `\r` and a BOM of slack)
            // and one byte more, without a line end: the proxy reads every
            // byte before it gives up, so its close is clean (no reset that
            // could lose `CLOSE`).
            Garbage::TooLong => l.resize((1 << 20) + 5, b'x'),
            Garbage::NotUtf8 => l.extend_from_slice(b"\xff\xfe\r\n"),
        }
        l
    }
}

/// Garbage from a remote after its init (a line that is not ARI, a line
/// over the codec's 1 MiB limit, a line that is not UTF-8): each time the
/// remote gets `CLOSE` (it enabled it in its `RAC`) and is disconnected,
/// the log names the set, the adapter and the port, the next remote on the
/// same port is served, and, the proxy being robust, it is asked again for
/// the item the client still holds, whose updates reach the same session.
/// Meanwhile the embedded `DEMO` set's counter reaches a bystander without
/// a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_that_sends_garbage_is_closed_and_the_next_one_recovers_the_items() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-garbage", "");
    let feed = proxy(true, &[("events_recovery", "use_snapshot")]);
    conf.add_adapter_set(
        "garbage",
        &adapters_xml("GARBAGE", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    // A robust data proxy: the server does not wait for its remote.
    let mut server = conf.launch_sets().listening(Duration::from_secs(10));
    let port = server.logs().ari_port("GARBAGE", Some("FEED"));
    let bystander = Bystander::start(&server, 50).await;
    let (mut ws, _) = ws_session_with(&server, "LS_adapter_set=GARBAGE").await;
    ws_subscribe(&mut ws, 1, &raw("it", "v")).await.unwrap();

    let port_text = format!("on 0.0.0.0:{}", port.port());
    let lost = [
        "remote adapter lost",
        "adapter set GARBAGE, data adapter FEED",
        &port_text,
    ];
    for (round, what) in Garbage::ALL.into_iter().enumerate() {
        let mut remote = Remote::ready(port, "DPI", None).await;
        // The item the client holds, subscribed on the new remote.
        let (sub, item) = remote.answer_sub().await;
        assert_eq!(item, "it");
        let v = format!("r{round}");
        remote.update("it", &sub, &[("v", &v)]).await;
        let want = format!("U,1,1,{v}");
        ws_until(&mut ws, Duration::from_secs(10), |l| l == want).await;

        let _ = remote.send_raw(&what.bytes(&sub)).await;
        let seen = remote.closed().await;
        assert!(
            seen.last()
                .is_some_and(|l| l.starts_with("0|CLOSE|S|reason|")),
            "after {what:?} the remote got {seen:?}, not CLOSE"
        );
        // The log names the set, the adapter and the port.
        server
            .logs()
            .wait_count(&lost, round + 1, Duration::from_secs(10));
        assert!(server.is_running(), "shoal exited after {what:?}");
    }
    // One more remote, for the same session.
    let mut remote = Remote::ready(port, "DPI", None).await;
    let (sub, _) = remote.answer_sub().await;
    remote.update("it", &sub, &[("v", "last")]).await;
    ws_until(&mut ws, Duration::from_secs(10), |l| l == "U,1,1,last").await;
    let lost_lines: Vec<String> = server
        .log()
        .into_iter()
        .filter(|l| l.contains("remote adapter lost"))
        .collect();
    eprintln!("{}", lost_lines.join("\n"));
    bystander.finish(Duration::from_secs(2)).await;
}

/// Answers every request of the proxy as a remote metadata adapter that
/// accepts everything would, until it has answered one of method `last`
/// (NNS ends a session's creation, NNT a subscription's); returns the
/// methods answered.
async fn serve_metadata(remote: &mut Remote, last: &str) -> Vec<String> {
    let mut answered = Vec::new();
    loop {
        let line = remote.line().await.expect("a request from the proxy");
        let f: Vec<&str> = line.split('|').collect();
        let (id, method) = (f[0], f[1]);
        // GIS and GSC: the group and the schema are lists of names
        // (space, written `+`, between them).
        let names = |s: &str| s.split('+').map(|n| format!("|S|{n}")).collect::<String>();
        let answer = match method {
            "NUS" => "|D|0.0|B|1".to_owned(),
            "GIS" => names(f[5]),
            "GSC" => names(f[7]),
            "GIT" => "|I|0|D|0.0|M|RMDC".repeat(f.len() / 2 - 1),
            "GUI" => "|I|0|D|0.0|M|RMDC".repeat(f.len() / 2 - 2),
            _ => "|V".to_owned(),
        };
        remote.send(&format!("{id}|{method}{answer}")).await;
        answered.push(method.to_owned());
        if method == last {
            return answered;
        }
    }
}

/// A remote metadata adapter that never answers: past `timeout` (500 ms
/// here) the client's session creation fails with `CONERR` 66 and its
/// subscription with `REQERR` 66 ("an unexpected exception was thrown by
/// the Metadata Adapter"), within about the timeout; the late answers are
/// dropped without harm, and the remote is kept: it serves the next
/// session and subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_metadata_remote_fails_calls_with_66_in_its_timeout_and_is_kept() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-stall", "");
    let metadata = proxy(false, &[("timeout", "500")]);
    let feed = proxy(true, &[]);
    conf.add_adapter_set("slow", &adapters_xml("SLOW", &metadata, &[("FEED", &feed)]));
    let launch = conf.launch_sets();
    let port = launch.log.ari_port("SLOW", None);
    let mut remote = Remote::ready(port, "MPI", None).await;
    let server = launch.listening(Duration::from_secs(10));
    let login = "LS_adapter_set=SLOW&LS_user=alice&LS_password=pw";
    let it = raw("it", "v");
    let in_time = |took: Duration| {
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_millis(2500),
            "failed after {took:?}, not about the 500 ms timeout"
        );
    };

    // Session creation: NUS is never answered.
    let mut ws = ws_connect(&server).await;
    let asked = Instant::now();
    let (created, nus) = tokio::join!(ws_create_with(&mut ws, login), remote.expect("NUS"));
    let took = asked.elapsed();
    let refused = created.unwrap_err();
    assert!(refused.starts_with("CONERR,66,"), "{refused}");
    in_time(took);
    // The late answer.
    remote.send(&format!("{}|NUS|D|0.0|B|1", nus[0])).await;

    // The same remote serves the next session.
    let (created, _) = tokio::join!(
        ws_create_with(&mut ws, login),
        serve_metadata(&mut remote, "NNS")
    );
    created.unwrap();

    // Subscription: GIS is never answered.
    let asked = Instant::now();
    let (sub, gis) = tokio::join!(ws_subscribe(&mut ws, 1, &it), remote.expect("GIS"));
    let took = asked.elapsed();
    let refused = sub.unwrap_err();
    assert!(refused.starts_with("REQERR,1,66,"), "{refused}");
    in_time(took);
    remote.send(&format!("{}|GIS|S|it", gis[0])).await;

    // And the next subscription, answered, succeeds.
    let (sub, answered) = tokio::join!(
        ws_subscribe(&mut ws, 2, &it),
        serve_metadata(&mut remote, "NNT")
    );
    sub.unwrap();
    eprintln!("answered {answered:?}");
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("remote adapter lost")),
        "the stalled remote was disconnected"
    );
}

/// A remote with wrong credentials gets `CLOSE` with the reason
/// "wrong credentials" and its connection closes.
async fn refused(port: std::net::SocketAddr) {
    let mut wrong = Remote::connect(port).await;
    wrong.rac(Some((USER, "guess"))).await;
    assert_eq!(
        wrong.closed().await,
        ["0|CLOSE|S|reason|S|wrong+credentials"]
    );
}

/// Wrong remote credentials on a plain proxy: the remote gets `CLOSE`
/// and is disconnected, the log says `refused` and names the set, the
/// server stays up and, as its start waits for the remotes of plain
/// proxies, opens its client listener only once a remote with the right
/// credentials is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_remote_credentials_are_refused_and_a_plain_proxy_still_waits() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-auth-plain", "");
    let feed = proxy(false, &auth_params());
    conf.add_adapter_set(
        "auth",
        &adapters_xml("AUTHP", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    let mut launch = conf.launch_sets();
    let port = launch.log.ari_port("AUTHP", Some("FEED"));
    refused(port).await;
    let line = launch.log.wait("refused", Duration::from_secs(5));
    assert!(line.contains("AUTHP"), "{line}");
    assert!(line.contains("wrong credentials"), "{line}");
    assert!(launch.is_running(), "shoal exited");
    // A negative: the listener does not open meanwhile (a short quiet
    // period; it opens within milliseconds once a remote is there).
    let launch = match launch.try_listening(Duration::from_millis(500)) {
        Ok(server) => panic!("listening on {} without a remote", server.addr),
        Err(launch) => launch,
    };
    let mut remote = Remote::ready(port, "DPI", Some((USER, PASSWORD))).await;
    let server = launch.listening(Duration::from_secs(10));
    let (mut ws, _) = ws_session_with(&server, "LS_adapter_set=AUTHP").await;
    ws_subscribe(&mut ws, 1, &raw("it", "v")).await.unwrap();
    let (sub, _) = remote.answer_sub().await;
    remote.update("it", &sub, &[("v", "1")]).await;
    ws_until(&mut ws, Duration::from_secs(10), |l| l == "U,1,1,1").await;
}

/// A server whose start waits for its remote (a plain proxy's) stops at
/// once on SIGTERM or SIGINT meanwhile, as it does once it serves. (It
/// used to take the signals without acting on them until a remote came.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_waiting_for_its_remote_stops_on_a_signal() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-wait-signal", "");
    let feed = proxy(false, &[]);
    conf.add_adapter_set(
        "wait",
        &adapters_xml("WAIT", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    for signal in ["TERM", "INT"] {
        let mut launch = conf.launch_sets();
        launch.log.wait(
            "the server starts once this remote adapter is connected",
            Duration::from_secs(10),
        );
        launch.signal(signal);
        let status = launch.wait_exit(Duration::from_secs(5));
        assert!(status.success(), "after SIG{signal}: {status}");
        launch.log.wait(
            "stopped while waiting for remote adapters",
            Duration::from_secs(2),
        );
    }
}

/// Wrong remote credentials on a robust proxy whose start does not wait
/// (`first_connection_timeout_millis` 0): the server listens at once,
/// refuses the remote the same way, serves clients meanwhile, and the
/// remote with the right credentials gets their items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_remote_credentials_are_refused_and_a_robust_proxy_serves_meanwhile() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-auth-robust", "");
    let mut params = auth_params().to_vec();
    params.push(("first_connection_timeout_millis", "0"));
    let feed = proxy(true, &params);
    conf.add_adapter_set(
        "auth",
        &adapters_xml("AUTHR", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    let mut server = conf.launch_sets().listening(Duration::from_secs(10));
    let port = server.logs().ari_port("AUTHR", Some("FEED"));
    let (mut ws, _) = ws_session_with(&server, "LS_adapter_set=AUTHR").await;
    ws_subscribe(&mut ws, 1, &raw("it", "v")).await.unwrap();
    refused(port).await;
    let line = server.wait_log("refused", Duration::from_secs(5));
    assert!(line.contains("AUTHR"), "{line}");
    assert!(server.is_running(), "shoal exited");
    let mut remote = Remote::ready(port, "DPI", Some((USER, PASSWORD))).await;
    let (sub, item) = remote.answer_sub().await;
    assert_eq!(item, "it");
    remote.update("it", &sub, &[("v", "1")]).await;
    ws_until(&mut ws, Duration::from_secs(10), |l| l == "U,1,1,1").await;
}

/// A remote metadata adapter that disconnects while a client waits for
/// its answer (`NUS`, then `GIS` on the next remote): the client's request
/// fails at once with 66, not after the timeout (20 s here); the robust
/// proxy serves the next remote, for the same session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_remote_lost_in_the_middle_of_a_call_fails_it_at_once() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-drop", "");
    let metadata = proxy(true, &[("timeout", "20000")]);
    let feed = proxy(true, &[]);
    conf.add_adapter_set("drop", &adapters_xml("DROP", &metadata, &[("FEED", &feed)]));
    let launch = conf.launch_sets();
    let port = launch.log.ari_port("DROP", None);
    let mut remote = Remote::ready(port, "MPI", None).await;
    let server = launch.listening(Duration::from_secs(10));
    let login = "LS_adapter_set=DROP&LS_user=alice&LS_password=pw";
    let it = raw("it", "v");
    let promptly = |took: Duration, what: &str| {
        assert!(
            took < Duration::from_secs(3),
            "{what} failed after {took:?}: the client waited for the timeout"
        );
    };

    let mut ws = ws_connect(&server).await;
    let asked = Instant::now();
    let (created, ()) = tokio::join!(ws_create_with(&mut ws, login), async {
        remote.expect("NUS").await;
        drop(remote);
    });
    let refused = created.unwrap_err();
    assert!(refused.starts_with("CONERR,66,"), "{refused}");
    promptly(asked.elapsed(), "the session creation");

    // (A client arriving between the remote's init answer and its
    // reading by the proxy would find no remote: wait for the proxy.)
    let mut remote = Remote::ready(port, "MPI", None).await;
    server.logs().wait_ready("DROP", None, 2);
    let (created, _) = tokio::join!(
        ws_create_with(&mut ws, login),
        serve_metadata(&mut remote, "NNS")
    );
    created.unwrap();
    let asked = Instant::now();
    let (sub, ()) = tokio::join!(ws_subscribe(&mut ws, 1, &it), async {
        remote.expect("GIS").await;
        drop(remote);
    });
    let refused = sub.unwrap_err();
    assert!(refused.starts_with("REQERR,1,66,"), "{refused}");
    promptly(asked.elapsed(), "the subscription");

    let mut remote = Remote::ready(port, "MPI", None).await;
    server.logs().wait_ready("DROP", None, 3);
    let (sub, _) = tokio::join!(
        ws_subscribe(&mut ws, 2, &it),
        serve_metadata(&mut remote, "NNT")
    );
    sub.unwrap();
}

/// Longest time the proxy gives a new connection for its TLS handshake and
/// credentials (`HANDSHAKE_TIMEOUT` of crates/remote/src/port.rs).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Two hundred connections to the ARI port of a proxy with `auth` that
/// never complete their credentials: silent ones, ones that send the start
/// of a `RAC` and stop, ones that send a long first line and stop. They do
/// not keep the legitimate remote from connecting and being served at
/// once; each costs the server one descriptor and little memory while it
/// lasts; the proxy drops them all within its handshake timeout, and the
/// server's descriptors come back to where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_handshake_do_not_block_the_remote() {
    let _shared = ALONE.read().await;
    let conf = ConfDir::new("remote-many", "");
    let feed = proxy(false, &auth_params());
    conf.add_adapter_set(
        "many",
        &adapters_xml("MANY", LITERAL_METADATA, &[("FEED", &feed)]),
    );
    let launch = conf.launch_sets();
    let port = launch.log.ari_port("MANY", Some("FEED"));
    let pid = launch.pid();
    let base_fds = fds_of(pid);
    let base_rss = rss_of(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let peak = watch_rss(pid, stop.clone());

    // A long first line: 900 KiB, under the codec's 1 MiB limit but far
    // over the 16 KiB a connection that owes its credentials may send: the
    // proxy may close it while it is still being written.
    let long_rac = format!("1|RAC|S|user|S|{}", "u".repeat(900 * 1024));
    let opened = Instant::now();
    let mut hostile = Vec::new();
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(port).await.unwrap();
        let bytes: &[u8] = match i % 4 {
            0 | 1 => b"",
            2 => b"1|RAC|S|user|S|",
            _ => long_rac.as_bytes(),
        };
        match tokio::io::AsyncWriteExt::write_all(&mut s, bytes).await {
            Ok(()) => {}
            // Refused at once (the long line): what the proxy should do.
            Err(e) if i % 4 == 3 => eprintln!("long first line {i}: {e}"),
            Err(e) => panic!("connection {i}: {e}"),
        }
        hostile.push(s);
    }
    let held_fds = fds_of(pid);
    eprintln!(
        "200 connections in {:?}: descriptors {base_fds} -> {held_fds}",
        opened.elapsed()
    );
    assert!(
        held_fds <= base_fds + 200 + 16,
        "200 connections took {} descriptors",
        held_fds - base_fds
    );

    // The legitimate remote, served at once; the listener then opens.
    let came = Instant::now();
    let mut remote = Remote::ready(port, "DPI", Some((USER, PASSWORD))).await;
    let server = launch.listening(Duration::from_secs(5));
    let (mut ws, _) = ws_session_with(&server, "LS_adapter_set=MANY").await;
    ws_subscribe(&mut ws, 1, &raw("it", "v")).await.unwrap();
    let (sub, _) = remote.answer_sub().await;
    remote.update("it", &sub, &[("v", "1")]).await;
    ws_until(&mut ws, Duration::from_secs(10), |l| l == "U,1,1,1").await;
    let served = came.elapsed();
    assert!(
        served < Duration::from_secs(3),
        "the remote was served after {served:?}"
    );
    // Each hostile connection is closed by the proxy within its handshake
    // timeout (counted from when it was opened).
    let deadline =
        tokio::time::Instant::from_std(opened) + HANDSHAKE_TIMEOUT + Duration::from_secs(3);
    for (i, s) in hostile.iter_mut().enumerate() {
        let mut buf = [0u8; 256];
        let end = tokio::time::timeout_at(deadline, async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            end.is_ok(),
            "connection {i} still open {:?} after it was opened",
            opened.elapsed()
        );
    }
    drop(hostile);
    stop.store(true, Ordering::Relaxed);
    let peak = peak.join().unwrap();
    eprintln!("RSS {} -> {} MiB at most", base_rss / MIB, peak / MIB);
    // 50 connections sent 900 KiB each (45 MiB): the server must not hold
    // it (a first line that long is no RAC), nor 1 MiB per connection.
    assert!(
        peak.saturating_sub(base_rss) < 16 * MIB,
        "the half-open connections grew the server from {} to {} MiB",
        base_rss / MIB,
        peak / MIB
    );
    let closed_fds = fds_of(server.pid());
    assert!(
        closed_fds <= base_fds + 16,
        "descriptors: {base_fds} before, {held_fds} with 200 connections, {closed_fds} after they closed"
    );
    // The remote still serves.
    remote.update("it", &sub, &[("v", "2")]).await;
    ws_until(&mut ws, Duration::from_secs(10), |l| l == "U,1,1,2").await;
}
