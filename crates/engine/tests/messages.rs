//! Client messages: ordering within a sequence, waits for missing
//! progressives (on tokio's paused clock), outcomes.

mod common;

use common::*;
use std::time::Duration;

/// A streaming session whose keepalive is far beyond the waits below (the
/// stream's own timers do not follow the paused clock).
async fn open(h: &Harness) -> Client {
    h.open_with("LS_keepalive_millis=30000&LS_send_sync=false", &ws())
        .await
}

fn seq_msg(text: &str, seq: &str, prog: u64, extra: &str) -> String {
    let mut p = format!("LS_message={text}&LS_sequence={seq}&LS_msg_prog={prog}");
    if !extra.is_empty() {
        p.push('&');
        p.push_str(extra);
    }
    p
}

async fn send(h: &Harness, c: &Client, params: &str) {
    if let Err(e) = h.message(&c.session, params).await {
        panic!("msg {params:?} refused: {e:?}");
    }
}

fn outcomes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("MSGDONE") || l.starts_with("MSGFAIL"))
        .cloned()
        .collect()
}

#[tokio::test(start_paused = true)]
async fn messages_in_order_get_msgdone_in_order() {
    let h = Harness::new();
    let mut c = open(&h).await;
    for p in 1..=3 {
        send(&h, &c, &seq_msg(&format!("m{p}"), "S", p, "")).await;
    }
    let lines = c.next_lines(3).await;
    assert_eq!(lines, vec!["MSGDONE,S,1,", "MSGDONE,S,2,", "MSGDONE,S,3,"]);
    assert_eq!(h.meta.messages(), vec!["m1", "m2", "m3"]);
    assert_eq!(h.progressive(&c.session), 3, "outcomes are counted");
    let (tag, args) = split(&lines[0]);
    assert_eq!(tag, "MSGDONE");
    assert_eq!(args, vec!["S", "1", ""]);
}

#[tokio::test(start_paused = true)]
async fn msgdone_carries_the_metadata_response() {
    let h = Harness::new();
    h.meta.reply_with("ok, thanks");
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("hello+world", "CHAT", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,CHAT,1,ok%2C thanks"]);
    assert_eq!(h.meta.messages(), vec!["hello world"]);
}

#[tokio::test(start_paused = true)]
async fn a_later_progressive_waits_for_the_earlier_one() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("second", "S", 2, "")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.meta.messages().is_empty(), "2 ran before 1");
    c.quiet(Duration::from_millis(100)).await;
    send(&h, &c, &seq_msg("first", "S", 1, "")).await;
    assert_eq!(c.next_lines(2).await, vec!["MSGDONE,S,1,", "MSGDONE,S,2,"]);
    assert_eq!(h.meta.messages(), vec!["first", "second"]);
}

