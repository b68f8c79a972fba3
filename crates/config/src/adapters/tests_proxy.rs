//! The params of the proxy adapters: defaults, errors, warnings.

use super::tests::{assert_err, notes, one, remote_meta};
use super::*;

/// A set whose data provider (line 5) has `data` params (from line 7) and
/// whose metadata provider (line 2) has `meta` params (from line 4).
pub(super) fn set(class: &str, meta: &str, data: &str) -> String {
    format!(
        "<adapters_conf id=\"S\">\n<metadata_provider>\n<adapter_class>{class}</adapter_class>\n<param name=\"request_reply_port\">9001</param>{meta}\n</metadata_provider>\n<data_provider>\n<adapter_class>{class}</adapter_class>\n<param name=\"request_reply_port\">9002</param>{data}\n</data_provider>\n</adapters_conf>"
    )
}

pub(super) const PLAIN: &str = "PROXY_FOR_REMOTE_ADAPTER";
const ROBUST: &str = "ROBUST_PROXY_FOR_REMOTE_ADAPTER";
const DATA: &str = "adapters_conf[id=\"S\"]/data_provider[name=\"DEFAULT\"]";
const META: &str = "adapters_conf[id=\"S\"]/metadata_provider";

pub(super) fn data_param(name: &str) -> String {
    format!("{DATA}/param[name=\"{name}\"]")
}

pub(super) fn meta_param(name: &str) -> String {
    format!("{META}/param[name=\"{name}\"]")
}

pub(super) fn p(name: &str, value: &str) -> String {
    format!("\n<param name=\"{name}\">{value}</param>")
}

pub(super) fn data_of(xml: &str) -> (RemoteData, Vec<(u32, String, String)>) {
    let (set, w) = one(xml);
    (set.data[0].remote().clone(), notes(&w))
}

#[test]
fn timeouts_and_keepalives() {
    let cases = [
        ("", Some(10_000), None, None),
        (&*p("timeout", "-1"), None, None, None),
        (
            &*p("keepalive_timeout_millis", "3000"),
            Some(10_000),
            Some(3000),
            Some(1500),
        ),
        (
            &*p("keepalive_timeout_millis", "10000"),
            Some(10_000),
            Some(10_000),
            Some(8000),
        ),
        (
            &*p("keepalive_timeout_millis", "0"),
            Some(10_000),
            None,
            None,
        ),
        (
            &*format!(
                "{}{}",
                p("keepalive_timeout_millis", "10000"),
                p("keepalive_hint_millis", "-1")
            ),
            Some(10_000),
            Some(10_000),
            None,
        ),
        (
            &*p("keepalive_hint_millis", "5000"),
            Some(10_000),
            None,
            Some(5000),
        ),
    ];
    for (params, timeout, keepalive, hint) in cases {
        let (d, w) = data_of(&set(PLAIN, "", params));
        assert_eq!(w, vec![], "{params}");
        let x = &d.proxy;
        assert_eq!(
            (
                x.timeout_millis,
                x.keepalive_timeout_millis,
                x.keepalive_hint_millis
            ),
            (timeout, keepalive, hint),
            "{params}"
        );
    }
    let xml = set(PLAIN, "", &p("timeout", "0"));
    assert_err(
        &xml,
        "\"timeout\"",
        &data_param("timeout"),
        "negative value for no limit",
    );
    let xml = set(PLAIN, "", &p("keepalive_hint_millis", "soon"));
    assert_err(
        &xml,
        "keepalive_hint_millis",
        &data_param("keepalive_hint_millis"),
        "expected a whole number of milliseconds",
    );
}

