//! The proxy Data Adapter against a scripted remote: handshake, version
//! and encoding, subscriptions, notifications, credentials, loss and
//! recovery.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests panic on failure

mod common;

use common::*;
use shoal_adapter::DataProvider;
use shoal_remote::{
    start_data, Credentials, EventsRecovery, PortKind, RemoteData, RemoteState, Started,
};
use std::sync::Arc;
use std::time::Duration;

/// The proxy of the `DEFAULT` data adapter with a recorder as its
/// listener, and a scripted remote of ARI `version` connected to it.
async fn connected(version: &str) -> (Started<RemoteData>, Arc<Recorder>, Remote) {
    let started = start_data(settings(Some("DEFAULT"))).await.unwrap();
    let rec = recorder();
    started.adapter.set_listener(rec.clone());
    let mut remote = Remote::connect(started.ports[0].1).await;
    remote.init("DPI", version).await;
    assert!(started.wait_connected(Some(WAIT)).await);
    (started, rec, remote)
}

#[tokio::test]
async fn a_remote_feeds_subscribed_items() {
    let started = start_data(settings(Some("PRICES"))).await.unwrap();
    let rec = recorder();
    started.adapter.set_listener(rec.clone());
    let mut remote = Remote::connect(started.ports[0].1).await;
    remote.send("1|RAC|S|enableClosePacket|S|true").await;
    let init = remote.init("DPI", "1.8.3").await;
    // The proxy offers 1.9.1 and names the set and the adapter.
    assert_eq!(init[2..6], ["S", "ARI.version", "S", "1.9.1"]);
    let params = init.join("|");
    assert!(params.contains("S|adapters_conf.id|S|SET"), "{params}");
    assert!(params.contains("S|data_provider.name|S|PRICES"), "{params}");
    assert!(started.wait_connected(Some(WAIT)).await);

    started.adapter.subscribe("item one").unwrap();
    let sub = remote.expect("SUB").await;
    // 1.8.3: the old encoding (space as +).
    assert_eq!(sub[2..], ["S", "item+one"]);
    let id = &sub[0];
    remote
        .send(&format!("1|UD3|S|item+one|S|{id}|B|1|S|price|S|12.5|S|name|S|%C3%A9t%C3%A9|S|none|S|#|S|empty|S|$"))
        .await;
    remote.send(&format!("1|EOS|S|item+one|S|{id}")).await;
    remote.send(&format!("{id}|SUB|V")).await;
    remote
        .send(&format!("1|UD3|S|item+one|S|{id}|B|0|S|price|Y|MTM="))
        .await;
    assert_eq!(
        rec.wait(3).await,
        [
            "snap item one price=12.5,name=été,none=#,empty=",
            "eos item one",
            "upd item one price=13",
        ]
    );

    started.adapter.unsubscribe("item one");
    let usb = remote.expect("USB").await;
    assert_eq!(usb[2..], ["S", "item+one"]);
    // Late events of the subscription reach nobody.
    remote
        .send(&format!("1|UD3|S|item+one|S|{id}|B|0|S|price|S|14"))
        .await;
    remote.send(&format!("{}|USB|V", usb[0])).await;
    // A keepalive, then a new subscription shows the proxy is still there
    // and nothing was delivered meanwhile.
    remote.send("KEEPALIVE").await;
    started.adapter.subscribe("b").unwrap();
    let sub = remote.expect("SUB").await;
    remote
        .send(&format!("1|UD3|S|b|S|{}|B|0|S|x|S|1", sub[0]))
        .await;
    assert_eq!(rec.wait(1).await, ["upd b x=1"]);
}

#[tokio::test]
async fn a_1_9_remote_declares_field_diffs_with_dfd() {
    let (started, rec, mut remote) = connected("1.9.1").await;
    started.adapter.subscribe("book").unwrap();
    let sub = remote.expect("SUB").await;
    let id = &sub[0];
    // `#`: nothing said of `b` (left out); `$`: no diff for `c`.
    remote
        .send(&format!(
            "1|DFD|S|book|S|{id}|S|a|F|JM|S|b|F|#|S|c|F|$|S|d|F|M"
        ))
        .await;
    // A DFD for an id no subscription has reaches nobody.
    remote.send("1|DFD|S|book|S|999|S|a|F|J").await;
    remote
        .send(&format!("1|UD3|S|book|S|{id}|B|0|S|a|S|1"))
        .await;
    assert_eq!(
        rec.wait(2).await,
        [
            "diffs book a=[JsonPatch, DiffMatchPatch],c=[],d=[DiffMatchPatch]",
            "upd book a=1",
        ]
    );
}

