//! Shared test helpers: a recording listener and condition polling.

#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use shoal_adapter::{AdapterSet, DataProvider, ItemEvent, ItemEventListener, SessionInfo};

/// Generous: only reached when something is broken.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Update {
        item: String,
        event: ItemEvent,
        snapshot: bool,
    },
    EndOfSnapshot(String),
    ClearSnapshot(String),
    Failure(String),
}

impl Call {
    pub fn update(&self) -> Option<(&str, &ItemEvent, bool)> {
        match self {
            Call::Update {
                item,
                event,
                snapshot,
            } => Some((item, event, *snapshot)),
            _ => None,
        }
    }
}

/// Records every listener call in order.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.calls.lock().len()
    }

    /// Updates of `item`, in order.
    pub fn updates(&self, item: &str) -> Vec<(ItemEvent, bool)> {
        self.calls
            .lock()
            .iter()
            .filter_map(Call::update)
            .filter(|(i, _, _)| *i == item)
            .map(|(_, e, s)| (e.clone(), s))
            .collect()
    }

    /// Calls about `item`, in order.
    pub fn calls_for(&self, item: &str) -> Vec<Call> {
        self.calls
            .lock()
            .iter()
            .filter(|c| match c {
                Call::Update { item: i, .. } => i == item,
                Call::EndOfSnapshot(i) | Call::ClearSnapshot(i) => i == item,
                Call::Failure(_) => false,
            })
            .cloned()
            .collect()
    }

    /// Polls until `cond` holds on the calls so far; panics after [`TIMEOUT`].
    /// `cond` runs under the recorder's lock: it must not use the recorder.
    pub async fn wait_until(&self, what: &str, cond: impl Fn(&[Call]) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if cond(&self.calls.lock()) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what}; calls: {:?}", self.calls());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Waits until the number of calls stays the same across two checks
    /// `interval` apart; returns that number.
    pub async fn wait_quiet(&self, interval: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut last = self.len();
        let mut stable = 0;
        while stable < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "events never stopped"
            );
            tokio::time::sleep(interval).await;
            let now = self.len();
            stable = if now == last { stable + 1 } else { 0 };
            last = now;
        }
        last
    }
}

impl ItemEventListener for Recorder {
    fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
        self.calls.lock().push(Call::Update {
            item: item.to_owned(),
            event,
            snapshot: is_snapshot,
        });
    }
    fn end_of_snapshot(&self, item: &str) {
        self.calls.lock().push(Call::EndOfSnapshot(item.to_owned()));
    }
    fn clear_snapshot(&self, item: &str) {
        self.calls.lock().push(Call::ClearSnapshot(item.to_owned()));
    }
    fn failure(&self, message: &str) {
        self.calls.lock().push(Call::Failure(message.to_owned()));
    }
}

/// The DEMO set with a recorder as every data provider's listener, as the
/// server would set it up.
pub fn setup() -> (AdapterSet, Arc<Recorder>) {
    let set = shoal_demo::adapter_set();
    let recorder = Arc::new(Recorder::default());
    for provider in set.data.values() {
        provider.set_listener(recorder.clone());
    }
    (set, recorder)
}

pub fn provider(set: &AdapterSet, name: &str) -> Arc<dyn DataProvider> {
    set.data
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no data adapter {name}"))
}

pub fn session(user: Option<&str>, ip: &str) -> SessionInfo {
    SessionInfo {
        session_id: "S1".into(),
        user: user.map(str::to_owned),
        client_ip: ip.into(),
        ..SessionInfo::default()
    }
}

/// The value of `field` in `event`, which must be set and non-null.
pub fn field<'a>(event: &'a ItemEvent, field: &str) -> &'a str {
    event
        .get(field)
        .flatten()
        .unwrap_or_else(|| panic!("field {field} missing in {event:?}"))
}

pub fn is_hh_mm_ss(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}
