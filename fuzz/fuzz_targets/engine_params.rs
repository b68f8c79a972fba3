//! Drives the engine with requests whose parameter values are chosen by the
//! fuzzer: every number a client may send (frequencies, buffer sizes,
//! snapshot lengths, content lengths, keepalive/idle/polling millis,
//! recovery points, message progressives and waits, cause codes) goes
//! through the protocol parser and then into the engine's arithmetic, with a
//! metadata adapter whose per-item limits are fuzzed too. Nothing may panic.
//!
//! The input is read as a script: a handful of steps, each a request (built
//! as a parameter line from values picked by the input), an update from the
//! data adapter, or a read of the stream. Time is tokio's paused clock, so
//! keepalives, polling idles, message waits and frequency slots pass at once.
#![no_main]

use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use shoal_adapter::{
    ready, AdapterError, AdapterSet, BoxFuture, DataProvider, ItemEvent, ItemEventListener,
    ItemData, Login, MetadataProvider, SessionInfo,
};
use shoal_engine::{BindContext, Engine, EngineConfig, Stream};
use shoal_protocol::parse_http;
use shoal_protocol::request::Request;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Values on the edges of what the parser takes: zero, one, the largest
/// numbers of 18 digits (and one digit more), 32-bit limits, signs.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "999",
    "1000",
    "4294967295",
    "4294967296",
    "2147483647",
    "-2147483648",
    "-1",
    "999999999999999999",
    "9999999999999999999",
    "true",
    "false",
    "",
];

/// Frequencies (and bandwidths): tiny and huge decimals, the floor, words.
const DECIMALS: &[&str] = &[
    "0.0000000000000000001",
    "0.000000000000000000000001",
    "0.0005",
    "0.001",
    "0.5",
    "999999999999999999999999",
    "0",
    "0.0",
    "unlimited",
    "unfiltered",
];

/// A parameter value: absent, an edge of `edges`, or digits and dots.
fn value(u: &mut Unstructured<'_>, edges: &[&str]) -> AResult<Option<String>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => None,
        1 | 2 => Some((*u.choose(edges)?).to_owned()),
        _ => {
            let len = u.int_in_range(1..=26usize)?;
            let mut s = String::with_capacity(len);
            for _ in 0..len {
                s.push(*u.choose(&['0', '1', '5', '9', '.', '-'])?);
            }
            Some(s)
        }
    })
}

/// Appends `&name=value` when the input gives a value.
fn param(u: &mut Unstructured<'_>, line: &mut String, name: &str) -> AResult<()> {
    let edges = if name.contains("frequency") || name.contains("bandwidth") {
        DECIMALS
    } else {
        NUMBERS
    };
    if let Some(v) = value(u, edges)? {
        line.push_str(&format!("&{name}={v}"));
    }
    Ok(())
}

/// A metadata adapter that takes everything, with per-item limits from the
/// input (any f64, NaN and negatives included, as a faulty adapter could).
struct Meta {
    limits: ItemData,
}

impl MetadataProvider for Meta {
    fn notify_user<'a>(&'a self, _: &'a Login) -> BoxFuture<'a, Result<(), AdapterError>> {
        ready(Ok(()))
    }

    fn get_items<'a>(
        &'a self,
        _: &'a SessionInfo,
        group: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(Ok(group.split(' ').map(str::to_owned).collect()))
    }

    fn get_schema<'a>(
        &'a self,
        _: &'a SessionInfo,
        _: &'a str,
        schema: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, AdapterError>> {
        ready(Ok(schema.split(' ').map(str::to_owned).collect()))
    }

    fn item_data<'a>(
        &'a self,
        _: &'a SessionInfo,
        _: &'a str,
        items: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ItemData>, AdapterError>> {
        ready(Ok(vec![self.limits; items.len()]))
    }

    fn notify_user_message<'a>(
        &'a self,
        _: &'a SessionInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, AdapterError>> {
        ready(Ok(None))
    }
}

/// A data adapter whose updates the script sends.
#[derive(Default)]
struct Data {
    listener: Mutex<Option<Arc<dyn ItemEventListener>>>,
}

impl DataProvider for Data {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        *self.listener.lock().unwrap() = Some(listener);
    }
    fn subscribe(&self, _: &str) -> Result<(), AdapterError> {
        Ok(())
    }
    fn unsubscribe(&self, _: &str) {}
    fn is_snapshot_available(&self, _: &str) -> bool {
        true
    }
}

/// Parses one request line as the HTTP transport would.
fn parse(name: &str, line: &str) -> Option<Request> {
    let mut batch = parse_http(name, "", line).ok()?;
    batch.requests.pop()?.ok()
}

/// Reads the stream until it pauses (or a bounded number of chunks).
async fn drain(stream: &mut Option<Stream>) {
    let Some(s) = stream else { return };
    for _ in 0..4 {
        // Paused time: the timeout passes as soon as the runtime is idle.
        match tokio::time::timeout(Duration::from_secs(3600), s.next_chunk()).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                *stream = None;
                return;
            }
            Err(_) => return,
        }
    }
}

