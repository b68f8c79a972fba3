//! Session life cycle: creation and its head, refusals, rebinding,
//! force_rebind, destroy, expiry, unknown sessions.

mod common;

use common::*;
use shoal_engine::EngineConfig;
use std::time::Duration;

fn is_session_id(id: &str) -> bool {
    id.len() == 33 && id.starts_with('S') && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn create_session_head_lines() {
    let h = Harness::new();
    let c = h.open().await;
    assert!(is_session_id(&c.session), "{}", c.session);
    assert_eq!(
        c.head,
        vec![
            format!("CONOK,{},50000,5000,*", c.session),
            "SERVNAME,Shoal".to_owned(),
            "CLIENTIP,10.0.0.1".to_owned(),
            "CONS,unlimited".to_owned(),
        ]
    );
    assert_eq!(h.engine.session_count(), 1);
    assert_eq!(h.meta.new_sessions(), vec![c.session.clone()]);
    assert_eq!(h.progressive(&c.session), 0, "the head is not counted");
}

#[tokio::test]
async fn create_session_head_carries_keepalive_control_link_and_user() {
    let h = Harness::new();
    let mut ctx = ws();
    ctx.control_link = Some("push.example.com".into());
    ctx.server_name = "Shoal test, node 1".into();
    let c = h
        .open_with(
            "LS_user=alice&LS_password=pw&LS_keepalive_millis=2500",
            &ctx,
        )
        .await;
    assert_eq!(
        c.head[0],
        format!("CONOK,{},50000,2500,push.example.com", c.session)
    );
    // Commas in arguments are percent-encoded.
    assert_eq!(c.head[1], "SERVNAME,Shoal test%2C node 1");
    assert_eq!(h.meta.users(), vec![Some("alice".to_owned())]);

    // The keepalive is held within the configured bounds.
    let c = h.open_with("LS_keepalive_millis=10", &ws()).await;
    assert_eq!(c.head[0], format!("CONOK,{},50000,1000,*", c.session));
    let c = h.open_with("LS_keepalive_millis=600000", &ws()).await;
    assert_eq!(c.head[0], format!("CONOK,{},50000,30000,*", c.session));
}

#[tokio::test]
async fn a_set_that_ignores_the_control_link_sends_none() {
    let h = Harness::ignoring_control_link();
    let mut ctx = ws();
    ctx.control_link = Some("push.example.com".into());
    let c = h.open_with("LS_keepalive_millis=2500", &ctx).await;
    assert_eq!(c.head[0], format!("CONOK,{},50000,2500,*", c.session));
    // Nor on a rebind of the same session.
    let mut again = h.rebind(&c.session, "", &ctx);
    again.chunk().await;
    assert!(
        again.lines[0].ends_with(",*"),
        "rebind head: {:?}",
        again.lines
    );
}

#[tokio::test]
async fn create_session_without_client_ip_or_with_reduced_head() {
    let h = Harness::new();
    let mut ctx = ws();
    ctx.client_ip = String::new();
    let c = h.open_with("", &ctx).await;
    assert_eq!(c.head.len(), 3, "{:?}", c.head);
    assert_eq!(c.head[1], "SERVNAME,Shoal");
    assert_eq!(c.head[2], "CONS,unlimited");

    let c = h.open_with("LS_reduce_head=true", &ws()).await;
    assert_eq!(c.head, vec![format!("CONOK,{},50000,5000,*", c.session)]);
}

#[tokio::test]
async fn polling_create_with_no_idle_time_returns_the_head_and_loop() {
    let h = Harness::new();
    let stream = h
        .engine
        .create_session(
            &create("LS_polling=true&LS_polling_millis=0&LS_idle_millis=0"),
            &http(),
        )
        .await;
    let Ok(stream) = stream else {
        panic!("{stream:?}")
    };
    assert!(stream.is_polling());
    let mut c = Client::new(stream);
    let lines = c.read_to_end().await;
    let id = split(&lines[0]).1[0].clone();
    assert_eq!(
        lines,
        vec![
            format!("CONOK,{id},50000,0,*"),
            "SERVNAME,Shoal".to_owned(),
            "CLIENTIP,10.0.0.1".to_owned(),
            "CONS,unlimited".to_owned(),
            "LOOP,0".to_owned(),
        ]
    );
    assert_eq!(c.chunks.len(), 1, "one response: {:?}", c.chunks);
    assert!(c.stream.next_chunk().await.is_none(), "stays over");
    assert_eq!(h.engine.session_count(), 1, "the session outlives its poll");
}

#[tokio::test]
async fn polling_create_loop_carries_the_polling_interval_capped() {
    let h = Harness::new();
    for (asked, told) in [(2000, 2000), (600_000, 15_000)] {
        let req = create(&format!(
            "LS_polling=true&LS_polling_millis={asked}&LS_idle_millis=0"
        ));
        let Ok(stream) = h.engine.create_session(&req, &http()).await else {
            panic!("refused")
        };
        let mut c = Client::new(stream);
        let lines = c.read_to_end().await;
        assert_eq!(lines.last().cloned(), Some(format!("LOOP,{told}")));
    }
}

#[tokio::test]
async fn unknown_adapter_set_is_refused_with_code_2() {
    let h = Harness::new();
    let r = h
        .engine
        .create_session(&create("LS_adapter_set=NOPE"), &ws())
        .await;
    let Err((code, msg)) = r else {
        panic!("accepted")
    };
    assert_eq!(code, 2);
    // The official server's text, which its clients' tests compare.
    assert_eq!(msg, "Requested Adapter Set not available");
    assert_eq!(h.engine.session_count(), 0);
    assert!(h.meta.users().is_empty(), "metadata not consulted");
}

#[tokio::test]
async fn refused_user_gets_the_metadata_code() {
    let h = Harness::new();
    h.meta.refuse_user("mallory", 1, "bad credentials");
    h.meta.refuse_user("eve", -7, "banned, sorry");
    for (user, code, text) in [
        ("mallory", 1, "bad credentials"),
        ("eve", -7, "banned, sorry"),
    ] {
        let r = h
            .engine
            .create_session(&create(&format!("LS_user={user}&LS_password=x")), &ws())
            .await;
        match r {
            Err((c, m)) => {
                assert_eq!(c, code);
                assert_eq!(m, text);
            }
            Ok(_) => panic!("{user} accepted"),
        }
    }
    assert_eq!(h.engine.session_count(), 0);
    assert!(h.meta.new_sessions().is_empty());
    // Someone else still gets in.
    let c = h.open_with("LS_user=bob", &ws()).await;
    assert!(is_session_id(&c.session));
}

#[tokio::test]
async fn max_sessions_and_not_accepting() {
    let h = Harness::with_config(EngineConfig {
        max_sessions: 2,
        ..EngineConfig::default()
    });
    let _a = h.open().await;
    let _b = h.open().await;
    let r = h.engine.create_session(&create(""), &ws()).await;
    assert_eq!(r.err().map(|e| e.0), Some(8));

    let h = Harness::new();
    h.engine.set_accepting(false);
    let r = h.engine.create_session(&create(""), &ws()).await;
    assert_eq!(r.err().map(|e| e.0), Some(5));
    h.engine.set_accepting(true);
    let _c = h.open().await;
}

#[tokio::test]
async fn session_ids_are_distinct() {
    let h = Harness::new();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let c = h.open().await;
        assert!(ids.insert(c.session.clone()));
    }
    assert_eq!(h.engine.session_count(), 20);
}

