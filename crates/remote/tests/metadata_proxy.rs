//! The proxy Metadata Adapter against a scripted remote: each call is a
//! request, each exception the code a client sees.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests panic on failure

mod common;

use common::*;
use shoal_adapter::{ItemData, Login, MetadataProvider, Mode, ModeSet, SessionInfo, TableInfo};
use shoal_remote::start_metadata;
use std::sync::Arc;
use std::time::Duration;

fn session() -> SessionInfo {
    SessionInfo {
        session_id: "S1".into(),
        user: Some("alice".into()),
        client_ip: "10.0.0.1".into(),
        client_port: 4000,
        user_agent: Some("agent/1".into()),
        forwarding_info: None,
        local_server: "Shoal".into(),
    }
}

async fn connected() -> (shoal_remote::Started<shoal_remote::RemoteMetadata>, Remote) {
    let started = start_metadata(settings(None)).await.unwrap();
    let mut remote = Remote::connect(started.ports[0].1).await;
    let init = remote.init("MPI", "1.8.3").await;
    assert!(init.join("|").contains("S|adapters_conf.id|S|SET"));
    assert!(started.wait_connected(Some(WAIT)).await);
    (started, remote)
}

/// The `D` of the `NUS` reply is the user's bandwidth, 0 unlimited.
#[tokio::test]
async fn the_nus_reply_grants_the_users_bandwidth() {
    let (started, mut remote) = connected().await;
    let md = started.adapter.clone();
    for (d, granted) in [
        ("40.5", Some(40.5)),
        ("0", None),
        ("0.0", None),
        ("#", None),
    ] {
        let call = tokio::spawn({
            let md = md.clone();
            async move { md.notify_user_grant(&Login::default()).await }
        });
        let nus = remote.expect("NUS").await;
        remote.send(&format!("{}|NUS|D|{d}|B|0", nus[0])).await;
        let grant = call.await.unwrap().unwrap();
        assert_eq!(grant.max_bandwidth, granted, "D|{d}");
    }
}

#[tokio::test]
async fn login_session_names_and_messages_go_to_the_remote() {
    let (started, mut remote) = connected().await;
    let md = started.adapter.clone();
    let login = Login {
        user: Some("alice".into()),
        password: Some("pw d".into()),
        client_ip: "10.0.0.1".into(),
        headers: vec![("user-agent".to_owned(), "agent/1".to_owned())].into(),
    };
    let call = tokio::spawn({
        let md = md.clone();
        async move { md.notify_user(&login).await }
    });
    let nus = remote.expect("NUS").await;
    assert_eq!(
        nus[2..],
        [
            "S",
            "alice",
            "S",
            "pw+d",
            "S",
            "user-agent",
            "S",
            "agent%2F1"
        ]
    );
    remote.send(&format!("{}|NUS|D|0|B|0", nus[0])).await;
    assert_eq!(call.await.unwrap(), Ok(()));

    let s = session();
    let call = tokio::spawn({
        let md = md.clone();
        let s = s.clone();
        async move { md.notify_new_session(&s).await }
    });
    let nns = remote.expect("NNS").await.join("|");
    assert!(nns.contains("|S|alice|S|S1|"), "{nns}");
    assert!(nns.contains("|S|REMOTE_IP|S|10.0.0.1|"), "{nns}");
    assert!(nns.contains("|S|USER_AGENT|S|agent%2F1|"), "{nns}");
    let id = nns.split('|').next().unwrap().to_owned();
    remote.send(&format!("{id}|NNS|V")).await;
    assert_eq!(call.await.unwrap(), Ok(()));

    let call = tokio::spawn({
        let md = md.clone();
        let s = s.clone();
        async move { md.get_items(&s, "a b").await }
    });
    let gis = remote.expect("GIS").await;
    assert_eq!(gis[2..], ["S", "alice", "S", "a+b", "S", "S1"]);
    remote.send(&format!("{}|GIS|S|a|S|b", gis[0])).await;
    assert_eq!(call.await.unwrap(), Ok(vec!["a".into(), "b".into()]));

    let items = vec!["a".to_owned(), "b".to_owned()];
    let call = tokio::spawn({
        let md = md.clone();
        let s = s.clone();
        async move { md.item_data(&s, "DEFAULT", &items).await }
    });
    // Both requests go out before either answer.
    let (mut git, mut gui) = (remote.expect_any().await, remote.expect_any().await);
    if git[1] != "GIT" {
        std::mem::swap(&mut git, &mut gui);
    }
    remote
        .send(&format!("{}|GIT|I|0|D|0|M|RM|I|5|D|0|M|RMDC", git[0]))
        .await;
    remote
        .send(&format!("{}|GUI|I|0|D|2.5|M|M|I|3|D|0|M|RMDC", gui[0]))
        .await;
    let data = call.await.unwrap().unwrap();
    assert_eq!(
        data[0],
        ItemData {
            allowed_modes: ModeSet::NONE.with(Mode::Merge),
            max_frequency: Some(2.5),
            max_buffer_size: None,
            distinct_snapshot_length: Some(0),
        }
    );
    assert_eq!(data[1].allowed_modes, ModeSet::ALL);
    assert_eq!(data[1].max_buffer_size, Some(3));
    assert_eq!(data[1].distinct_snapshot_length, Some(5));

    let call = tokio::spawn({
        let md = md.clone();
        let s = s.clone();
        async move { md.notify_user_message(&s, "hi|there").await }
    });
    let num = remote.expect("NUM").await;
    assert_eq!(num[2..], ["S", "alice", "S", "S1", "S", "hi%7Cthere"]);
    remote.send(&format!("{}|NUM|V", num[0])).await;
    assert_eq!(call.await.unwrap(), Ok(None));
}