async fn run(u: &mut Unstructured<'_>) -> AResult<()> {
    let limits = ItemData {
        max_frequency: if u.arbitrary()? {
            Some(f64::from_bits(u.arbitrary()?))
        } else {
            None
        },
        max_buffer_size: u.arbitrary()?,
        distinct_snapshot_length: u.arbitrary()?,
        ..ItemData::default()
    };
    let data = Arc::new(Data::default());
    let mut set_data: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
    set_data.insert("DEFAULT".into(), data.clone());
    let set = AdapterSet {
        name: "FUZZ".into(),
        metadata: Arc::new(Meta { limits }),
        data: set_data,
        ignores_control_link: false,
    };
    let config = EngineConfig {
        max_buffer: u.int_in_range(0..=3usize)?,
        distinct_snapshot_length: u.int_in_range(0..=3usize)?,
        ..EngineConfig::default()
    };
    let engine = Engine::new(config, vec![set]);
    let ctx = BindContext {
        client_ip: "127.0.0.1".into(),
        server_name: "fuzz".into(),
        websocket: u.arbitrary()?,
        ..BindContext::default()
    };

    let mut line = "LS_adapter_set=FUZZ&LS_cid=f".to_owned();
    for name in [
        "LS_content_length",
        "LS_polling",
        "LS_polling_millis",
        "LS_idle_millis",
        "LS_keepalive_millis",
        "LS_inactivity_millis",
        "LS_send_sync",
        "LS_requested_max_bandwidth",
    ] {
        param(u, &mut line, name)?;
    }
    let Some(Request::CreateSession(create)) = parse("create_session", &line) else {
        return Ok(());
    };
    let Ok(first) = engine.create_session(&create, &ctx).await else {
        return Ok(());
    };
    let session = first.session().id.clone();
    let mut stream = Some(first);
    let mut req = 0u32;

    for _ in 0..u.int_in_range(1..=12u8)? {
        req += 1;
        let head = format!("LS_reqId={req}&LS_session={session}");
        match u.int_in_range(0..=8u8)? {
            0 | 1 => {
                let mode = *u.choose(&["RAW", "MERGE", "DISTINCT", "COMMAND"])?;
                let mut line = format!(
                    "{head}&LS_op=add&LS_subId={}&LS_group=a%20b&LS_schema=key%20command%20v&LS_mode={mode}",
                    u.int_in_range(1..=3u8)?
                );
                for name in [
                    "LS_requested_max_frequency",
                    "LS_requested_buffer_size",
                    "LS_snapshot",
                ] {
                    param(u, &mut line, name)?;
                }
                if let Some(Request::Control(c)) = parse("control", &line) {
                    let _ = engine.control(&session, c).await;
                }
            }
            2 => {
                let mut line = format!("{head}&LS_op=reconf&LS_subId={}", u.int_in_range(1..=3u8)?);
                param(u, &mut line, "LS_requested_max_frequency")?;
                if let Some(Request::Control(c)) = parse("control", &line) {
                    let _ = engine.control(&session, c).await;
                }
            }
            3 => {
                let op = *u.choose(&["delete", "force_rebind", "destroy", "constrain"])?;
                let mut line = format!("{head}&LS_op={op}&LS_subId={}", u.int_in_range(1..=3u8)?);
                for name in [
                    "LS_polling_millis",
                    "LS_cause_code",
                    "LS_requested_max_bandwidth",
                ] {
                    param(u, &mut line, name)?;
                }
                if let Some(Request::Control(c)) = parse("control", &line) {
                    let _ = engine.control(&session, c).await;
                }
            }
            4 => {
                let mut line = format!("{head}&LS_message=m");
                if u.arbitrary()? {
                    line.push_str("&LS_sequence=S");
                }
                for name in ["LS_msg_prog", "LS_max_wait", "LS_outcome"] {
                    param(u, &mut line, name)?;
                }
                if let Some(Request::Msg(m)) = parse("msg", &line) {
                    let _ = engine.message(&session, m).await;
                }
            }
            5 => {
                let mut line = format!("LS_session={session}");
                for name in [
                    "LS_recovery_from",
                    "LS_content_length",
                    "LS_polling",
                    "LS_polling_millis",
                    "LS_idle_millis",
                    "LS_keepalive_millis",
                    "LS_send_sync",
                ] {
                    param(u, &mut line, name)?;
                }
                if let Some(Request::BindSession(b)) = parse("bind_session", &line) {
                    if let Ok(s) = engine.bind_session(&b, &ctx) {
                        stream = Some(s);
                    }
                }
            }
            6 | 7 => {
                let listener = data.listener.lock().unwrap().clone();
                // A few events, then what the stream makes of them (the
                // frequency limit and buffers act as they are taken).
                if let Some(l) = listener {
                    for _ in 0..u.int_in_range(1..=4u8)? {
                        let item = *u.choose(&["a", "b"])?;
                        let key = *u.choose(&["k1", "k2"])?;
                        let command = *u.choose(&["ADD", "UPDATE", "DELETE"])?;
                        let ev = ItemEvent::new()
                            .with("key", key)
                            .with("command", command)
                            .with("v", req.to_string());
                        match u.int_in_range(0..=7u8)? {
                            0 => l.end_of_snapshot(item),
                            1 => l.clear_snapshot(item),
                            n => l.update(item, ev, n == 2),
                        }
                    }
                    drain(&mut stream).await;
                }
            }
            _ => {
                let ms = u.int_in_range(0..=4_000_000u64)?;
                tokio::time::advance(Duration::from_millis(ms)).await;
                drain(&mut stream).await;
            }
        }
    }
    drain(&mut stream).await;
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    let mut u = Unstructured::new(data);
    let _ = rt.block_on(run(&mut u));
});