#[tokio::test]
async fn unknown_session_ids_get_code_20() {
    let h = Harness::new();
    let _c = h.open().await;
    let ghost = "S0000000000000000deadbeef";
    let r = h.control(ghost, &add(1, "MERGE", "item1", "a", "")).await;
    assert_eq!(r.err().map(|e| e.0), Some(20));
    let r = h.control(ghost, "LS_op=destroy").await;
    assert_eq!(r.err().map(|e| e.0), Some(20));
    let r = h
        .message(ghost, "LS_message=hi&LS_sequence=S&LS_msg_prog=1")
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(20));
    let r = h.bind(ghost, "", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(20));
    let r = h.bind(ghost, "LS_recovery_from=0", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(20));
    assert_eq!(h.data.calls(), Vec::<String>::new());
}

/// What the engine answers to a bind the transports pass it (with
/// handoff, when the engine has a broker).
async fn bind_anywhere(h: &Harness, session: &str, params: &str) -> Option<i32> {
    let body = if params.is_empty() {
        format!("LS_session={session}")
    } else {
        format!("LS_session={session}&{params}")
    };
    h.engine
        .bind_or_adopt(&bind(&body), &ws())
        .await
        .err()
        .map(|e| e.0)
}

#[tokio::test]
async fn a_poll_for_another_nodes_session_is_cut_so_that_the_client_recovers_at_once() {
    let node1 = Harness::new();
    let node2 = Harness::new();
    let c = node1.open().await;
    // The next poll of node1's client, sent by the balancer to node2 (node1
    // died, or the client lost its sticky cookie): cut, not CONERR,20, for
    // which the client would wait its retry delay.
    assert_eq!(
        bind_anywhere(&node2, &c.session, "").await,
        Some(shoal_protocol::code::CUT_TO_RECOVER)
    );
    // The recovery that follows is refused as ever: the client opens a new
    // session at once.
    assert_eq!(
        bind_anywhere(&node2, &c.session, "LS_recovery_from=0").await,
        Some(20)
    );
    // Once: a client whose binds keep reaching node2 while its recoveries
    // reach node1 must not loop; its next bind here gets CONERR,20.
    assert_eq!(bind_anywhere(&node2, &c.session, "").await, Some(20));
    // A session node1 made, which ended on node1, is refused there.
    let sid = c.session.clone();
    drop(c);
    node1.ok(&sid, "LS_op=destroy").await;
    assert_eq!(bind_anywhere(&node1, &sid, "").await, Some(20));
    // An id of no Shoal's shape is unknown everywhere.
    assert_eq!(
        bind_anywhere(&node2, "S0000000000000000deadbeef", "").await,
        Some(20)
    );
}