#[tokio::test]
async fn field_names_are_shared_between_updates() {
    let (started, rec, mut remote) = connected("1.8.3").await;
    started.adapter.subscribe("x").unwrap();
    let sub = remote.expect("SUB").await;
    for v in 1..=2 {
        remote
            .send(&format!("1|UD3|S|x|S|{}|B|0|S|price|S|{v}", sub[0]))
            .await;
    }
    rec.wait(2).await;
    let raw = std::mem::take(&mut *rec.raw.lock().unwrap());
    let name = |i: usize| raw[i].clone().into_fields().remove(0).0;
    // The second update allocated no name: it holds the first one's.
    assert!(std::sync::Arc::ptr_eq(&name(0), &name(1)));
}

#[tokio::test]
async fn a_1_9_remote_gets_the_smart_encoding() {
    let (started, _rec, mut remote) = connected("1.9.1").await;
    started.adapter.subscribe("prix é|x").unwrap();
    let sub = remote.line().await.unwrap();
    assert!(sub.ends_with("|SUB|S|prix é%7Cx"), "{sub}");
}

#[tokio::test]
async fn the_sdks_serialise_sub_and_usb_per_item_and_so_does_the_proxy() {
    let (started, _rec, mut remote) = connected("1.8.3").await;
    let a = &started.adapter;
    a.subscribe("x").unwrap();
    a.unsubscribe("x");
    a.subscribe("x").unwrap();
    let sub = remote.expect("SUB").await;
    // Nothing more until the SUB is answered.
    remote.send(&format!("{}|SUB|V", sub[0])).await;
    let usb = remote.expect("USB").await;
    remote.send(&format!("{}|USB|V", usb[0])).await;
    let sub2 = remote.expect("SUB").await;
    assert_ne!(sub[0], sub2[0]);
}

