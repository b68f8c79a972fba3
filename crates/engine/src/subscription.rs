//! A session's subscription and the per-item buffers between the item and
//! the stream: where conflation, frequency limits and overflow happen.

use crate::event::{Command, Event, Schema};
use crate::item::Item;
use shoal_adapter::Mode;
use shoal_protocol::Line;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What an item hands a session for one subscribed item.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    Event { ev: Arc<Event>, snapshot: bool },
    Eos,
    Cs,
}

/// How a subscription dispatches its updates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dispatch {
    pub mode: Mode,
    /// `false` for `unfiltered`: nothing may be dropped silently.
    pub filtered: bool,
    /// Minimum time between two updates of one item; `None`: unlimited.
    pub min_interval: Option<Duration>,
    /// Maximum pending live events per item.
    pub buffer: usize,
    /// The metadata adapter's frequency limit, which `reconf` cannot lift.
    pub metadata_max_frequency: Option<f64>,
}

impl Dispatch {
    pub fn max_frequency(&self) -> Option<f64> {
        self.min_interval.map(|d| 1.0 / d.as_secs_f64())
    }
}

#[derive(Debug)]
pub(crate) struct SubItem {
    pub item: Arc<Item>,
    pub schema: Arc<Schema>,
    queue: VecDeque<Delivery>,
    /// Live events in `queue` (snapshot events and markers don't count).
    live: usize,
    /// Events dropped since the last `OV`.
    lost: u64,
    /// Item sequence of the last event sent, for delta encoding.
    last_seq: Option<u64>,
    /// When the last live update was sent, for frequency limits (the limit
    /// may change with `reconf`, so the next slot is computed when needed).
    last_sent: Option<Instant>,
    /// COMMAND mode: frequency limits apply to the UPDATEs of each key.
    key_sent: HashMap<Arc<str>, Instant>,
    pub in_ready: bool,
}

/// What taking from a sub-item produced.
#[derive(Debug)]
pub(crate) enum Take {
    Line(String),
    /// Nothing may be sent before this instant (frequency limit).
    Wait(Instant),
    Empty,
}

impl SubItem {
    pub fn new(item: Arc<Item>, schema: Arc<Schema>) -> Self {
        Self {
            item,
            schema,
            queue: VecDeque::new(),
            live: 0,
            lost: 0,
            last_seq: None,
            last_sent: None,
            key_sent: HashMap::new(),
            in_ready: false,
        }
    }

    pub fn has_pending(&self) -> bool {
        self.lost > 0 || !self.queue.is_empty()
    }

    /// Queues a delivery according to the subscription's dispatch policy.
    pub fn push(&mut self, d: Delivery, dispatch: &Dispatch) {
        let Delivery::Event {
            ev,
            snapshot: false,
        } = &d
        else {
            self.queue.push_back(d);
            return;
        };
        if self.live < dispatch.buffer {
            self.live += 1;
            self.queue.push_back(d);
            return;
        }
        // The buffer is full.
        match (dispatch.mode, dispatch.filtered) {
            // MERGE keeps the latest state: the newest event replaces the
            // last queued one (its values are the whole merged state).
            (Mode::Merge, true) => {
                if let Some(pos) = self.last_live() {
                    self.queue[pos] = d;
                }
            }
            // COMMAND merges an UPDATE into a queued UPDATE of the same key;
            // anything else is kept (ADD and DELETE must not be lost).
            (Mode::Command, true) => {
                let key = match &ev.command {
                    Some((k, Command::Update)) => Some(k.clone()),
                    _ => None,
                };
                let same = key.and_then(|k| {
                    self.queue.iter().rposition(|q| {
                        matches!(q, Delivery::Event { ev: e, snapshot: false }
                            if matches!(&e.command, Some((k2, Command::Update)) if *k2 == k))
                    })
                });
                match same {
                    Some(pos) => self.queue[pos] = d,
                    None => {
                        self.live += 1;
                        self.queue.push_back(d);
                    }
                }
            }
            // DISTINCT drops the oldest event silently, as filtered
            // dispatching allows.
            (Mode::Distinct, true) => {
                if let Some(pos) = self.first_live() {
                    self.queue.remove(pos);
                    self.queue.push_back(d);
                }
            }
            // RAW and unfiltered subscriptions lose the event and say so
            // with an OV notification before the next one.
            _ => self.lost += 1,
        }
    }

    fn last_live(&self) -> Option<usize> {
        self.queue.iter().rposition(|q| {
            matches!(
                q,
                Delivery::Event {
                    snapshot: false,
                    ..
                }
            )
        })
    }

    fn first_live(&self) -> Option<usize> {
        self.queue.iter().position(|q| {
            matches!(
                q,
                Delivery::Event {
                    snapshot: false,
                    ..
                }
            )
        })
    }

