//! Diff-encoded values (`^P` JSON Patch, `^T` TLCP-diff): sent only for
//! fields the data adapter declared, only when the client holds the
//! previous value, only when shorter, and never where a client would
//! decode something else than the published value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use shoal_adapter::{DiffAlgorithm, ItemEvent};
use std::collections::HashMap;
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(50);

fn declare(h: &Harness, item: &str, fields: &[(&str, &[DiffAlgorithm])]) {
    let fields: HashMap<String, Vec<DiffAlgorithm>> = fields
        .iter()
        .map(|(f, a)| (f.to_string(), a.to_vec()))
        .collect();
    h.data.listener().declare_field_diff_order(item, fields);
}

/// Applies a TLCP-diff with the protocol crate's decoder (checked against
/// an independent one in its own tests).
fn apply_tlcp_diff(old: &str, diff: &str) -> String {
    shoal_protocol::diff::apply_tlcp_diff(old, diff).expect("a well-formed TLCP-diff")
}

/// The value token of a one-field `U` line, percent-decoded.
fn token(line: &str) -> String {
    let raw = line.splitn(4, ',').nth(3).expect("a U line");
    shoal_protocol::decode::arg(raw).expect("valid escapes")
}

const LONG_TEXT: &str = "the quick brown fox jumps over the lazy dog, again and again";