#[tokio::test]
async fn exceptions_become_the_codes_clients_see() {
    let (started, mut remote) = connected().await;
    let md = started.adapter.clone();
    let s = session();
    let cases: [(&str, &str, i32, &str); 6] = [
        ("NUS", "EA|bad+password", 1, "bad password"),
        (
            "NUS",
            "EC|no+credit|-42|Out+of+credits",
            -42,
            "Out of credits",
        ),
        ("GIS", "EI|no+such+group", 21, "no such group"),
        ("GSC", "ES|no+such+field", 23, "no such field"),
        ("NUM", "EC|refused|-17|nope", -17, "nope"),
        ("NUM", "EN|bad+message", 66, "bad message"),
    ];
    for (method, answer, code, text) in cases {
        let call = tokio::spawn({
            let md = md.clone();
            let s = s.clone();
            async move {
                let login = Login::default();
                match method {
                    "NUS" => md.notify_user(&login).await.map(|_| ()),
                    "GIS" => md.get_items(&s, "g").await.map(|_| ()),
                    "GSC" => md.get_schema(&s, "g", "f").await.map(|_| ()),
                    _ => md.notify_user_message(&s, "m").await.map(|_| ()),
                }
            }
        });
        let req = remote.expect(method).await;
        remote.send(&format!("{}|{method}|{answer}", req[0])).await;
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (code, text),
            "{method} {answer}"
        );
    }
}

#[tokio::test]
async fn no_answer_in_time_or_no_remote_is_66() {
    let mut s = settings(None);
    s.timeout = Some(Duration::from_millis(200));
    let started = start_metadata(s).await.unwrap();
    let md = started.adapter.clone();
    // No remote yet.
    let err = md.get_items(&session(), "g").await.unwrap_err();
    assert_eq!(err.code, 66);

    let mut remote = Remote::connect(started.ports[0].1).await;
    remote.init("MPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
    let call = tokio::spawn({
        let md = md.clone();
        async move { md.get_items(&session(), "g").await }
    });
    let gis = remote.expect("GIS").await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.code, 66);
    // A late answer is dropped without harm.
    remote.send(&format!("{}|GIS|S|a", gis[0])).await;
    remote.send("KEEPALIVE").await;
    assert_eq!(started.state(), shoal_remote::RemoteState::Connected);
}

#[tokio::test]
async fn tables_are_told_only_to_remotes_that_want_them() {
    let (started, mut remote) = connected().await;
    let md: Arc<dyn MetadataProvider> = started.adapter.clone();
    let s = session();
    let table = TableInfo {
        win_index: 3,
        mode: Mode::Merge,
        group: "a b".into(),
        data_adapter: "DEFAULT".into(),
        schema: "x y".into(),
        first: 1,
        last: 2,
        selector: None,
        items: vec!["a".into(), "b".into()],
    };
    // alice wants them.
    let call = tokio::spawn({
        let md = md.clone();
        async move {
            let login = Login {
                user: Some("alice".into()),
                ..Login::default()
            };
            md.notify_user(&login).await
        }
    });
    let nus = remote.expect("NUS").await;
    remote.send(&format!("{}|NUS|D|0|B|1", nus[0])).await;
    call.await.unwrap().unwrap();
    let call = tokio::spawn({
        let (md, s, t) = (md.clone(), s.clone(), table.clone());
        async move { md.notify_new_tables(&s, std::slice::from_ref(&t)).await }
    });
    let nnt = remote.expect("NNT").await;
    // 1.8.3: the seven pairs of the old layout.
    assert_eq!(
        nnt[2..].join("|"),
        "S|alice|S|S1|I|3|M|M|S|a+b|S|x+y|I|1|I|2|S|#"
    );
    remote.send(&format!("{}|NNT|V", nnt[0])).await;
    call.await.unwrap().unwrap();
    md.notify_tables_close("S1", std::slice::from_ref(&table));
    let ntc = remote.expect("NTC").await;
    assert_eq!(ntc[2..4], ["S", "S1"]);
    md.notify_session_close("S1");
    remote.expect("NSC").await;
    // After the session closed, nothing more about its tables.
    md.notify_tables_close("S1", std::slice::from_ref(&table));
    // bob does not want them: his subscriptions are not told.
    let call = tokio::spawn({
        let md = md.clone();
        async move {
            let login = Login {
                user: Some("bob".into()),
                ..Login::default()
            };
            md.notify_user(&login).await
        }
    });
    let nus = remote.expect("NUS").await;
    remote.send(&format!("{}|NUS|D|0|B|0", nus[0])).await;
    call.await.unwrap().unwrap();
    let bob = SessionInfo {
        session_id: "S2".into(),
        user: Some("bob".into()),
        ..session()
    };
    md.notify_new_tables(&bob, std::slice::from_ref(&table))
        .await
        .unwrap();
    md.notify_tables_close("S2", std::slice::from_ref(&table));
    md.notify_session_close("S2");
    let nsc = remote.expect("NSC").await;
    assert_eq!(nsc[2..], ["S", "S2"]);
}

