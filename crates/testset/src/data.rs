//! The data adapters of `TEST`: one provider type, each instance playing a
//! script per subscribed item on a task of its own, stopped on unsubscribe.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use shoal_adapter::{AdapterError, DataProvider, DiffAlgorithm, ItemEvent, ItemEventListener};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::COUNT_PERIOD;

/// Item names, as the suite subscribes them.
const COUNT_ITEM: &str = "count";
const MULT_TABLE_ITEM: &str = "mult_table";
const TWO_LEVEL_ITEM: &str = "two_level_command_count";
const STRANGE_ITEM: &str = "strange:àìùòlè";
const CLEAR_SNAPSHOT_ITEM: &str = "clear_snapshot";
const END_OF_SNAPSHOT_ITEM: &str = "end_of_snapshot";
const OVERFLOW_ITEM: &str = "overflow";

/// Rows of the `mult_table` item.
const MULT_TABLE_ROWS: u64 = 5;
/// Events of the `end_of_snapshot` snapshot.
const END_OF_SNAPSHOT_EVENTS: u64 = 3;
/// The key of the one row of `two_level_command_count`: also the item of
/// `COUNT` the client subscribes as its second level.
const TWO_LEVEL_KEY: &str = "count";
/// Time between two clears of `clear_snapshot`.
const CLEAR_PERIOD: Duration = Duration::from_millis(500);
/// `overflow` sends a burst of [`OVERFLOW_BURST`] events every period.
const OVERFLOW_PERIOD: Duration = Duration::from_millis(10);
const OVERFLOW_BURST: u64 = 20;
/// Time between two updates of the `count` items of `JSON_COUNT` and
/// `DIFF_COUNT`: short, the suite waits for two updates, but longer than the
/// suite's polling interval (100 ms), so that a polling client gets every
/// event (a diff goes only from the event the client got just before).
const DIFF_COUNT_PERIOD: Duration = Duration::from_millis(300);
/// The constant part of the `JSON_COUNT` and `DIFF_COUNT` values: long
/// enough that a diff from the previous value is shorter than the value,
/// else the server sends the value in full.
const DIFF_NOTE: &str =
    "only the number changes from one update to the next, so this goes as a diff";

/// What a provider does with its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Count,
    MultTable,
    TwoLevel,
    Strange,
    ClearSnapshot,
    EndOfSnapshot,
    Overflow,
    JsonCount,
    DiffCount,
}

impl Script {
    fn item(self) -> &'static str {
        match self {
            Script::Count => COUNT_ITEM,
            Script::MultTable => MULT_TABLE_ITEM,
            Script::TwoLevel => TWO_LEVEL_ITEM,
            Script::Strange => STRANGE_ITEM,
            Script::ClearSnapshot => CLEAR_SNAPSHOT_ITEM,
            Script::EndOfSnapshot => END_OF_SNAPSHOT_ITEM,
            Script::Overflow => OVERFLOW_ITEM,
            Script::JsonCount | Script::DiffCount => COUNT_ITEM,
        }
    }

    /// Whether the provider serves `item`: its item, or for `TwoLevel` any
    /// name that starts with it.
    fn serves(self, item: &str) -> bool {
        match self {
            Script::TwoLevel => item.starts_with(TWO_LEVEL_ITEM),
            _ => item == self.item(),
        }
    }

    fn has_snapshot(self) -> bool {
        !matches!(self, Script::Strange | Script::ClearSnapshot)
    }

    /// Plays the script for `item` until the task is aborted.
    async fn play(self, item: String, l: Arc<dyn ItemEventListener>) {
        match self {
            Script::Count => {
                let mut n: u64 = 0;
                l.update(&item, ItemEvent::new().with("count", n.to_string()), true);
                let mut tick = interval(COUNT_PERIOD);
                loop {
                    tick.tick().await;
                    n += 1;
                    l.update(&item, ItemEvent::new().with("count", n.to_string()), false);
                }
            }
            Script::MultTable => {
                for k in 1..=MULT_TABLE_ROWS {
                    l.update(&item, row(k, 1, "ADD"), true);
                }
                l.end_of_snapshot(&item);
                let mut tick = interval(COUNT_PERIOD);
                for round in 2u64.. {
                    tick.tick().await;
                    l.update(
                        &item,
                        row(round % MULT_TABLE_ROWS + 1, round, "UPDATE"),
                        false,
                    );
                }
            }
            Script::TwoLevel => {
                let add = ItemEvent::new()
                    .with("key", TWO_LEVEL_KEY)
                    .with("command", "ADD");
                l.update(&item, add, true);
                l.end_of_snapshot(&item);
            }
            Script::Strange => {}
            Script::ClearSnapshot => {
                let mut tick = interval(CLEAR_PERIOD);
                for n in 1u64.. {
                    tick.tick().await;
                    l.update(&item, ItemEvent::new().with("dummy", n.to_string()), false);
                    l.clear_snapshot(&item);
                }
            }
            Script::EndOfSnapshot => {
                for n in 1..=END_OF_SNAPSHOT_EVENTS {
                    l.update(&item, ItemEvent::new().with("value", n.to_string()), true);
                }
                l.end_of_snapshot(&item);
            }
            Script::JsonCount | Script::DiffCount => {
                let algorithm = if self == Script::JsonCount {
                    DiffAlgorithm::JsonPatch
                } else {
                    DiffAlgorithm::DiffMatchPatch
                };
                let fields = HashMap::from([("count".to_owned(), vec![algorithm])]);
                l.declare_field_diff_order(&item, fields);
                let mut tick = interval(DIFF_COUNT_PERIOD);
                for n in 0u64.. {
                    l.update(&item, self.diff_count_event(n), n == 0);
                    tick.tick().await;
                }
            }
            Script::Overflow => {
                let mut n: u64 = 0;
                l.update(&item, ItemEvent::new().with("value", n.to_string()), true);
                let mut tick = interval(OVERFLOW_PERIOD);
                loop {
                    tick.tick().await;
                    for _ in 0..OVERFLOW_BURST {
                        n += 1;
                        l.update(&item, ItemEvent::new().with("value", n.to_string()), false);
                    }
                }
            }
        }
    }
}