#[tokio::test]
async fn bind_without_session_parameter_is_refused() {
    let h = Harness::new();
    let r = h.engine.bind_session(&bind("LS_polling=false"), &ws());
    assert_eq!(r.err().map(|e| e.0), Some(65));
}

#[tokio::test]
async fn a_new_bind_ends_the_previous_stream() {
    let h = Harness::new();
    let mut first = h.open().await;
    let sid = first.session.clone();
    h.subscribe(&mut first, &add(1, "MERGE", "item1", "a", ""))
        .await;

    let mut second = h.rebind(&sid, "", &ws());
    assert_eq!(first.chunk().await, None, "the replaced stream is over");
    assert_eq!(first.chunk().await, None);

    let head = second.next_lines(3).await;
    assert_eq!(head[0], format!("CONOK,{sid},50000,5000,*"));
    assert_eq!(head[1], "SERVNAME,Shoal");
    assert_eq!(head[2], "CLIENTIP,10.0.0.1");
    // Data goes to the new stream.
    h.data.update("item1", &[("a", "1")], false);
    let lines = second.until_prefix("U,").await;
    assert_eq!(lines.last().map(String::as_str), Some("U,1,1,1"));
    assert_eq!(h.engine.session_count(), 1);
}

#[tokio::test]
async fn a_rebind_from_another_address_sends_its_client_ip() {
    let h = Harness::new();
    let first = h.open().await;
    let mut ctx = ws();
    ctx.client_ip = "192.0.2.7".into();
    let mut second = h.rebind(&first.session, "", &ctx);
    let head = second.next_lines(3).await;
    assert_eq!(head[2], "CLIENTIP,192.0.2.7");
}

