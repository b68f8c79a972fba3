//! Session recovery: `LS_recovery_from` replays the counted notifications
//! after the client's progressive; what is no longer kept is refused with 4.

mod common;

use common::*;
use shoal_engine::EngineConfig;
use std::time::Duration;

/// A session with one MERGE subscription ("a b" of item1) and `n` updates
/// read one by one: 2 + n counted lines.
async fn session_with_updates(h: &Harness, n: usize) -> Client {
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a b", ""))
        .await;
    for i in 1..=n {
        h.data
            .update("item1", &[("a", &i.to_string()), ("b", "x")], false);
        c.next_lines(1).await;
    }
    assert_eq!(h.progressive(&c.session), 2 + n as u64);
    c
}

fn counted(c: &Client) -> Vec<String> {
    c.lines.iter().filter(|l| is_counted(l)).cloned().collect()
}

/// Reads the head of a rebound stream, up to and including `PROG` when
/// there is one, and checks its first lines.
async fn rebind_head(r: &mut Client, sid: &str, prog: Option<u64>) -> Vec<String> {
    let head = match prog {
        Some(_) => r.through(|l| l.starts_with("PROG,")).await,
        None => r.through(|l| l.starts_with("CONS,")).await,
    };
    assert_eq!(head[0], format!("CONOK,{sid},50000,5000,*"));
    assert_eq!(head[1], "SERVNAME,Shoal");
    // Every bind announces the bandwidth limit, after CLIENTIP.
    assert_eq!(head[3], "CONS,unlimited");
    if let Some(p) = prog {
        assert_eq!(head.last().cloned(), Some(format!("PROG,{p}")));
    }
    assert!(head.iter().all(|l| !is_counted(l)), "{head:?}");
    // The head lines come first, with no data between them.
    let first_data = r.lines.iter().position(|l| is_counted(l));
    if let Some(i) = first_data {
        assert!(i >= head.len(), "{:?}", r.lines);
    }
    head
}

#[tokio::test]
async fn recovery_replays_exactly_the_lines_after_the_progressive() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 5).await;
    let sid = c.session.clone();
    let sent = counted(&c);
    assert_eq!(sent.len(), 7);

    let mut r = h.rebind(&sid, "LS_recovery_from=3", &ws());
    assert_eq!(c.chunk().await, None, "the old stream is over");
    rebind_head(&mut r, &sid, Some(3)).await;
    // Lines 4..=7, in order, once.
    let replay = r.next_lines(4).await;
    assert_eq!(replay, sent[3..].to_vec());
    r.quiet(Duration::from_millis(50)).await;
    assert_eq!(
        h.progressive(&sid),
        7,
        "replayed lines are not counted again"
    );

    // The client's values are in step: deltas go on.
    h.data.update("item1", &[("a", "6")], false);
    assert_eq!(r.next_lines(1).await, vec!["U,1,1,6|"]);
    assert_eq!(h.progressive(&sid), 8);
}

#[tokio::test]
async fn recovery_from_zero_replays_everything() {
    let h = Harness::new();
    let c = session_with_updates(&h, 3).await;
    let sid = c.session.clone();
    let sent = counted(&c);
    let mut r = h.rebind(&sid, "LS_recovery_from=0", &ws());
    rebind_head(&mut r, &sid, Some(0)).await;
    assert_eq!(r.next_lines(5).await, sent);
    r.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn recovery_from_the_last_progressive_replays_nothing() {
    let h = Harness::new();
    let c = session_with_updates(&h, 2).await;
    let sid = c.session.clone();
    let mut r = h.rebind(&sid, "LS_recovery_from=4", &ws());
    rebind_head(&mut r, &sid, Some(4)).await;
    r.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "3")], false);
    assert_eq!(r.next_lines(1).await, vec!["U,1,1,3|"]);
}