impl Script {
    /// Event `n` of `JSON_COUNT` (`{"value":n,"note":…}`, JSON as every
    /// official client writes it back) or `DIFF_COUNT` (`value=n; …`).
    fn diff_count_event(self, n: u64) -> ItemEvent {
        let value = if self == Script::JsonCount {
            format!("{{\"value\":{n},\"note\":\"{DIFF_NOTE}\"}}")
        } else {
            format!("value={n}; {DIFF_NOTE}")
        };
        ItemEvent::new().with("count", value)
    }
}

/// A row of the multiplication table: `value1` is the key, `value2` the
/// key times `factor`.
fn row(key: u64, factor: u64, command: &str) -> ItemEvent {
    ItemEvent::new()
        .with("key", key.to_string())
        .with("command", command)
        .with("value1", key.to_string())
        .with("value2", (key * factor).to_string())
}

/// A ticker whose first tick is one period away (tokio's first is at once).
fn interval(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// A data adapter of `TEST`, playing its [`Script`].
pub(crate) struct Scripted {
    script: Script,
    listener: RwLock<Option<Arc<dyn ItemEventListener>>>,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self.tasks.lock().keys().cloned().collect();
        f.debug_struct("Scripted")
            .field("script", &self.script)
            .field("items", &items)
            .finish_non_exhaustive()
    }
}

impl Scripted {
    pub(crate) fn new(script: Script) -> Self {
        Self {
            script,
            listener: RwLock::new(None),
            tasks: Mutex::new(HashMap::new()),
        }
    }
}

