use super::*;
use std::time::Duration;

fn header() -> Header {
    Header {
        adapter_set: "FEED".into(),
        user: None,
        client_ip: "127.0.0.1".into(),
        user_agent: None,
        created_ms: 0,
        granted_bandwidth: None,
        requested_bandwidth: None,
    }
}

fn raw_def(sub: u32, items: &[&str]) -> SubDef {
    SubDef {
        sub,
        mode: "RAW".into(),
        data_adapter: None,
        group: items.join(" "),
        schema: "seq".into(),
        selector: None,
        max_frequency: "unfiltered".into(),
        buffer_size: None,
        snapshot: "no".into(),
        items: items.iter().map(|s| s.to_string()).collect(),
        fields: vec!["seq".into()],
    }
}

fn update(sub: u32, item: u32, seq: u64) -> LineKind {
    LineKind::Update {
        sub,
        item,
        exact: true,
        seq,
        position: Some(Position::Local(seq)),
    }
}

fn decoded(w: &Write) -> Vec<Rec> {
    w.entries
        .iter()
        .map(|e| Entry::decode(e).unwrap().rec)
        .collect()
}

#[test]
fn a_new_entry_holds_its_lines_until_the_broker_has_it() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 0, now);
    // The opening checkpoint holds nothing.
    assert!(j.may_send(1));
    j.note(
        1,
        LineKind::Sub {
            def: Box::new(raw_def(1, &["a"])),
            head: "SUBOK,1,1,1\r\n".into(),
            conf: "CONF,1,unlimited,unfiltered\r\n".into(),
            starts: vec![Some(Position::Local(4))],
        },
    );
    assert!(!j.may_send(1));
    let w = j.take("S1").unwrap();
    assert!(w.create);
    assert_eq!(w.entries.len(), 2);
    // In flight: still held, nothing more to take.
    assert!(!j.may_send(2));
    assert!(j.take("S1").is_none());
    j.committed(true);
    assert!(j.may_send(2));
    // The first update starts a run (held); the next ones extend it.
    j.note(3, update(1, 1, 5));
    assert!(j.may_send(2) && !j.may_send(3));
    j.note(4, update(1, 1, 6));
    let w = j.take("S1").unwrap();
    assert!(!w.create);
    assert_eq!(
        decoded(&w),
        [Rec::Run {
            sub: 1,
            item: 1,
            from: Pos(Position::Local(5))
        }]
    );
    j.committed(true);
    j.note(5, update(1, 1, 7));
    assert!(
        j.may_send(5),
        "an update that extends a written run is not held"
    );
    assert!(!j.has_pending());
    // A gap in the item's sequence (an event dropped) starts a new run.
    j.note(6, update(1, 1, 9));
    assert!(!j.may_send(6));
}

#[test]
fn non_exact_lines_share_one_entry_and_a_lost_owner_stops_writing() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 10, now);
    j.take("S").unwrap();
    j.committed(true);
    for prog in 11..100 {
        j.note(
            prog,
            LineKind::Update {
                sub: 1,
                item: 1 + (prog % 3) as u32,
                exact: false,
                seq: prog,
                position: None,
            },
        );
    }
    let w = j.take("S").unwrap();
    assert_eq!(decoded(&w), [Rec::Other]);
    j.committed(false);
    assert!(j.is_disowned());
    j.note(
        100,
        LineKind::Resend {
            text: "MSGDONE,*,1,\r\n".into(),
        },
    );
    assert!(j.take("S").is_none());
}

