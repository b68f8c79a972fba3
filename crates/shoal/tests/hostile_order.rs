//! Requests are executed in the order they arrive on a connection, whatever
//! the transport: a subscription added and deleted at once, many times over
//! one WebSocket, is always deleted, and nothing of it is sent afterwards.

mod common;

use common::*;
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn add_then_delete_on_one_websocket_always_deletes() {
    let server = Server::start(&[]);
    let (mut ws, _) = ws_session(&server).await;
    const N: u32 = 200;
    for i in 1..=N {
        let add = format!(
            "control\r\nLS_reqId=a{i}&LS_op=add&LS_subId={i}&LS_group=rate-50&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=RAW"
        );
        let del = format!("control\r\nLS_reqId=d{i}&LS_op=delete&LS_subId={i}");
        ws.send(Message::text(add)).await.unwrap();
        ws.send(Message::text(del)).await.unwrap();
    }
    // Every delete is answered REQOK, in order after its add.
    let mut answered = 0;
    let mut last = String::new();
    while answered < 2 * N {
        let l = ws_until(&mut ws, Duration::from_secs(20), |l| {
            l.starts_with("REQOK") || l.starts_with("REQERR") || l.starts_with("ERROR")
        })
        .await;
        assert!(l.starts_with("REQOK"), "refused: {l} (after {last})");
        let id = l.trim_start_matches("REQOK,");
        let expected = if answered % 2 == 0 {
            format!("a{}", answered / 2 + 1)
        } else {
            format!("d{}", answered / 2 + 1)
        };
        assert_eq!(id, expected, "answers out of order");
        last = l;
        answered += 1;
    }
    // Then a marker subscription: once its SUBOK arrives, no update of any
    // deleted subscription may follow.
    ws.send(Message::text(
        "control\r\nLS_reqId=m&LS_op=add&LS_subId=9999&LS_group=rate-100&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=RAW",
    ))
    .await
    .unwrap();
    ws_until(&mut ws, Duration::from_secs(10), |l| {
        l.starts_with("SUBOK,9999")
    })
    .await;
    let mut marker_updates = 0;
    while marker_updates < 50 {
        let l = ws_until(&mut ws, Duration::from_secs(10), |l| l.starts_with("U,")).await;
        assert!(
            l.starts_with("U,9999,"),
            "an update of a deleted subscription arrived: {l}"
        );
        marker_updates += 1;
    }
}

/// A client that sends `destroy` and closes its WebSocket at once (as a
/// page being left does) has its session destroyed: the close does not
/// overtake the request read before it.
#[tokio::test]
async fn a_destroy_right_before_a_close_is_executed() {
    let server = Server::start(&[]);
    let mut ids = Vec::new();
    for _ in 0..40 {
        let (mut ws, id) = ws_session(&server).await;
        ws_subscribe(
            &mut ws,
            1,
            "LS_group=rate-50&LS_schema=seq&LS_data_adapter=COUNTER&LS_mode=RAW",
        )
        .await
        .unwrap();
        ws.send(Message::text("control\r\nLS_reqId=9&LS_op=destroy"))
            .await
            .unwrap();
        ws.close(None).await.unwrap();
        ids.push(id);
    }
    for id in ids {
        let mut ws = ws_connect(&server).await;
        ws.send(Message::text(format!("bind_session\r\nLS_session={id}")))
            .await
            .unwrap();
        let answer = ws_until(&mut ws, Duration::from_secs(10), |l| {
            l.starts_with("CONOK") || l.starts_with("CONERR") || l.starts_with("ERROR")
        })
        .await;
        assert!(
            !answer.starts_with("CONOK"),
            "session {id} still exists after destroy and close: {answer}"
        );
    }
}