impl DataProvider for Scripted {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        *self.listener.write() = Some(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        if !self.script.serves(item) {
            return Err(AdapterError::bad_group(format!(
                "no such item: {item} (this adapter serves {})",
                self.script.item()
            )));
        }
        let listener = self.listener.read().clone().ok_or_else(|| {
            AdapterError::new(-1, "data adapter not ready: set_listener was not called")
        })?;
        let handle = Handle::try_current().map_err(|_| {
            AdapterError::new(
                -1,
                "TEST data adapters run on a tokio runtime, but subscribe was called outside one",
            )
        })?;
        let task = handle.spawn(self.script.play(item.to_owned(), listener));
        if let Some(old) = self.tasks.lock().insert(item.to_owned(), task) {
            old.abort();
        }
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        if let Some(task) = self.tasks.lock().remove(item) {
            task.abort();
        }
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        self.script.has_snapshot()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        for (_, task) in self.tasks.lock().drain() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a provider told its listener, one line per call.
    #[derive(Default)]
    struct Record(Mutex<Vec<String>>);

    impl ItemEventListener for Record {
        fn update(&self, item: &str, event: ItemEvent, is_snapshot: bool) {
            let fields: Vec<String> = event
                .fields()
                .map(|(n, v)| format!("{n}={}", v.unwrap_or("#")))
                .collect();
            self.0
                .lock()
                .push(format!("{item} {} {is_snapshot}", fields.join(",")));
        }
        fn end_of_snapshot(&self, item: &str) {
            self.0.lock().push(format!("{item} EOS"));
        }
        fn clear_snapshot(&self, item: &str) {
            self.0.lock().push(format!("{item} CS"));
        }
        fn failure(&self, message: &str) {
            self.0.lock().push(format!("failure {message}"));
        }
        fn declare_field_diff_order(
            &self,
            item: &str,
            fields: HashMap<String, Vec<DiffAlgorithm>>,
        ) {
            let mut fields: Vec<String> = fields
                .into_iter()
                .map(|(f, a)| format!("{f}={a:?}"))
                .collect();
            fields.sort();
            self.0
                .lock()
                .push(format!("{item} diffs {}", fields.join(",")));
        }
    }

    fn started(script: Script) -> (Scripted, Arc<Record>) {
        let p = Scripted::new(script);
        let rec = Arc::new(Record::default());
        p.set_listener(rec.clone());
        p.subscribe(script.item()).unwrap();
        (p, rec)
    }

    #[tokio::test(start_paused = true)]
    async fn count_sends_its_snapshot_then_counts() {
        let (p, rec) = started(Script::Count);
        tokio::time::sleep(COUNT_PERIOD * 2 + Duration::from_millis(1)).await;
        p.unsubscribe(COUNT_ITEM);
        tokio::time::sleep(COUNT_PERIOD * 3).await;
        assert_eq!(
            *rec.0.lock(),
            [
                "count count=0 true",
                "count count=1 false",
                "count count=2 false"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn snapshots_end_and_clears_come() {
        let (_eos, rec) = started(Script::EndOfSnapshot);
        let (_table, table) = started(Script::MultTable);
        let (_clear, clear) = started(Script::ClearSnapshot);
        tokio::time::sleep(CLEAR_PERIOD + Duration::from_millis(1)).await;
        assert_eq!(
            *rec.0.lock(),
            [
                "end_of_snapshot value=1 true",
                "end_of_snapshot value=2 true",
                "end_of_snapshot value=3 true",
                "end_of_snapshot EOS"
            ]
        );
        let table = table.0.lock();
        assert_eq!(
            table[0],
            "mult_table key=1,command=ADD,value1=1,value2=1 true"
        );
        assert_eq!(table[5], "mult_table EOS");
        assert_eq!(
            clear.0.lock()[..2],
            ["clear_snapshot dummy=1 false", "clear_snapshot CS"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn json_count_and_diff_count_declare_their_diffs_then_count() {
        let (_json, json) = started(Script::JsonCount);
        let (_diff, diff) = started(Script::DiffCount);
        tokio::time::sleep(DIFF_COUNT_PERIOD + Duration::from_millis(1)).await;
        let json = json.0.lock();
        assert_eq!(json[0], "count diffs count=[JsonPatch]");
        assert_eq!(
            json[1],
            format!("count count={{\"value\":0,\"note\":\"{DIFF_NOTE}\"}} true")
        );
        assert_eq!(
            json[2],
            format!("count count={{\"value\":1,\"note\":\"{DIFF_NOTE}\"}} false")
        );
        let diff = diff.0.lock();
        assert_eq!(
            *diff,
            [
                "count diffs count=[DiffMatchPatch]".to_owned(),
                format!("count count=value=0; {DIFF_NOTE} true"),
                format!("count count=value=1; {DIFF_NOTE} false"),
            ]
        );
    }

    #[tokio::test]
    async fn unknown_items_are_refused_with_21() {
        let p = Scripted::new(Script::Strange);
        p.set_listener(Arc::new(Record::default()));
        assert_eq!(p.subscribe("other").unwrap_err().code, 21);
        assert!(p.subscribe("strange:àìùòlè").is_ok());
        assert!(!p.is_snapshot_available("strange:àìùòlè"));
        let two = Scripted::new(Script::TwoLevel);
        two.set_listener(Arc::new(Record::default()));
        assert!(two.subscribe("two_level_command_countWS-POLLING").is_ok());
        assert_eq!(two.subscribe("count").unwrap_err().code, 21);
    }
}
