//! RAW and unfiltered dispatching: nothing merged, losses reported with OV.

mod common;

use common::*;
use shoal_adapter::ItemData;
use shoal_engine::EngineConfig;
use std::time::Duration;

fn small_buffers() -> Harness {
    Harness::with_config(EngineConfig {
        max_buffer: 3,
        ..EngineConfig::default()
    })
}

#[tokio::test]
async fn raw_delivers_every_event_while_the_buffer_holds() {
    let h = small_buffers();
    let mut c = h.open().await;
    let lines = h
        .subscribe(&mut c, &add(1, "RAW", "item1", "a b", ""))
        .await;
    assert_eq!(lines, vec!["SUBOK,1,1,2", "CONF,1,unlimited,unfiltered"]);
    for i in 1..=3 {
        h.data
            .update("item1", &[("a", &i.to_string()), ("b", "x")], false);
    }
    assert_eq!(
        c.next_lines(3).await,
        vec!["U,1,1,1|x", "U,1,1,2|", "U,1,1,3|"]
    );
    c.quiet(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn raw_overflow_is_reported_and_the_next_update_is_full() {
    let h = small_buffers();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a b", ""))
        .await;
    h.data.update("item1", &[("a", "0"), ("b", "x")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,0|x"]);
    // Six events while nothing reads: three fit, three are lost.
    for i in 1..=6 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    let lines = c.next_lines(4).await;
    assert_eq!(lines, vec!["OV,1,1,3", "U,1,1,1|x", "U,1,1,2|", "U,1,1,3|"]);
    // The update right after OV is full: the client's values are out of step.
    assert!(!lines[1].contains("||") && !lines[1].ends_with('|'));
    c.quiet(Duration::from_millis(50)).await;
    // The next event follows lost ones: in full again.
    h.data.update("item1", &[("a", "7")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,7|x"]);
    h.data.update("item1", &[("a", "8")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,8|"]);
    // OV is a counted notification.
    assert_eq!(h.progressive(&c.session), 2 + 1 + 1 + 3 + 2);
}

#[tokio::test]
async fn overflow_is_per_item() {
    let h = small_buffers();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1 item2", "a", ""))
        .await;
    for i in 1..=5 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    h.data.update("item2", &[("a", "only")], false);
    let lines = c.next_lines(5).await;
    let item1: Vec<&String> = lines.iter().filter(|l| l.contains(",1,1")).collect();
    assert_eq!(item1, vec!["OV,1,1,2", "U,1,1,1", "U,1,1,2", "U,1,1,3"]);
    assert!(lines.contains(&"U,1,2,only".to_owned()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("OV,1,2")));
}

#[tokio::test]
async fn unfiltered_distinct_overflow_is_reported() {
    let h = small_buffers();
    let mut c = h.open().await;
    let lines = h
        .subscribe(
            &mut c,
            &add(
                1,
                "DISTINCT",
                "item1",
                "a",
                "LS_requested_max_frequency=unfiltered",
            ),
        )
        .await;
    assert_eq!(lines[1], "CONF,1,unlimited,unfiltered");
    for i in 1..=5 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(
        c.next_lines(4).await,
        vec!["OV,1,1,2", "U,1,1,1", "U,1,1,2", "U,1,1,3"]
    );
}

#[tokio::test]
async fn unfiltered_ignores_the_requested_buffer_size() {
    let h = small_buffers();
    let mut c = h.open().await;
    h.subscribe(
        &mut c,
        &add(
            1,
            "DISTINCT",
            "item1",
            "a",
            "LS_requested_max_frequency=unfiltered&LS_requested_buffer_size=1",
        ),
    )
    .await;
    for i in 1..=3 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(c.next_lines(3).await, vec!["U,1,1,1", "U,1,1,2", "U,1,1,3"]);
}

#[tokio::test]
async fn metadata_buffer_size_bounds_raw_buffers() {
    let h = Harness::new();
    h.meta.limit_item(
        "item1",
        ItemData {
            max_frequency: None,
            max_buffer_size: Some(2),
            ..Default::default()
        },
    );
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    for i in 1..=4 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(
        c.next_lines(3).await,
        vec!["OV,1,1,2", "U,1,1,1", "U,1,1,2"]
    );
}

#[tokio::test]
async fn raw_gets_no_snapshot() {
    let h = Harness::new();
    h.data.snapshot_available("item1");
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "RAW", "item1", "a", "")).await;
    h.data.update("item1", &[("a", "snap")], true);
    h.data.end_of_snapshot("item1");
    c.quiet(Duration::from_millis(50)).await;
    h.data.update("item1", &[("a", "live")], false);
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,live"]);
}

#[tokio::test]
async fn filtered_merge_never_reports_overflow() {
    let h = small_buffers();
    let mut c = h.open().await;
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    for i in 1..=50 {
        h.data.update("item1", &[("a", &i.to_string())], false);
    }
    assert_eq!(c.next_lines(1).await, vec!["U,1,1,50"]);
    c.quiet(Duration::from_millis(50)).await;
}