#[tokio::test(start_paused = true)]
async fn a_gap_is_skipped_after_the_max_wait() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("one", "S", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,1,"]);
    let t = tokio::time::Instant::now();
    send(&h, &c, &seq_msg("three", "S", 3, "LS_max_wait=2000")).await;
    // Not before the wait is over...
    c.quiet(Duration::from_millis(1900)).await;
    assert_eq!(h.meta.messages(), vec!["one"]);
    // ...then 3 goes, and 2 is gone for good.
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,3,"]);
    let waited = tokio::time::Instant::now() - t;
    assert!(waited >= Duration::from_millis(2000), "{waited:?}");
    assert!(waited < Duration::from_millis(2100), "{waited:?}");
    let r = h.message(&c.session, &seq_msg("two", "S", 2, "")).await;
    assert_eq!(r.err().map(|e| e.0), Some(32));
    send(&h, &c, &seq_msg("four", "S", 4, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,4,"]);
    assert_eq!(h.meta.messages(), vec!["one", "three", "four"]);
}

#[tokio::test(start_paused = true)]
async fn the_wait_defaults_to_and_is_capped_by_the_configured_maximum() {
    let h = Harness::new();
    let mut c = open(&h).await;
    // Default: message_max_wait, 5 s.
    let t = tokio::time::Instant::now();
    send(&h, &c, &seq_msg("a2", "A", 2, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,A,2,"]);
    let waited = tokio::time::Instant::now() - t;
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "{waited:?}"
    );
    // A longer wait asked by the client is cut to the maximum.
    let t = tokio::time::Instant::now();
    send(&h, &c, &seq_msg("b2", "B", 2, "LS_max_wait=600000")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,B,2,"]);
    let waited = tokio::time::Instant::now() - t;
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_max_wait_does_not_wait() {
    let h = Harness::new();
    let mut c = open(&h).await;
    let t = tokio::time::Instant::now();
    send(&h, &c, &seq_msg("x", "S", 5, "LS_max_wait=0")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,5,"]);
    assert!(tokio::time::Instant::now() - t < Duration::from_millis(10));
}

/// 3 arrives, then 2 while 3 still waits for 1 and 2: when the wait for 1
/// is over, 1 alone is missing, so 2 must go before 3.
#[tokio::test(start_paused = true)]

async fn a_gap_timeout_skips_only_what_is_missing() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("three", "S", 3, "LS_max_wait=1000")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&h, &c, &seq_msg("two", "S", 2, "LS_max_wait=1000")).await;
    let lines = c.until(|l| outcomes(l).len() >= 2).await;
    assert_eq!(
        outcomes(&lines),
        vec!["MSGDONE,S,2,", "MSGDONE,S,3,"],
        "{lines:?}"
    );
    assert_eq!(h.meta.messages(), vec!["two", "three"]);
}

#[tokio::test(start_paused = true)]
async fn a_processed_progressive_is_refused_with_32() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("one", "S", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,1,"]);
    let r = h
        .message(&c.session, &seq_msg("again", "S", 1, "LS_reqId=7"))
        .await;
    let Err((code, _)) = r else {
        panic!("duplicate accepted")
    };
    assert_eq!(code, 32);
    c.quiet(Duration::from_millis(100)).await;
    assert_eq!(h.meta.messages(), vec!["one"]);
    // Another sequence has its own progressives.
    send(&h, &c, &seq_msg("other", "T", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,T,1,"]);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_still_waiting_is_refused_at_once() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("two", "S", 2, "")).await;
    let r = h
        .message(&c.session, &seq_msg("two-again", "S", 2, ""))
        .await;
    assert_eq!(
        r.err().map(|e| e.0),
        Some(33),
        "a waiting duplicate is refused"
    );
    send(&h, &c, &seq_msg("one", "S", 1, "")).await;
    let lines = c.until(|l| outcomes(l).len() >= 2).await;
    assert_eq!(outcomes(&lines), vec!["MSGDONE,S,1,", "MSGDONE,S,2,"]);
    c.quiet(Duration::from_millis(100)).await;
    assert_eq!(h.meta.messages(), vec!["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_message_gets_msgfail_with_the_metadata_code() {
    let h = Harness::new();
    h.meta.refuse_message("boom", -7, "not allowed, sorry");
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("boom", "S", 1, "")).await;
    assert_eq!(
        c.next_lines(1).await,
        vec!["MSGFAIL,S,1,-7,not allowed%2C sorry"]
    );
    let (tag, args) = split(&c.lines[c.lines.len() - 1]);
    assert_eq!(tag, "MSGFAIL");
    assert_eq!(args, vec!["S", "1", "-7", "not allowed%2C sorry"]);
    // The sequence goes on.
    send(&h, &c, &seq_msg("fine", "S", 2, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,2,"]);
}

#[tokio::test(start_paused = true)]
async fn no_outcome_when_the_client_does_not_want_it() {
    let h = Harness::new();
    h.meta.refuse_message("bad", 5, "no");
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("quiet", "S", 1, "LS_outcome=false")).await;
    send(&h, &c, &seq_msg("bad", "S", 2, "LS_outcome=false")).await;
    send(&h, &c, &seq_msg("loud", "S", 3, "")).await;
    let lines = c.next_lines(1).await;
    assert_eq!(lines, vec!["MSGDONE,S,3,"]);
    c.quiet(Duration::from_millis(100)).await;
    assert_eq!(h.meta.messages(), vec!["quiet", "bad", "loud"]);
    assert_eq!(h.progressive(&c.session), 1);
}

#[tokio::test(start_paused = true)]
async fn unordered_messages_answer_with_a_star() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, "LS_message=free&LS_msg_prog=5").await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,*,5,"]);
    // The same progressive again: no sequence, no ordering, no check.
    send(&h, &c, "LS_message=free&LS_msg_prog=5").await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,*,5,"]);
    // Without a progressive there is nothing to answer.
    send(&h, &c, "LS_message=anon").await;
    c.quiet(Duration::from_millis(100)).await;
    assert_eq!(h.meta.messages(), vec!["free", "free", "anon"]);
}

#[tokio::test(start_paused = true)]
async fn sequences_do_not_block_each_other() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("a2", "A", 2, "LS_max_wait=3000")).await;
    send(&h, &c, &seq_msg("b1", "B", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,B,1,"]);
    send(&h, &c, &seq_msg("a1", "A", 1, "")).await;
    assert_eq!(c.next_lines(2).await, vec!["MSGDONE,A,1,", "MSGDONE,A,2,"]);
}

#[tokio::test(start_paused = true)]
async fn messages_interleave_with_updates_on_the_stream() {
    let h = Harness::new();
    let mut c = open(&h).await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.data.update("item1", &[("a", "1")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,1"]);
    send(&h, &c, &seq_msg("m", "S", 1, "")).await;
    assert_eq!(c.next_lines(1).await, vec!["MSGDONE,S,1,"]);
    h.data.update("item1", &[("a", "2")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,2"]);
    assert_eq!(h.progressive(&c.session), 5);
}

#[tokio::test(start_paused = true)]
async fn a_message_waiting_when_the_session_ends_goes_nowhere() {
    let h = Harness::new();
    let mut c = open(&h).await;
    send(&h, &c, &seq_msg("late", "S", 2, "LS_max_wait=1000")).await;
    h.ok(&c.session, "LS_op=destroy").await;
    assert_eq!(
        c.read_to_end().await,
        vec!["END,31,destroyed by the client"]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.engine.session_count(), 0);
}