#[test]
fn ports_and_interfaces() {
    let (d, _) = data_of(&set(
        PLAIN,
        "",
        &format!(
            "{}{}",
            p("notify_port", "9003"),
            p("interface", "127.0.0.1")
        ),
    ));
    assert_eq!(
        (d.notify_port, d.proxy.interface),
        (Some(9003), Some("127.0.0.1".parse().unwrap()))
    );
    let xml = set(PLAIN, "", "").replace(">9002<", ">70000<");
    assert_err(
        &xml,
        ">70000<",
        &data_param("request_reply_port"),
        "from 0 to 65535",
    );
    let xml = set(PLAIN, "", "").replace("<param name=\"request_reply_port\">9002</param>", "");
    assert_err(
        &xml,
        "<data_provider>",
        DATA,
        "missing <param name=\"request_reply_port\">",
    );
    assert_err(
        &set(PLAIN, &p("notify_port", "9009"), ""),
        "notify_port",
        &meta_param("notify_port"),
        "only for data providers",
    );
    assert_err(
        &set(PLAIN, "", &p("notify_port", "9002")),
        "notify_port",
        &data_param("notify_port"),
        "also the request_reply_port",
    );
    assert_err(
        &set(PLAIN, "", &p("interface", "myhost")),
        "\"interface\"",
        &data_param("interface"),
        "not a host name",
    );
    assert_err(
        &set(PLAIN, "", &p("remote_host", "adapters.local")),
        "remote_host",
        &data_param("remote_host"),
        "does not connect to remote adapters",
    );
    // The two proxies of a set may not share a port; other interfaces may.
    let clash = set(PLAIN, "", "").replace(">9002<", ">9001<");
    assert_err(&clash, ">9001</param>\n</data", &data_param("request_reply_port"), "port 9001 is already used by <adapters_conf[id=\"S\"]/metadata_provider/param[name=\"request_reply_port\"]>");
    let apart = set(
        PLAIN,
        &p("interface", "127.0.0.1"),
        &p("interface", "127.0.0.2"),
    )
    .replace(">9002<", ">9001<");
    one(&apart);
    let (_, w) = data_of(&set(PLAIN, "", &p("connection_retry_millis", "1000")));
    assert_eq!(w.len(), 1);
    assert!(w[0].2.contains("only used with remote_host"), "{w:?}");
}

#[test]
fn remote_params_and_whitelist() {
    let params = format!(
        "{}{}{}{}",
        p("remote_params_prefix", "remote:"),
        p("remote:room", "lobby"),
        p("remote:max", "5"),
        p("other:x", "1")
    );
    let (d, w) = data_of(&set(PLAIN, "", &params));
    let sent: Vec<(&str, &str)> = d
        .proxy
        .remote_params
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(sent, [("remote:room", "lobby"), ("remote:max", "5")]);
    assert_eq!(w.len(), 1);
    assert!(
        w[0].2
            .contains("does not start with the remote_params_prefix"),
        "{w:?}"
    );
    let (_, w) = data_of(&set(PLAIN, "", &p("remote:room", "lobby")));
    assert!(w[0].2.contains("no remote_params_prefix"), "{w:?}");
    assert_err(
        &set(PLAIN, "", &p("remote_params_prefix", "remote_")),
        "remote_params_prefix",
        &data_param("remote_params_prefix"),
        "must contain one",
    );

    let (d, _) = data_of(&set(
        PLAIN,
        "",
        &p(
            "remote_address_whitelist",
            " 10.0.0.1 , [::1], Adapters.Local ",
        ),
    ));
    assert_eq!(
        d.proxy.remote_address_whitelist,
        vec![
            RemoteHost::Ip("10.0.0.1".parse().unwrap()),
            RemoteHost::Ip("::1".parse().unwrap()),
            RemoteHost::Name("adapters.local".into())
        ]
    );
    assert_err(
        &set(PLAIN, "", &p("remote_address_whitelist", "a b")),
        "whitelist",
        &data_param("remote_address_whitelist"),
        "unexpected character",
    );
}

#[test]
fn robust_data_settings() {
    for (value, expected) in [
        ("leave_hole", EventsRecovery::LeaveHole),
        ("use_snapshot", EventsRecovery::UseSnapshot),
        ("enforce_snapshot", EventsRecovery::EnforceSnapshot),
    ] {
        let (d, _) = data_of(&set(
            ROBUST,
            "",
            &format!(
                "{}{}",
                p("events_recovery", value),
                p("status_item", "adapter_status")
            ),
        ));
        assert_eq!(
            d.robust,
            Some(RobustData {
                events_recovery: expected,
                status_item: Some("adapter_status".into())
            })
        );
    }
    assert_err(
        &set(ROBUST, "", &p("events_recovery", "replay")),
        "events_recovery",
        &data_param("events_recovery"),
        "expected leave_hole, use_snapshot, enforce_snapshot",
    );
    let (d, _) = data_of(&set(
        ROBUST,
        "",
        &format!(
            "{}{}",
            p("first_connection_timeout_millis", "-1"),
            p("connection_recovery_timeout_millis", "5000")
        ),
    ));
    assert_eq!(
        d.proxy.robust,
        Some(RobustConnection {
            first_connection_timeout_millis: None,
            connection_recovery_timeout_millis: Some(5000)
        })
    );
    // On a plain proxy they do nothing: warned.
    let (d, w) = data_of(&set(
        PLAIN,
        "",
        &format!(
            "{}{}",
            p("events_recovery", "use_snapshot"),
            p("first_connection_timeout_millis", "1")
        ),
    ));
    assert_eq!((d.robust, d.proxy.robust), (None, None));
    assert_eq!(w.len(), 2);
    assert!(
        w.iter()
            .all(|w| w.2.contains("only used by ROBUST_PROXY_FOR_REMOTE_ADAPTER")),
        "{w:?}"
    );
}