    /// The position of the next delivery the frequency limit lets through,
    /// or how long to wait. In COMMAND mode ADD and DELETE always pass, and an
    /// UPDATE waiting for its key's slot lets later events of other keys by
    /// (the order of each key is kept).
    fn next_sendable(&self, dispatch: &Dispatch, now: Instant) -> Result<usize, Take> {
        let Some(interval) = dispatch.min_interval else {
            return if self.queue.is_empty() {
                Err(Take::Empty)
            } else {
                Ok(0)
            };
        };
        let mut blocked_keys: Vec<&Arc<str>> = Vec::new();
        let mut earliest: Option<Instant> = None;
        for (pos, d) in self.queue.iter().enumerate() {
            let Delivery::Event {
                ev,
                snapshot: false,
            } = d
            else {
                // Snapshot events and markers keep their place.
                return if pos == 0 {
                    Ok(0)
                } else {
                    Err(wait_or_empty(earliest))
                };
            };
            let slot = match &ev.command {
                None => match self.last_sent {
                    Some(t) if t + interval > now => Some(t + interval),
                    _ => None,
                },
                Some((key, cmd)) => {
                    if blocked_keys.contains(&key) {
                        continue;
                    }
                    match (cmd, self.key_sent.get(key)) {
                        (Command::Update, Some(&t)) if t + interval > now => Some(t + interval),
                        _ => None,
                    }
                }
            };
            match slot {
                None => return Ok(pos),
                Some(t) => {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                    match &ev.command {
                        Some((key, _)) => blocked_keys.push(key),
                        // Without keys every event waits for the same slot.
                        None => break,
                    }
                }
            }
        }
        Err(wait_or_empty(earliest))
    }

    /// Produces the next line for this item, if its frequency allows.
    pub fn take(&mut self, sub_id: u32, index: usize, dispatch: &Dispatch, now: Instant) -> Take {
        if self.lost > 0 {
            let lost = std::mem::take(&mut self.lost);
            // The client's values are now out of step: send the next one in full.
            self.last_seq = None;
            return Take::Line(
                Line::Ov {
                    sub_id,
                    item: index,
                    lost,
                }
                .to_line(),
            );
        }
        let pos = match self.next_sendable(dispatch, now) {
            Ok(pos) => pos,
            Err(wait) => return wait,
        };
        let Some(front) = self.queue.remove(pos) else {
            return Take::Empty;
        };
        let line = match front {
            Delivery::Eos => Line::Eos {
                sub_id,
                item: index,
            }
            .to_line(),
            Delivery::Cs => {
                self.last_seq = None;
                Line::Cs {
                    sub_id,
                    item: index,
                }
                .to_line()
            }
            Delivery::Event { ev, snapshot } => {
                if !snapshot {
                    self.live = self.live.saturating_sub(1);
                    match &ev.command {
                        Some((key, Command::Update)) => {
                            self.key_sent.insert(key.clone(), now);
                        }
                        Some((key, Command::Delete)) => {
                            self.key_sent.remove(key);
                        }
                        Some((_, Command::Add)) => {}
                        None => self.last_sent = Some(now),
                    }
                }
                let delta = dispatch.mode != Mode::Command
                    && self.last_seq.is_some_and(|s| s + 1 == ev.seq);
                self.last_seq = Some(ev.seq);
                let values = ev.encode(&self.schema, delta);
                Line::Update {
                    sub_id,
                    item: index,
                    values: &values,
                }
                .to_line()
            }
        };
        Take::Line(line)
    }
}

fn wait_or_empty(earliest: Option<Instant>) -> Take {
    earliest.map_or(Take::Empty, Take::Wait)
}

/// One subscription of a session.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub sub_id: u32,
    pub dispatch: Dispatch,
    pub items: Vec<SubItem>,
    /// The data adapter hub the items came from, to release them.
    pub hub: Arc<crate::hub::Hub>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, v: &str) -> Delivery {
        Delivery::Event {
            ev: Arc::new(Event::full(seq, vec![Some(v.into())], None)),
            snapshot: false,
        }
    }

    fn sub_item() -> SubItem {
        SubItem::new(
            Arc::new(Item::new("i", false, 10)),
            Arc::new(Schema {
                id: 0,
                fields: vec![0],
            }),
        )
    }

    fn lines(si: &mut SubItem, d: &Dispatch) -> Vec<String> {
        let mut out = Vec::new();
        while let Take::Line(l) = si.take(1, 1, d, Instant::now()) {
            out.push(l.trim_end().to_owned());
        }
        out
    }

    #[test]
    fn merge_conflates_to_the_latest() {
        let d = Dispatch {
            mode: Mode::Merge,
            filtered: true,
            min_interval: None,
            buffer: 1,
            metadata_max_frequency: None,
        };
        let mut si = sub_item();
        for i in 1..=5 {
            si.push(ev(i, &i.to_string()), &d);
        }
        assert_eq!(lines(&mut si, &d), vec!["U,1,1,5"]);
    }

    #[test]
    fn raw_overflow_is_reported() {
        let d = Dispatch {
            mode: Mode::Raw,
            filtered: false,
            min_interval: None,
            buffer: 2,
            metadata_max_frequency: None,
        };
        let mut si = sub_item();
        for i in 1..=5 {
            si.push(ev(i, &i.to_string()), &d);
        }
        assert_eq!(lines(&mut si, &d), vec!["OV,1,1,3", "U,1,1,1", "U,1,1,2"]);
    }

    #[test]
    fn frequency_limit_waits() {
        let d = Dispatch {
            mode: Mode::Merge,
            filtered: true,
            min_interval: Some(Duration::from_secs(10)),
            buffer: 1,
            metadata_max_frequency: None,
        };
        let mut si = sub_item();
        si.push(ev(1, "a"), &d);
        assert_eq!(lines(&mut si, &d).len(), 1);
        si.push(ev(2, "b"), &d);
        si.push(ev(3, "c"), &d);
        assert!(matches!(si.take(1, 1, &d, Instant::now()), Take::Wait(_)));
        let later = Instant::now() + Duration::from_secs(11);
        match si.take(1, 1, &d, later) {
            Take::Line(l) => assert_eq!(l, "U,1,1,c\r\n"),
            other => panic!("{other:?}"),
        }
    }
}