#[test]
fn lines_wait_through_an_outage_until_a_checkpoint_is_written() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 0, now);
    j.take("S").unwrap();
    j.committed(true);
    j.note(1, update(1, 1, 1));
    j.take("S").unwrap();
    j.failed(now);
    assert!(!j.may_send(1), "the failed entry's line still waits");
    j.note(2, update(1, 1, 2));
    j.note(3, update(1, 2, 7));
    assert!(!j.may_send(2) && !j.may_send(3));
    assert!(!j.has_pending(), "nothing is written but a checkpoint");
    assert!(j.wants_checkpoint(now));
    j.checkpoint(3, now);
    let w = j.take("S").unwrap();
    assert!(w.create, "the checkpoint replaces the journal");
    assert!(matches!(decoded(&w)[..], [Rec::Checkpoint(_)]));
    assert_eq!(w.keep, Some(1));
    // The broker is still away.
    j.failed(now + Duration::from_secs(1));
    assert!(!j.may_send(1));
    j.checkpoint(3, now + Duration::from_secs(2));
    j.take("S").unwrap();
    j.committed(true);
    assert!(j.may_send(3), "the checkpoint covers every held line");
    j.note(4, update(1, 1, 3));
    assert!(
        !j.may_send(4),
        "and the journal holds new entries as before"
    );
}

#[test]
fn a_long_outage_is_given_up_until_a_checkpoint_is_written() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 0, now);
    j.take("S").unwrap();
    j.failed(now);
    j.note(1, update(1, 1, 1));
    assert!(!j.may_send(1));
    assert!(!j.give_up(now + HOLD_THROUGH_OUTAGE - Duration::from_millis(1)));
    assert!(!j.may_send(1));
    assert!(j.give_up(now + HOLD_THROUGH_OUTAGE));
    assert!(j.may_send(1), "the session goes on without the broker");
    // Further failures do not hold again...
    j.checkpoint(1, now + HOLD_THROUGH_OUTAGE);
    j.take("S").unwrap();
    j.failed(now + HOLD_THROUGH_OUTAGE);
    j.note(2, update(1, 1, 5));
    assert!(j.may_send(2));
    // ...until a checkpoint is written: then lines are held as before.
    j.checkpoint(2, now + HOLD_THROUGH_OUTAGE);
    j.take("S").unwrap();
    j.committed(true);
    j.note(3, update(1, 1, 9));
    assert!(!j.may_send(3));
    j.take("S").unwrap();
    j.failed(now + HOLD_THROUGH_OUTAGE * 2);
    assert!(!j.may_send(3), "a new outage holds again");
}

#[test]
fn checkpoints_trim_what_precedes_the_one_before() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 0, now);
    j.take("S").unwrap();
    j.committed(true);
    // Two entries, a checkpoint, one entry, a checkpoint.
    j.note(1, LineKind::Resend { text: "A".into() });
    j.note(2, LineKind::Resend { text: "B".into() });
    j.checkpoint(2, now);
    j.note(3, LineKind::Resend { text: "C".into() });
    j.checkpoint(3, now);
    let w = j.take("S").unwrap();
    assert_eq!(w.entries.len(), 5);
    // The list keeps the first of these two checkpoints and what follows.
    assert_eq!(w.keep, Some(3));
}

#[test]
fn a_mark_is_settled_once_every_entry_before_it_is_written_or_given_up() {
    let now = Instant::now();
    let mut j = Journal::new(header(), Vec::new(), 0, now);
    let opening = j.written_mark();
    assert!(
        !j.settled(opening),
        "the opening checkpoint is not written yet"
    );
    j.take("S").unwrap();
    j.note(1, update(1, 1, 1));
    let mark = j.written_mark();
    j.committed(true);
    assert!(j.settled(opening));
    assert!(
        !j.settled(mark),
        "an entry made while a batch was in flight waits for the next batch"
    );
    j.take("S").unwrap();
    j.committed(true);
    assert!(j.settled(mark));
    // A failed write gives up every entry made so far.
    j.note(2, update(1, 1, 5));
    let failed = j.written_mark();
    j.take("S").unwrap();
    j.failed(now);
    assert!(j.settled(failed));
    // So does losing the session, entries in flight or not.
    j.checkpoint(2, now);
    j.take("S").unwrap();
    j.note(3, update(1, 1, 6));
    let lost = j.written_mark();
    j.committed(false);
    assert!(j.settled(lost));
}
