//! The dispatch rules of one sub-item: conflation, overflow, frequency
//! limits, COMMAND coalescing, and the bytes it is charged.

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
    let mut text = String::new();
    while let Take::Wrote | Take::Update(_) = si.take(1, 1, d, Instant::now(), &mut text) {
        out.push(text.trim_end().to_owned());
        text.clear();
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
        hard_cap: 1,
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
        hard_cap: 2,
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
        hard_cap: 1,
        metadata_max_frequency: None,
    };
    let mut si = sub_item();
    si.push(ev(1, "a"), &d);
    assert_eq!(lines(&mut si, &d).len(), 1);
    si.push(ev(2, "b"), &d);
    si.push(ev(3, "c"), &d);
    let mut text = String::new();
    assert!(matches!(
        si.take(1, 1, &d, Instant::now(), &mut text),
        Take::Wait(_)
    ));
    let later = Instant::now() + Duration::from_secs(11);
    match si.take(1, 1, &d, later, &mut text) {
        Take::Update(_) => assert_eq!(text, "U,1,1,c\r\n"),
        other => panic!("{other:?}"),
    }
}

/// A COMMAND row event of `key` as the item builds it: fields
/// `key command qty` (the command field is at 1).
fn row(seq: u64, key: &str, cmd: Command, qty: &str) -> Delivery {
    live(Arc::new(Event::full(
        seq,
        vec![
            Some(key.into()),
            Some(cmd.name().into()),
            (cmd != Command::Delete).then(|| qty.into()),
        ],
        Some((key.into(), cmd)),
    )))
}

fn command_item() -> SubItem {
    let item = Arc::new(Item::new("portfolio", false, 10));
    let fields: Vec<String> = ["key", "command", "qty"].map(String::from).to_vec();
    let schema = item.schema(&fields);
    SubItem::new(item, schema)
}

fn command(buffer: usize, hard_cap: usize) -> Dispatch {
    Dispatch {
        mode: Mode::Command,
        filtered: true,
        min_interval: None,
        buffer,
        hard_cap,
        metadata_max_frequency: None,
    }
}

#[test]
fn command_coalesces_per_key_once_the_buffer_is_full() {
    let d = command(1, 100);
    let mut si = command_item();
    // Fills the buffer: the next events overflow, by key.
    si.push(row(1, "a", Command::Update, "1"), &d);
    // ADD then UPDATE: one ADD with the newer values.
    si.push(row(2, "b", Command::Add, "1"), &d);
    si.push(row(3, "b", Command::Update, "2"), &d);
    // ADD then DELETE: nothing (the client never saw the row).
    si.push(row(4, "c", Command::Add, "1"), &d);
    si.push(row(5, "c", Command::Delete, ""), &d);
    // UPDATE then UPDATE: the newer; UPDATE then DELETE: the DELETE
    // (after a's UPDATE in the buffer: each key's order is kept).
    si.push(row(6, "a", Command::Update, "3"), &d);
    si.push(row(7, "a", Command::Delete, ""), &d);
    // DELETE then ADD: both, in order.
    si.push(row(8, "a", Command::Add, "4"), &d);
    assert_eq!(
        lines(&mut si, &d),
        vec![
            "U,1,1,a|UPDATE|1",
            "U,1,1,b|ADD|2",
            "U,1,1,a|DELETE|#",
            "U,1,1,a|ADD|4"
        ]
    );
}

#[test]
fn command_trading_one_key_forever_stays_bounded() {
    let d = command(10, 20);
    let mut si = command_item();
    // A stalled client while one row is bought and sold a million times.
    for i in 0..1_000_000u64 {
        let cmd = match i % 3 {
            0 => Command::Add,
            1 => Command::Update,
            _ => Command::Delete,
        };
        si.push(row(i, "item3", cmd, &i.to_string()), &d);
        assert!(si.live <= 12, "{} pending after {i}", si.live);
    }
    // What is left says, in order, what the client must do: the ten
    // first events, then at most a DELETE and an ADD; nothing was lost.
    let out = lines(&mut si, &d);
    assert!(out.len() <= 12, "{out:?}");
    assert!(!out.iter().any(|l| l.starts_with("OV")), "{out:?}");
    // Replaying them leaves the row as the item has it after the last
    // event, an ADD of 999999 (999999 % 3 == 0).
    let last = out.last().map(String::as_str);
    assert_eq!(last, Some("U,1,1,item3|ADD|999999"), "{out:?}");
}

#[test]
fn command_past_the_hard_cap_reports_lost_adds_and_deletes() {
    let d = command(2, 4);
    let mut si = command_item();
    for (i, key) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        si.push(row(i as u64, key, Command::Add, "1"), &d);
    }
    let out = lines(&mut si, &d);
    assert_eq!(
        out,
        vec![
            "OV,1,1,2",
            "U,1,1,a|ADD|1",
            "U,1,1,b|ADD|1",
            "U,1,1,c|ADD|1",
            "U,1,1,d|ADD|1",
        ]
    );
}

#[test]
fn unfiltered_command_reports_overflow_like_raw() {
    let d = Dispatch {
        filtered: false,
        ..command(1, 1)
    };
    let mut si = command_item();
    si.push(row(1, "a", Command::Add, "1"), &d);
    si.push(row(2, "a", Command::Update, "2"), &d);
    si.push(row(3, "a", Command::Update, "3"), &d);
    assert_eq!(lines(&mut si, &d), vec!["OV,1,1,2", "U,1,1,a|ADD|1"]);
}

#[test]
fn clear_snapshot_in_a_loop_does_not_grow_the_queue() {
    let d = Dispatch {
        mode: Mode::Distinct,
        filtered: true,
        min_interval: None,
        buffer: 100,
        hard_cap: 100,
        metadata_max_frequency: None,
    };
    let mut si = sub_item();
    si.push(Delivery::Eos, &d);
    for i in 0..10_000 {
        si.push(ev(i, "x"), &d);
        si.push(Delivery::Cs, &d);
    }
    assert_eq!(lines(&mut si, &d), vec!["EOS,1,1", "CS,1,1"]);
}

#[test]
fn bytes_follow_the_queue_and_come_back() {
    let d = Dispatch {
        mode: Mode::Raw,
        filtered: false,
        min_interval: None,
        buffer: 1000,
        hard_cap: 1000,
        metadata_max_frequency: None,
    };
    let mut si = sub_item();
    let empty = si.bytes();
    for i in 1..=1000 {
        si.push(ev(i, "a value of some length"), &d);
    }
    let full = si.bytes();
    // Each queued event is charged at least its slot and its text.
    assert!(full >= empty + 1000 * (SLOT + 23), "{full}");
    let _ = lines(&mut si, &d);
    assert!(si.bytes() <= 64 * SLOT, "{} bytes once drained", si.bytes());
}
