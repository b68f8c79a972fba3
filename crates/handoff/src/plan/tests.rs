//! The journal and the plan together: a simulated session writes its
//! journal as its lines are made; for every count of lines a client may
//! have, the plan must say exactly which entries of each item it has.

use super::*;
use crate::journal::{Journal, LineKind};
use crate::record::{Entry, Header, SubDef};
use proptest::prelude::*;
use shoal_adapter::Position;
use std::time::Instant;

fn def(sub: u32, mode: &str, items: &[&str], snapshot: &str) -> SubDef {
    SubDef {
        sub,
        mode: mode.into(),
        data_adapter: None,
        group: items.join(" "),
        schema: "seq".into(),
        selector: None,
        max_frequency: "unfiltered".into(),
        buffer_size: None,
        snapshot: snapshot.into(),
        items: items.iter().map(|s| s.to_string()).collect(),
        fields: vec!["seq".into()],
    }
}

/// What the simulated session does next.
#[derive(Debug, Clone)]
enum Op {
    /// An update of exact item 0 or 1 of subscription 1 (its next entry;
    /// `skip`: entries dropped before it).
    Exact { item: usize, skip: bool },
    /// An update of the MERGE subscription 2.
    Merge,
    /// A `MSGDONE` line.
    Message,
    /// A checkpoint.
    Checkpoint,
    /// The journal writes what it has.
    Flush,
    /// The journal's write fails (the broker is unreachable).
    FailedFlush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, proptest::bool::weighted(0.1)).prop_map(|(item, skip)| Op::Exact { item, skip }),
        2 => Just(Op::Merge),
        1 => Just(Op::Message),
        1 => Just(Op::Checkpoint),
        2 => Just(Op::Flush),
        1 => Just(Op::FailedFlush),
    ]
}

/// A broker journal: entries appended, trimmed as writes say.
#[derive(Default)]
struct Broker {
    entries: Vec<Vec<u8>>,
}

impl Broker {
    fn flush(&mut self, j: &mut Journal) {
        if let Some(w) = j.take("S") {
            if w.create {
                self.entries.clear();
            }
            self.entries.extend(w.entries);
            if let Some(k) = w.keep {
                let cut = self.entries.len().saturating_sub(k);
                self.entries.drain(..cut);
            }
            j.committed(true);
        }
    }

    fn fail(&mut self, j: &mut Journal, now: Instant) {
        if j.take("S").is_some() {
            j.failed(now);
        }
    }

    fn decoded(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .map(|e| Entry::decode(e).unwrap())
            .collect()
    }
}