#[test]
fn robust_metadata_settings() {
    let meta = |params: &str| {
        let (s, w) = one(&set(ROBUST, params, ""));
        (remote_meta(&s).robust.clone().unwrap(), notes(&w))
    };
    let (r, _) = meta(&p("close_notifications_recovery", "optimistic"));
    assert_eq!(
        r.close_notifications_recovery,
        CloseNotificationsRecovery::Optimistic
    );
    let (r, _) = meta(&p("notify_user_on_disconnection", "force_retry"));
    assert_eq!(
        r.notify_user_on_disconnection,
        NotifyUserOnDisconnection::ForceRetry
    );
    let (r, _) = meta(&format!(
        "{}{}",
        p("notify_user_disconnection_code", "-10"),
        p("notify_user_disconnection_msg", "try later")
    ));
    assert_eq!(
        r.notify_user_on_disconnection,
        NotifyUserOnDisconnection::SendCode {
            code: -10,
            message: Some("try later".into())
        }
    );
    let (r, w) = meta(&p("notify_user_disconnection_msg", "unused"));
    assert_eq!(
        r.notify_user_on_disconnection,
        NotifyUserOnDisconnection::Fail
    );
    assert!(
        w[0].2
            .contains("only used with notify_user_disconnection_code"),
        "{w:?}"
    );

    let send = p("notify_user_on_disconnection", "send_code");
    assert_err(
        &set(ROBUST, &send, ""),
        "send_code",
        &meta_param("notify_user_on_disconnection"),
        "needs <param name=\"notify_user_disconnection_code\">",
    );
    let both = format!(
        "{}{}",
        p("notify_user_on_disconnection", "fail"),
        p("notify_user_disconnection_code", "-1")
    );
    assert_err(
        &set(ROBUST, &both, ""),
        "_code\"",
        &meta_param("notify_user_disconnection_code"),
        "only allowed with",
    );
    assert_err(
        &set(ROBUST, &p("notify_user_disconnection_code", "5"), ""),
        "_code\"",
        &meta_param("notify_user_disconnection_code"),
        "0 or negative",
    );
    assert_err(
        &set(ROBUST, &p("close_notifications_recovery", "never"), ""),
        "close_",
        &meta_param("close_notifications_recovery"),
        "unknown value \"never\"",
    );
    assert_err(
        &set(ROBUST, &p("clear_on_new_remote", "Y"), ""),
        "clear_on",
        &meta_param("clear_on_new_remote"),
        "expected true or false",
    );
}

#[test]
fn unknown_and_misplaced_params_are_warned() {
    let (s, w) = one(&set(
        PLAIN,
        &format!(
            "{}{}",
            p("timout", "5"),
            p("events_recovery", "use_snapshot")
        ),
        &p("close_notifications_recovery", "unneeded"),
    ));
    assert_eq!(s.data[0].remote().proxy.timeout_millis, Some(10_000));
    let n = notes(&w);
    assert_eq!(n.len(), 3, "{n:?}");
    assert_eq!(n[0].1, meta_param("timout"));
    assert!(
        n[0].2
            .contains("not a parameter of a proxy metadata adapter")
            && n[0].2.contains("did you mean \"timeout\""),
        "{n:?}"
    );
    assert!(n[1].2.contains("only used by a data provider"), "{n:?}");
    assert!(n[2].2.contains("only used by a metadata provider"), "{n:?}");
}