#[tokio::test]
async fn logins_while_no_remote_get_the_configured_code() {
    let mut s = settings(None);
    s.robust = true;
    s.login_refusal = Some((-3, "adapter away, retry later".into()));
    let started = start_metadata(s).await.unwrap();
    let err = started
        .adapter
        .notify_user(&Login::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (-3, "adapter away, retry later")
    );
    // Other calls are not logins: the generic code.
    let err = started
        .adapter
        .get_items(&session(), "g")
        .await
        .unwrap_err();
    assert_eq!(err.code, 66);
}

/// What a remote asked of the server, and what it was told.
#[derive(Default)]
struct Control {
    asked: std::sync::Mutex<Vec<String>>,
}

impl shoal_adapter::ServerControl for Control {
    fn force_session_termination(
        &self,
        session_id: &str,
        cause: Option<shoal_adapter::AdapterError>,
    ) -> bool {
        let cause = cause.map(|c| format!("{} {}", c.code, c.message));
        self.asked
            .lock()
            .unwrap()
            .push(format!("end {session_id} {cause:?}"));
        session_id == "S1"
    }

    fn force_unsubscription(&self, session_id: &str, win_index: u32) -> bool {
        self.asked
            .lock()
            .unwrap()
            .push(format!("unsubscribe {session_id} {win_index}"));
        win_index == 3
    }
}

#[tokio::test]
async fn a_1_9_remote_may_end_sessions_and_subscriptions() {
    let started = start_metadata(settings(None)).await.unwrap();
    let control = Arc::new(Control::default());
    started.adapter.set_control(control.clone());
    let mut remote = Remote::connect(started.ports[0].1).await;
    remote.init("MPI", "1.9.1").await;
    assert!(started.wait_connected(Some(WAIT)).await);

    remote.send("100|FST|S|S1|I|-5|S|you are done").await;
    assert_eq!(remote.line().await.as_deref(), Some("100|FST|V"));
    remote.send("101|FST|S|S9|V").await;
    let refused = remote.line().await.unwrap();
    assert!(refused.starts_with("101|FST|E|"), "{refused}");
    remote.send("102|FUS|S|S1|I|3").await;
    assert_eq!(remote.line().await.as_deref(), Some("102|FUS|B|1"));
    remote.send("103|FUS|S|S1|I|4").await;
    assert_eq!(remote.line().await.as_deref(), Some("103|FUS|B|0"));
    assert_eq!(
        *control.asked.lock().unwrap(),
        [
            "end S1 Some(\"-5 you are done\")",
            "end S9 None",
            "unsubscribe S1 3",
            "unsubscribe S1 4",
        ]
    );
}

#[tokio::test]
async fn a_call_given_up_by_its_caller_is_forgotten() {
    let mut s = settings(None);
    s.timeout = None; // only the caller ends the wait
    let started = start_metadata(s).await.unwrap();
    let mut remote = Remote::connect(started.ports[0].1).await;
    remote.init("MPI", "1.8.3").await;
    assert!(started.wait_connected(Some(WAIT)).await);
    let md = started.adapter.clone();
    let call = tokio::spawn(async move { md.get_items(&session(), "g").await });
    remote.expect("GIS").await;
    assert_eq!(started.adapter.pending_requests(), 1);
    // The client went away: its request is dropped.
    call.abort();
    let _ = call.await;
    assert_eq!(started.adapter.pending_requests(), 0);
}