#[tokio::test]
async fn dropping_a_replaced_stream_does_not_unbind_the_new_one() {
    let h = Harness::with_config(EngineConfig {
        session_timeout: Duration::from_millis(50),
        ..fast_config()
    });
    let _reaper = h.engine.spawn_reaper();
    let first = h.open().await;
    let sid = first.session.clone();
    let mut second = h.rebind(&sid, "LS_keepalive_millis=30000", &ws());
    second.next_lines(3).await;
    drop(first);
    // Two reaper rounds, real time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.engine.session_count(), 1, "the bound session was reaped");
}

#[tokio::test]
async fn force_rebind_ends_the_stream_with_loop_0() {
    let h = Harness::new();
    let mut c = h.open().await;
    let sid = c.session.clone();
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    h.ok(&sid, "LS_op=force_rebind").await;
    assert_eq!(c.read_to_end().await, vec!["LOOP,0"]);
    assert!(c.chunks.last().is_some_and(|l| l.ends_with("LOOP,0\r\n")));
    assert_eq!(h.engine.session_count(), 1, "the session stays");

    // The client rebinds and goes on.
    let mut again = h.rebind(&sid, "", &ws());
    again.next_lines(3).await;
    h.data.update("item1", &[("a", "x")], false);
    let lines = again.until_prefix("U,").await;
    assert_eq!(lines, vec!["U,1,1,x"]);
}

#[tokio::test]
async fn destroy_ends_the_stream_and_forgets_the_session() {
    let h = Harness::new();
    let mut c = h.open().await;
    let sid = c.session.clone();
    h.subscribe(&mut c, &add(1, "MERGE", "item1 item2", "a", ""))
        .await;
    assert_eq!(h.engine.item_count(), 2);

    h.ok(&sid, "LS_op=destroy").await;
    assert_eq!(
        c.read_to_end().await,
        vec!["END,31,destroyed by the client"]
    );
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.engine.item_count(), 0);
    assert_eq!(h.data.unsubscribes("item1"), 1);
    assert_eq!(h.data.unsubscribes("item2"), 1);
    assert_eq!(h.meta.closed_sessions(), vec![sid.clone()]);

    let r = h.bind(&sid, "", &ws());
    assert_eq!(r.err().map(|e| e.0), Some(20));
    let r = h.control(&sid, "LS_op=destroy").await;
    assert_eq!(r.err().map(|e| e.0), Some(20));
    // Events for the released items go nowhere.
    h.data.update("item1", &[("a", "late")], false);
}

#[tokio::test]
async fn destroy_with_a_cause_code() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(
        &c.session,
        "LS_op=destroy&LS_cause_code=-5&LS_cause_message=going+away%2C+bye",
    )
    .await;
    let lines = c.read_to_end().await;
    assert_eq!(lines, vec!["END,-5,going away%2C bye"]);

    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=destroy&LS_cause_code=-5").await;
    let lines = c.read_to_end().await;
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("END,-5,"), "{lines:?}");
}

#[tokio::test]
async fn destroy_of_an_unbound_session_then_bind_gets_20() {
    let h = Harness::new();
    let c = h.open().await;
    let sid = c.session.clone();
    drop(c);
    h.ok(&sid, "LS_op=destroy").await;
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.bind(&sid, "", &ws()).err().map(|e| e.0), Some(20));
}

#[tokio::test]
async fn engine_close_sends_end_with_the_given_code() {
    let h = Harness::new();
    let mut c = h.open().await;
    let Some(session) = h.engine.session(&c.session) else {
        panic!("no session")
    };
    h.engine.close(&session, 7, "maintenance");
    assert!(session.is_closed());
    assert_eq!(c.read_to_end().await, vec!["END,7,maintenance"]);
    assert_eq!(session.adapter_set(), SET);
}

#[tokio::test]
async fn constrain_answers_cons_uncounted() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=constrain&LS_requested_max_bandwidth=10")
        .await;
    assert_eq!(c.next_lines(1).await, vec!["CONS,10"]);
    assert_eq!(h.progressive(&c.session), 0);
}