#[tokio::test]
async fn recovery_replays_then_sends_what_is_new_in_order() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 1).await;
    let sid = c.session.clone();
    // Produced while the client was away: a pending update, a new
    // subscription and its (empty) snapshot.
    h.data.update("item1", &[("a", "2")], false);
    h.ok(&sid, &add(2, "DISTINCT", "item2", "a", "LS_snapshot=true"))
        .await;
    let mut r = h.rebind(&sid, "LS_recovery_from=1", &ws());
    assert_eq!(c.chunk().await, None);
    rebind_head(&mut r, &sid, Some(1)).await;
    let lines = r.next_lines(6).await;
    // Whatever the interleaving of the new lines, the replayed ones come
    // first, and every line comes once.
    assert_eq!(&lines[..2], &["CONF,1,unlimited,filtered", "U,1,1,1|x"]);
    let mut rest = lines[2..].to_vec();
    rest.sort();
    assert_eq!(
        rest,
        vec![
            "CONF,2,unlimited,filtered",
            "EOS,2,1",
            "SUBOK,2,1,1",
            "U,1,1,2|"
        ]
    );
    let subok = lines.iter().position(|l| l == "SUBOK,2,1,1");
    let conf = lines.iter().position(|l| l == "CONF,2,unlimited,filtered");
    let eos = lines.iter().position(|l| l == "EOS,2,1");
    assert!(subok < conf && conf < eos, "{lines:?}");
    r.quiet(Duration::from_millis(50)).await;
    assert_eq!(h.progressive(&sid), 7);
}

#[tokio::test]
async fn bind_without_recovery_continues_after_the_last_sent_line() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 2).await;
    let sid = c.session.clone();
    h.data.update("item1", &[("a", "3")], false);
    let mut r = h.rebind(&sid, "", &ws());
    assert_eq!(c.chunk().await, None);
    let head = rebind_head(&mut r, &sid, None).await;
    assert_eq!(head.len(), 4, "{head:?}");
    assert_eq!(r.next_lines(1).await, vec!["U,1,1,3|"]);
    r.quiet(Duration::from_millis(50)).await;
    assert!(!r.lines.iter().any(|l| l.starts_with("PROG")));
}