/// The entry of `history` a cursor says the client has last (`None`: none).
fn resolve(history: &[u64], c: Cursor) -> Option<u64> {
    let (first, inclusive) = match c.bound {
        Bound::From(Position::Local(p)) => (p, true),
        Bound::After(Position::Local(p)) => (p, false),
        b => panic!("{b:?}"),
    };
    if c.skip == 0 {
        return if inclusive {
            history.iter().copied().rfind(|&h| h < first)
        } else {
            Some(first)
        };
    }
    let mut after = history
        .iter()
        .copied()
        .filter(|&h| if inclusive { h >= first } else { h > first });
    after.nth(usize::try_from(c.skip - 1).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_plan_knows_what_the_client_has_of_every_exact_item(ops in proptest::collection::vec(op(), 1..80)) {
        let now = Instant::now();
        let header = Header { adapter_set: "FEED".into(), user: None, client_ip: "h".into(), user_agent: None, created_ms: 0, granted_bandwidth: None, requested_bandwidth: None };
        let mut j = Journal::new(header, Vec::new(), 0, now);
        let mut broker = Broker::default();
        // Broker histories of the two exact items: positions 1, 2, ...
        let mut history: [Vec<u64>; 2] = [vec![1, 2, 3], vec![1]];
        let mut seqs = [3u64, 1];
        // What each line is: (prog, exact item or None, its entry).
        let mut truth: Vec<(u64, Option<usize>, u64)> = Vec::new();
        let mut resent: Vec<(u64, String)> = Vec::new();
        let mut prog = 0u64;
        j.note(1, LineKind::Sub {
            def: Box::new(def(1, "RAW", &["a", "b"], "no")),
            head: "SUBOK,1,2,1\r\n".into(),
            conf: "CONF,1,unlimited,unfiltered\r\n".into(),
            starts: vec![Some(Position::Local(3)), Some(Position::Local(1))],
        });
        prog += 2;
        j.note(3, LineKind::Sub {
            def: Box::new(def(2, "MERGE", &["m"], "yes")),
            head: "SUBOK,2,1,1\r\n".into(),
            conf: "CONF,2,unlimited,filtered\r\n".into(),
            starts: vec![None],
        });
        prog += 2;
        for op in &ops {
            match op {
                Op::Exact { item, skip } => {
                    let h = &mut history[*item];
                    if *skip {
                        let next = h.last().unwrap() + 1;
                        h.push(next);
                        seqs[*item] += 1;
                    }
                    let next = h.last().unwrap() + 1;
                    h.push(next);
                    seqs[*item] += 1;
                    prog += 1;
                    j.note(prog, LineKind::Update { sub: 1, item: *item as u32 + 1, exact: true, seq: seqs[*item], position: Some(Position::Local(next)) });
                    truth.push((prog, Some(*item), next));
                }
                Op::Merge => {
                    prog += 1;
                    j.note(prog, LineKind::Update { sub: 2, item: 1, exact: false, seq: prog, position: None });
                    truth.push((prog, None, 0));
                }
                Op::Message => {
                    prog += 1;
                    let text = format!("MSGDONE,*,{prog},\r\n");
                    j.note(prog, LineKind::Resend { text: text.clone() });
                    resent.push((prog, text));
                }
                Op::Checkpoint => j.checkpoint(prog, now),
                Op::Flush => broker.flush(&mut j),
                Op::FailedFlush => broker.fail(&mut j, now),
            }
            // At any moment, a node taking over finds the last lines that
            // left explained.
            let sent = sent_up_to(&j, prog);
            check(&broker.decoded(), sent.saturating_sub(2)..=sent, &history, &truth, &resent)?;
        }
        broker.flush(&mut j);
        // Whatever the client got, the broker's journal explains it: every
        // count up to the last line that left.
        let sent = sent_up_to(&j, prog);
        check(&broker.decoded(), 0..=sent, &history, &truth, &resent)?;
    }
}

/// The last line that may have left: the lines after it are held.
fn sent_up_to(j: &Journal, prog: u64) -> u64 {
    j.hold_from().map_or(prog, |h| h - 1).min(prog)
}

/// Checks the plan of `entries` for every count in `counts`: each exact
/// item's cursor points at the last entry the client has of it (`history`:
/// the broker's entries; `truth`: what each line was), and the lines to
/// send again are those it lacks.
fn check(
    entries: &[Entry],
    counts: std::ops::RangeInclusive<u64>,
    history: &[Vec<u64>; 2],
    truth: &[(u64, Option<usize>, u64)],
    resent: &[(u64, String)],
) -> Result<(), TestCaseError> {
    if entries.is_empty() {
        // Nothing written yet: nothing may have left.
        prop_assert_eq!(*counts.end(), 0);
        return Ok(());
    }
    let oldest = entries
        .iter()
        .find_map(|e| match e.rec {
            Rec::Checkpoint(_) => Some(e.prog - 1),
            _ => None,
        })
        .unwrap();
    for n in counts {
        let result = plan(entries, n);
        if n < oldest {
            prop_assert_eq!(result, Err(PlanError::TooOld { asked: n, oldest }));
            continue;
        }
        let p = result.map_err(|e| TestCaseError::fail(format!("n={n}: {e}")))?;
        prop_assert_eq!(p.subs.len(), 2);
        let fresh = n < 1;
        prop_assert_eq!(p.subs[0].fresh, fresh);
        if !fresh {
            for (i, h) in history.iter().enumerate() {
                let expected = truth
                    .iter()
                    .filter(|(pr, it, _)| *pr <= n && *it == Some(i))
                    .map(|t| t.2)
                    .next_back()
                    .unwrap_or(if i == 0 { 3 } else { 1 });
                match &p.subs[0].items[i] {
                    ItemPlan::Resume {
                        cursor,
                        snapshot_end: None,
                        ..
                    } => {
                        prop_assert_eq!(
                            resolve(h, *cursor),
                            Some(expected),
                            "n={} item {}: {:?}",
                            n,
                            i,
                            cursor
                        );
                    }
                    other => prop_assert!(false, "n={n} item {i}: {other:?}"),
                }
            }
        }
        // The lines it lacks that the broker has (one made during an
        // outage and never written is lost: a message's outcome).
        let written = |pr: u64| {
            entries
                .iter()
                .any(|e| e.prog == pr && matches!(e.rec, Rec::Line { .. }))
        };
        let lacking: Vec<String> = resent
            .iter()
            .filter(|(pr, _)| *pr > n && written(*pr))
            .map(|(_, t)| t.clone())
            .collect();
        let mut expected_lines = Vec::new();
        if n == 1 {
            expected_lines.push("CONF,1,unlimited,unfiltered\r\n".to_string());
        }
        if n == 3 {
            expected_lines.push("CONF,2,unlimited,filtered\r\n".to_string());
        }
        expected_lines.extend(lacking);
        prop_assert_eq!(&p.lines, &expected_lines, "n={}", n);
    }
    Ok(())
}

#[test]
fn a_subscription_the_client_never_confirmed_is_made_again() {
    let now = Instant::now();
    let header = Header {
        adapter_set: "FEED".into(),
        user: None,
        client_ip: "h".into(),
        user_agent: None,
        created_ms: 0,
        granted_bandwidth: None,
        requested_bandwidth: None,
    };
    let mut j = Journal::new(header, Vec::new(), 0, now);
    j.note(
        1,
        LineKind::Sub {
            def: Box::new(def(1, "DISTINCT", &["d"], "yes")),
            head: "SUBOK,1,1,1\r\n".into(),
            conf: "CONF,1,unlimited,filtered\r\n".into(),
            starts: vec![Some(Position::Local(9))],
        },
    );
    j.note(
        3,
        LineKind::Update {
            sub: 1,
            item: 1,
            exact: true,
            seq: 1,
            position: Some(Position::Local(8)),
        },
    );
    j.note(
        4,
        LineKind::Unsub {
            sub: 1,
            line: "UNSUB,1\r\n".into(),
        },
    );
    let mut broker = Broker::default();
    broker.flush(&mut j);
    let entries = broker.decoded();
    let p = plan(&entries, 0).unwrap();
    assert!(p.subs.is_empty() && p.lines.is_empty(), "{p:?}");
    // Mid-snapshot: the rest of it, then EOS after entry 9.
    let p = plan(&entries, 3).unwrap();
    assert_eq!(p.lines, ["UNSUB,1\r\n"]);
    assert!(p.subs.is_empty());
    assert_eq!(
        plan(&entries, 5),
        Err(PlanError::Beyond { asked: 5, known: 4 })
    );
}

#[test]
fn mid_snapshot_the_rest_follows_then_eos() {
    let now = Instant::now();
    let header = Header {
        adapter_set: "FEED".into(),
        user: None,
        client_ip: "h".into(),
        user_agent: None,
        created_ms: 0,
        granted_bandwidth: None,
        requested_bandwidth: None,
    };
    let mut j = Journal::new(header, Vec::new(), 0, now);
    j.note(
        1,
        LineKind::Sub {
            def: Box::new(def(1, "DISTINCT", &["d"], "yes")),
            head: "SUBOK,1,1,1\r\n".into(),
            conf: "CONF,1,unlimited,filtered\r\n".into(),
            starts: vec![Some(Position::Local(9))],
        },
    );
    for (prog, seq) in [(3, 1), (4, 2)] {
        j.note(
            prog,
            LineKind::Update {
                sub: 1,
                item: 1,
                exact: true,
                seq,
                position: Some(Position::Local(6 + seq)),
            },
        );
    }
    let mut broker = Broker::default();
    broker.flush(&mut j);
    let p = plan(&broker.decoded(), 4).unwrap();
    assert_eq!(
        p.subs[0].items,
        [ItemPlan::Resume {
            cursor: Cursor {
                bound: Bound::From(Position::Local(7)),
                skip: 2
            },
            snapshot_end: Some(Pos(Position::Local(9))),
            has_values: true,
        }]
    );
    // Before any of it: a snapshot anew.
    let p = plan(&broker.decoded(), 2).unwrap();
    assert_eq!(p.subs[0].items, [ItemPlan::Anew]);
}