#[tokio::test]
async fn wrong_remote_credentials_get_close_and_the_port_stays_open() {
    let mut s = settings(Some("DEFAULT"));
    s.credentials = Some(Credentials(vec![("ari".into(), "secret".into())]));
    let started = start_data(s).await.unwrap();
    started.adapter.set_listener(recorder());
    let addr = started.ports[0].1;

    let mut wrong = Remote::connect(addr).await;
    wrong
        .send("1|RAC|S|user|S|ari|S|password|S|guess|S|enableClosePacket|S|true")
        .await;
    assert_eq!(
        wrong.closed().await,
        ["0|CLOSE|S|reason|S|wrong+credentials"]
    );
    assert_eq!(started.state(), RemoteState::Connecting);

    let mut none = Remote::connect(addr).await;
    none.send("KEEPALIVE").await;
    assert!(none.closed().await.is_empty());

    let mut right = Remote::connect(addr).await;
    right
        .send("1|RAC|S|user|S|ari|S|password|S|secret|S|enableClosePacket|S|true")
        .await;
    right.init("DPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
}

#[tokio::test]
async fn a_first_line_too_long_for_credentials_is_refused_at_once() {
    let mut s = settings(Some("DEFAULT"));
    s.credentials = Some(Credentials(vec![("ari".into(), "secret".into())]));
    let started = start_data(s).await.unwrap();
    started.adapter.set_listener(recorder());
    let addr = started.ports[0].1;
    // Each connection waiting for its credentials may hold its first line
    // for the handshake timeout (10 s): not a long one. This one is closed
    // at once, without CLOSE (it is no RAC that could have enabled it).
    let mut long = Remote::connect(addr).await;
    let line = format!("1|RAC|S|user|S|{}", "u".repeat(64 * 1024));
    // Refused while still being written is as good as refused after.
    let _ = long.send_raw(line.as_bytes()).await;
    assert!(long.closed().await.is_empty());

    let mut right = Remote::connect(addr).await;
    right
        .send("1|RAC|S|user|S|ari|S|password|S|secret|S|enableClosePacket|S|true")
        .await;
    right.init("DPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
}

#[tokio::test]
async fn a_new_remote_gets_every_item_still_held() {
    let mut s = settings(Some("DEFAULT"));
    s.robust = true;
    s.events_recovery = EventsRecovery::UseSnapshot;
    s.status_item = Some("STATUS".into());
    let started = start_data(s).await.unwrap();
    let rec = recorder();
    started.adapter.set_listener(rec.clone());
    let a = &started.adapter;

    // Before any remote: empty snapshots at once, status "connecting".
    a.subscribe("STATUS").unwrap();
    a.subscribe("x").unwrap();
    assert_eq!(
        rec.wait(3).await,
        ["snap STATUS status=connecting", "eos STATUS", "eos x"]
    );

    let mut first = Remote::connect(started.ports[0].1).await;
    first.init("DPI", "1.8.3").await;
    let sub = first.expect("SUB").await;
    assert_eq!(rec.wait(1).await, ["upd STATUS status=connected"]);
    // The first remote's snapshot comes as updates: the client has one.
    first
        .send(&format!("1|UD3|S|x|S|{}|B|1|S|v|S|1", sub[0]))
        .await;
    first.send(&format!("1|EOS|S|x|S|{}", sub[0])).await;
    first
        .send(&format!("1|UD3|S|x|S|{}|B|0|S|v|S|2", sub[0]))
        .await;
    assert_eq!(rec.wait(2).await, ["upd x v=1", "upd x v=2"]);

    drop(first);
    assert_eq!(rec.wait(1).await, ["upd STATUS status=reconnecting"]);
    assert_eq!(started.state(), RemoteState::Reconnecting);

    let mut second = Remote::connect(started.ports[0].1).await;
    second.init("DPI", "1.8.3").await;
    let sub2 = second.expect("SUB").await;
    assert_eq!(sub2[2..], ["S", "x"]);
    second
        .send(&format!("1|UD3|S|x|S|{}|B|1|S|v|S|7", sub2[0]))
        .await;
    assert_eq!(
        rec.wait(2).await,
        ["upd STATUS status=connected", "upd x v=7"]
    );
}

#[tokio::test]
async fn two_connections_notifications_come_on_the_notify_port() {
    let mut s = settings(Some("DEFAULT"));
    s.notify = Some("127.0.0.1:0".parse().unwrap());
    let started = start_data(s).await.unwrap();
    let rec = recorder();
    started.adapter.set_listener(rec.clone());
    let port = |k: PortKind| started.ports.iter().find(|(p, _)| *p == k).unwrap().1;
    let mut rr = Remote::connect(port(PortKind::RequestReply)).await;
    let mut notify = Remote::connect(port(PortKind::Notify)).await;
    rr.send("1|RAC|S|enableClosePacket|S|true").await;
    notify
        .send("1796244317338|RAC|S|enableClosePacket|S|true")
        .await;
    rr.init("DPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
    started.adapter.subscribe("x").unwrap();
    let sub = rr.expect("SUB").await;
    notify
        .send(&format!("1796244317339|UD3|S|x|S|{}|B|1|S|v|S|1", sub[0]))
        .await;
    notify.send("KEEPALIVE").await;
    rr.send(&format!("{}|SUB|V", sub[0])).await;
    assert_eq!(rec.wait(1).await, ["snap x v=1"]);
}

#[tokio::test]
async fn garbage_or_silence_drops_the_remote_with_close() {
    let mut s = settings(Some("DEFAULT"));
    s.keepalive_timeout = Some(Duration::from_millis(300));
    let started = start_data(s).await.unwrap();
    started.adapter.set_listener(recorder());
    let addr = started.ports[0].1;

    let mut bad = Remote::connect(addr).await;
    bad.send("1|RAC|S|enableClosePacket|S|true").await;
    bad.init("DPI", "1.8.3").await;
    bad.send("this is not ARI").await;
    let seen = bad.closed().await;
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("0|CLOSE|S|reason|")),
        "{seen:?}"
    );

    let mut silent = Remote::connect(addr).await;
    silent.init("DPI", "1.8.3").await;
    let seen = silent.closed().await;
    assert!(
        seen.last()
            .is_some_and(|l| l.contains("keepalive_timeout_millis")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_second_remote_is_turned_away_while_one_serves() {
    let started = start_data(settings(Some("DEFAULT"))).await.unwrap();
    started.adapter.set_listener(recorder());
    let addr = started.ports[0].1;
    let mut first = Remote::connect(addr).await;
    first.init("DPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
    let mut second = Remote::connect(addr).await;
    second.send("1|RAC|S|enableClosePacket|S|true").await;
    assert!(second
        .closed()
        .await
        .iter()
        .all(|l| l.starts_with("0|CLOSE")));
    // The first one still serves.
    started.adapter.subscribe("x").unwrap();
    first.expect("SUB").await;
}

#[tokio::test]
async fn a_connection_that_never_answers_its_init_does_not_hold_the_port() {
    let started = start_data(settings(Some("DEFAULT"))).await.unwrap();
    started.adapter.set_listener(recorder());
    let addr = started.ports[0].1;
    // Connects, gets its DPI, says nothing.
    let mut silent = Remote::connect(addr).await;
    silent.expect("DPI").await;
    // The real remote arrives meanwhile and is served.
    let mut real = Remote::connect(addr).await;
    real.init("DPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
    assert!(silent.closed().await.is_empty());
    started.adapter.subscribe("x").unwrap();
    real.expect("SUB").await;
    assert_eq!(started.state(), RemoteState::Connected);
}