#[tokio::test]
async fn lines_produced_while_unbound_wait_for_the_next_bind() {
    let h = Harness::new();
    let c = session_with_updates(&h, 1).await;
    let sid = c.session.clone();
    drop(c);
    h.data.update("item1", &[("a", "2")], false);
    h.ok(&sid, "LS_op=delete&LS_subId=1").await;
    h.ok(&sid, &add(2, "MERGE", "item2", "a", "")).await;
    let mut r = h.rebind(&sid, "", &ws());
    rebind_head(&mut r, &sid, None).await;
    assert_eq!(
        r.next_lines(3).await,
        vec!["UNSUB,1", "SUBOK,2,1,1", "CONF,2,unlimited,filtered"]
    );
    r.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn recovery_twice_in_a_row() {
    let h = Harness::new();
    let c = session_with_updates(&h, 4).await;
    let sid = c.session.clone();
    let sent = counted(&c);
    let mut r1 = h.rebind(&sid, "LS_recovery_from=5", &ws());
    rebind_head(&mut r1, &sid, Some(5)).await;
    assert_eq!(r1.next_lines(1).await, sent[5..].to_vec());
    // That stream broke before anything arrived: recover again from 2.
    let mut r2 = h.rebind(&sid, "LS_recovery_from=2", &ws());
    assert_eq!(r1.chunk().await, None);
    rebind_head(&mut r2, &sid, Some(2)).await;
    assert_eq!(r2.next_lines(4).await, sent[2..].to_vec());
    r2.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn recovery_of_lines_no_longer_kept_is_refused_with_4() {
    let h = Harness::with_config(EngineConfig {
        recovery_max_bytes: 1,
        ..EngineConfig::default()
    });
    let mut c = session_with_updates(&h, 3).await;
    let sid = c.session.clone();
    // Everything sent has been dropped; only "after the last" is possible.
    let r = h.bind(&sid, "LS_recovery_from=2", &ws());
    let Err((code, msg)) = r else {
        panic!("recovered from a dropped point")
    };
    assert_eq!(code, 4);
    assert!(msg.contains('2'), "{msg}");
    // The session cannot go on: it is closed, its stream told so.
    assert_eq!(c.read_to_end().await, vec!["END,4,recovery failed"]);
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.data.unsubscribes("item1"), 1);
    assert_eq!(h.bind(&sid, "", &ws()).err().map(|e| e.0), Some(20));
}

#[tokio::test]
async fn recovery_from_the_last_sent_line_works_after_trimming() {
    let h = Harness::with_config(EngineConfig {
        recovery_max_bytes: 1,
        ..EngineConfig::default()
    });
    let c = session_with_updates(&h, 3).await;
    let sid = c.session.clone();
    let mut r = h.rebind(&sid, "LS_recovery_from=5", &ws());
    rebind_head(&mut r, &sid, Some(5)).await;
    h.data.update("item1", &[("a", "4")], false);
    assert_eq!(r.next_lines(1).await, vec!["U,1,1,4|"]);
}

#[tokio::test]
async fn recovery_beyond_the_last_progressive_is_refused_with_4() {
    let h = Harness::new();
    let c = session_with_updates(&h, 1).await;
    let sid = c.session.clone();
    let r = h.bind(&sid, "LS_recovery_from=4", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(4));
    assert_eq!(h.engine.session_count(), 0);
}

/// Lines older than the recovery window are dropped (real time, 50 ms).
#[tokio::test]
async fn recovery_window_drops_old_lines() {
    let h = Harness::with_config(EngineConfig {
        recovery_window: Duration::from_millis(50),
        ..EngineConfig::default()
    });
    let mut c = session_with_updates(&h, 2).await;
    let sid = c.session.clone();
    tokio::time::sleep(Duration::from_millis(120)).await;
    // Dropping happens as the stream sends: send one more.
    h.data.update("item1", &[("a", "3")], false);
    c.next_lines(1).await;
    let r = h.bind(&sid, "LS_recovery_from=2", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(4));
}

/// The same with tokio's paused clock.
#[tokio::test(start_paused = true)]

async fn recovery_window_drops_old_lines_under_paused_time() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 2).await;
    let sid = c.session.clone();
    tokio::time::sleep(Duration::from_secs(31)).await;
    h.data.update("item1", &[("a", "3")], false);
    c.next_lines(1).await;
    let r = h.bind(&sid, "LS_recovery_from=2", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(4));
}

#[tokio::test]
async fn recovery_keeps_lines_within_the_window() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 2).await;
    let sid = c.session.clone();
    let sent = counted(&c);
    h.data.update("item1", &[("a", "3")], false);
    c.next_lines(1).await;
    let mut r = h.rebind(&sid, "LS_recovery_from=1", &ws());
    rebind_head(&mut r, &sid, Some(1)).await;
    let mut want = sent[1..].to_vec();
    want.push("U,1,1,3|".into());
    assert_eq!(r.next_lines(4).await, want);
}

#[tokio::test]
async fn polling_recovery() {
    let h = Harness::new();
    let mut c = session_with_updates(&h, 3).await;
    let sid = c.session.clone();
    let sent = counted(&c);
    let Ok(stream) = h.bind(
        &sid,
        "LS_polling=true&LS_polling_millis=1000&LS_idle_millis=0&LS_recovery_from=3",
        &http(),
    ) else {
        panic!("refused")
    };
    assert_eq!(c.chunk().await, None);
    let mut p = Client::new(stream);
    let lines = p.read_to_end().await;
    let prog = lines.iter().position(|l| l == "PROG,3");
    assert!(prog.is_some(), "{lines:?}");
    let data: Vec<String> = lines.iter().filter(|l| is_counted(l)).cloned().collect();
    assert_eq!(data, sent[3..].to_vec());
    assert_eq!(lines.last().map(String::as_str), Some("LOOP,1000"));
}