/// Session expiry with the reaper, in real time (short timeouts). The
/// reaper runs every 500 ms.
#[tokio::test]
async fn unbound_session_expires_and_releases_its_items() {
    let h = Harness::with_config(EngineConfig {
        session_timeout: Duration::from_millis(100),
        ..fast_config()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    let sid = c.session.clone();
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    assert_eq!(h.data.subscribes("item1"), 1);

    // A bound session does not expire, however long it waits.
    let mut kept = h.open_with("LS_keepalive_millis=30000", &ws()).await;
    drop(c);
    tokio::time::timeout(TIMEOUT, async {
        while h.engine.session_count() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the session never expired"));
    assert!(h.engine.session(&sid).is_none());
    assert!(h.engine.session(&kept.session).is_some());
    assert_eq!(h.data.unsubscribes("item1"), 1);
    assert_eq!(h.engine.item_count(), 0);
    assert_eq!(h.meta.closed_sessions(), vec![sid.clone()]);
    assert_eq!(h.bind(&sid, "", &ws()).err().map(|e| e.0), Some(20));
    kept.quiet(Duration::from_millis(10)).await;
}

/// The same with tokio's paused clock, as the reaper's own interval runs
/// on it: the session should expire after `session_timeout` of (paused)
/// time.
#[tokio::test(start_paused = true)]

async fn unbound_session_expires_under_paused_time() {
    let h = Harness::with_config(EngineConfig {
        session_timeout: Duration::from_secs(20),
        ..EngineConfig::default()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    let sid = c.session.clone();
    h.subscribe(&mut c, &add(1, "MERGE", "item1", "a", ""))
        .await;
    drop(c);
    tokio::time::sleep(Duration::from_secs(19)).await;
    assert_eq!(h.engine.session_count(), 1, "expired too early");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.engine.session_count(), 0, "not expired after 21 s");
    assert!(h.engine.session(&sid).is_none());
    assert_eq!(h.data.unsubscribes("item1"), 1);
}

/// A polling session may stay unbound for its polling interval on top of
/// the session timeout.
#[tokio::test]
async fn polling_session_gets_its_polling_interval_before_expiring() {
    let h = Harness::with_config(EngineConfig {
        session_timeout: Duration::from_millis(50),
        ..fast_config()
    });
    let _reaper = h.engine.spawn_reaper();
    let req = create("LS_polling=true&LS_polling_millis=1500&LS_idle_millis=0");
    let Ok(stream) = h.engine.create_session(&req, &http()).await else {
        panic!("refused")
    };
    let mut c = Client::new(stream);
    c.read_to_end().await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        h.engine.session_count(),
        1,
        "expired within its poll interval"
    );
    tokio::time::timeout(TIMEOUT, async {
        while h.engine.session_count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never expired"));
}

#[tokio::test]
async fn close_socket_is_asked_only_when_the_client_says_so() {
    let h = Harness::new();
    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=destroy").await;
    c.read_to_end().await;
    assert!(
        !c.stream.closes_socket(),
        "a plain destroy keeps the socket"
    );

    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=destroy&LS_close_socket=true").await;
    assert_eq!(
        c.read_to_end().await,
        vec!["END,31,destroyed by the client"]
    );
    assert!(c.stream.closes_socket());

    let mut c = h.open().await;
    h.ok(&c.session, "LS_op=force_rebind&LS_close_socket=true")
        .await;
    assert_eq!(c.read_to_end().await, vec!["LOOP,0"]);
    assert!(c.stream.closes_socket());
}

/// Sessions older than max_session_duration end with END,48 (the client
/// then opens a new session at once), bound or not.
#[tokio::test(start_paused = true)]
async fn sessions_end_at_their_maximum_duration() {
    let h = Harness::with_config(EngineConfig {
        max_session_duration: Some(Duration::from_secs(60)),
        keepalive: Duration::from_secs(30),
        max_keepalive: Duration::from_secs(30),
        ..EngineConfig::default()
    });
    let _reaper = h.engine.spawn_reaper();
    let mut c = h.open().await;
    tokio::time::sleep(Duration::from_secs(58)).await;
    assert_eq!(h.engine.session_count(), 1, "ended too early");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.engine.session_count(), 0, "still there after 61 s");
    let lines = c.read_to_end().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("END,48,maximum session duration reached"),
        "{lines:?}"
    );
}