#[tokio::test]
async fn a_text_field_goes_as_a_tlcp_diff_when_shorter() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "text", ""))
        .await;
    declare(&h, "item1", &[("text", &[DiffAlgorithm::DiffMatchPatch])]);
    h.data.update("item1", &[("text", LONG_TEXT)], false);
    // The first value is sent in full: the client has nothing to patch.
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{LONG_TEXT}")]);

    let new = LONG_TEXT.replace("fox", "cat");
    h.data.update("item1", &[("text", &new)], false);
    let line = c.next_lines(1).await.remove(0);
    let t = token(&line);
    let diff = t.strip_prefix("^T").unwrap_or_else(|| panic!("{line}"));
    assert!(line.len() < format!("U,1,1,{new}").len(), "{line}");
    assert_eq!(apply_tlcp_diff(LONG_TEXT, diff), new);

    // A change as long as the value is not worth a diff.
    h.data.update("item1", &[("text", "short")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,short"]);
    h.data.update("item1", &[("text", "shirt")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,shirt"]);
}

#[tokio::test]
async fn a_json_field_goes_as_a_json_patch() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "doc n", ""))
        .await;
    declare(
        &h,
        "item1",
        &[(
            "doc",
            &[DiffAlgorithm::JsonPatch, DiffAlgorithm::DiffMatchPatch],
        )],
    );
    let old = r#"{"symbol":"ACME","bid":10.5,"ask":10.75,"depth":[100,200,300]}"#;
    h.data.update("item1", &[("doc", old), ("n", "1")], false);
    c.next_lines(1).await;
    let new = old.replace("10.75", "10.8");
    h.data.update("item1", &[("doc", &new), ("n", "2")], false);
    assert_eq!(
        c.next_lines(1).await,
        vec![r#"U,1,1,^P[{"op":"replace","path":"/ask","value":10.8}]|2"#]
    );
    // A value that is not JSON goes in full, never as a TLCP-diff: the
    // client may hold the field as JSON.
    let text = format!("{new} (closed)");
    h.data.update("item1", &[("doc", &text)], false);
    assert_eq!(token(&c.next_lines(1).await.remove(0)), format!("{text}|"));
    // Declared TLCP-diff now: the clients that got patches hold the field
    // as JSON and would refuse a TLCP-diff, so the field gets no diff.
    declare(&h, "item1", &[("doc", &[DiffAlgorithm::DiffMatchPatch])]);
    let later = format!("{text} and reopened");
    h.data.update("item1", &[("doc", &later)], false);
    assert_eq!(token(&c.next_lines(1).await.remove(0)), format!("{later}|"));
    let text = later;
    // Shoal's own decoder (the Rust client's) follows every line.
    let mut state = vec![None, None];
    for l in c.lines.iter().filter(|l| l.starts_with("U,")) {
        state = values(l, &state);
    }
    assert_eq!(state, vals(&[Some(&text), Some("2")]));
}

#[tokio::test]
async fn no_diff_unless_declared_or_when_the_client_lacks_the_previous_value() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "text other", ""))
        .await;
    declare(&h, "item1", &[("text", &[DiffAlgorithm::DiffMatchPatch])]);
    let other = LONG_TEXT.replace("dog", "cat");
    h.data
        .update("item1", &[("text", LONG_TEXT), ("other", LONG_TEXT)], false);
    c.next_lines(1).await;
    // Undeclared field: in full.
    h.data.update("item1", &[("other", &other)], false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,|{other}")]);

    // After a null the client has nothing to patch.
    let mut ev = ItemEvent::new();
    ev.set("text", None);
    h.data.event("item1", ev, false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,#|"]);
    h.data.update("item1", &[("text", LONG_TEXT)], false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{LONG_TEXT}|")]);

    // Characters outside the Basic Multilingual Plane: clients count them
    // differently, so no TLCP-diff.
    let smiling = format!("{LONG_TEXT} 😀");
    h.data.update("item1", &[("text", &smiling)], false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{smiling}|")]);

    // An undeclared field stays undeclared when others are re-declared.
    declare(&h, "item1", &[("text", &[])]);
    h.data.update("item1", &[("text", LONG_TEXT)], false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{LONG_TEXT}|")]);
    c.quiet(QUIET).await;
}

#[tokio::test]
async fn missed_events_and_snapshots_are_sent_in_full() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(1, "MERGE", "item1", "text", "LS_snapshot=true"),
    )
    .await;
    declare(&h, "item1", &[("text", &[DiffAlgorithm::DiffMatchPatch])]);
    h.data.update("item1", &[("text", LONG_TEXT)], true);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{LONG_TEXT}")]);
    // The client holds the snapshot's value: the next one may be a diff.
    let v2 = LONG_TEXT.replace("quick", "slow");
    h.data.update("item1", &[("text", &v2)], false);
    assert!(token(&c.next_lines(1).await.remove(0)).starts_with("^T"));

    // A second session subscribing now gets the state in full, then the
    // same diff bytes as the first for the next event.
    let mut c2 = h.open().await;
    h.subscribe(
        &mut c2,
        &add(1, "MERGE", "item1", "text", "LS_snapshot=true"),
    )
    .await;
    assert_eq!(c2.next_lines(1).await, vec![format!("U,1,1,{v2}")]);
    let v3 = v2.replace("lazy", "busy");
    h.data.update("item1", &[("text", &v3)], false);
    let l1 = c.next_lines(1).await;
    let l2 = c2.next_lines(1).await;
    assert_eq!(l1, l2);
    assert_eq!(
        apply_tlcp_diff(&v2, token(&l1[0]).strip_prefix("^T").unwrap()),
        v3
    );

    // Events conflated while the client was not reading: the client lacks
    // the value the latest event would be diffed from, so it goes in full.
    let v4 = v3.replace("over", "under");
    let v5 = v4.replace("the", "a");
    h.data.update("item1", &[("text", &v4)], false);
    h.data.update("item1", &[("text", &v5)], false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,1,1,{v5}")]);
}

#[tokio::test]
async fn distinct_gets_diffs_and_command_never() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "DISTINCT", "item1", "text", ""))
        .await;
    h.subscribe(&mut c, &add(2, "COMMAND", "item2", "key command text", ""))
        .await;
    declare(&h, "item1", &[("text", &[DiffAlgorithm::DiffMatchPatch])]);
    declare(&h, "item2", &[("text", &[DiffAlgorithm::DiffMatchPatch])]);
    h.data.update("item1", &[("text", LONG_TEXT)], false);
    c.next_lines(1).await;
    let v2 = LONG_TEXT.replace("again", "AGAIN");
    h.data.update("item1", &[("text", &v2)], false);
    assert!(token(&c.next_lines(1).await.remove(0)).starts_with("^T"));

    fn row(text: &str) -> Vec<(&str, &str)> {
        vec![("key", "k"), ("command", "UPDATE"), ("text", text)]
    }
    h.data.update("item2", &row(LONG_TEXT), false);
    c.next_lines(1).await;
    h.data.update("item2", &row(&v2), false);
    assert_eq!(c.next_lines(1).await, vec![format!("U,2,1,k|UPDATE|{v2}")]);
}
