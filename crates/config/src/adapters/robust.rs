//! The params only one kind of proxy has: `notify_port` and the robust
//! data settings, the robust metadata settings, and the metadata caching
//! settings Shoal does not implement.

use super::params::Params;
use super::proxy::{remote_proxy, Role, COMMON};
use super::{
    CloseNotificationsRecovery, EventsRecovery, NotifyUserOnDisconnection, RemoteData,
    RemoteMetadata, RobustData, RobustMetadata,
};
use crate::cx::Cx;
use crate::ConfigError;
use std::path::Path;

const DATA_ONLY: &[&str] = &["notify_port", "events_recovery", "status_item"];
const METADATA_ONLY: &[&str] = &[
    "close_notifications_recovery",
    "notify_user_on_disconnection",
    "notify_user_disconnection_code",
    "notify_user_disconnection_msg",
    "clear_on_session_close",
    "user_data_timeout",
    "clear_on_new_remote",
];

fn known(role_only: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(role_only).copied().collect()
}

pub(super) fn remote_data(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    robust: bool,
    line: u32,
    base: &Path,
) -> Result<RemoteData, ConfigError> {
    let proxy = remote_proxy(cx, ps, Role::Data, robust, line, base)?;
    let notify_port = match ps.port(cx, "notify_port")? {
        None => None,
        Some((port, p)) => {
            if port != 0 && port == proxy.request_reply_port {
                return Err(ps.error(
                    cx,
                    p,
                    format!(
                        "{port} is also the request_reply_port: the two connections need two ports"
                    ),
                ));
            }
            Some(port)
        }
    };
    let recovery = ps.choice(
        cx,
        "events_recovery",
        &[
            ("leave_hole", EventsRecovery::LeaveHole),
            ("use_snapshot", EventsRecovery::UseSnapshot),
            ("enforce_snapshot", EventsRecovery::EnforceSnapshot),
        ],
    )?;
    let status_item = ps.take("status_item");
    let robust = if robust {
        Some(RobustData {
            events_recovery: recovery.map(|(r, _)| r).unwrap_or_default(),
            status_item: status_item.map(|p| p.value.clone()),
        })
    } else {
        for p in recovery.map(|(_, p)| p).into_iter().chain(status_item) {
            ps.ignore(cx, p, "only used by ROBUST_PROXY_FOR_REMOTE_ADAPTER");
        }
        None
    };
    for p in ps.take_all(|n| METADATA_ONLY.contains(&n)) {
        ps.ignore(cx, p, "only used by a metadata provider");
    }
    ps.warn_unused(cx, "a proxy data adapter", &known(DATA_ONLY));
    Ok(RemoteData {
        proxy,
        notify_port,
        robust,
    })
}

pub(super) fn remote_metadata(
    cx: &mut Cx<'_>,
    ps: &mut Params<'_>,
    robust: bool,
    line: u32,
    base: &Path,
) -> Result<RemoteMetadata, ConfigError> {
    let proxy = remote_proxy(cx, ps, Role::Metadata, robust, line, base)?;
    if let Some(p) = ps.take("notify_port") {
        return Err(ps.error(
            cx,
            p,
            "a metadata provider has one connection: notify_port is only for data providers",
        ));
    }
    let close = ps.choice(
        cx,
        "close_notifications_recovery",
        &[
            ("pessimistic", CloseNotificationsRecovery::Pessimistic),
            ("optimistic", CloseNotificationsRecovery::Optimistic),
            ("unneeded", CloseNotificationsRecovery::Unneeded),
        ],
    )?;
    let notify = notify_user(cx, ps)?;
    if let (true, Some((how, p))) = (robust, &close) {
        if *how != CloseNotificationsRecovery::Unneeded {
            // Sessions that close while no remote is there are not told to
            // the next remote: what `unneeded` does.
            ps.ignore(
                cx,
                p,
                "not implemented: Shoal does not resend the session and table close \
                 notifications a lost remote missed (as with unneeded)",
            );
        }
    }
    let robust = if robust {
        let message = ps_message(&notify.1);
        if let (Some(m), NotifyUserOnDisconnection::Fail | NotifyUserOnDisconnection::ForceRetry) =
            (message, &notify.0)
        {
            ps.ignore(cx, m, "only used with notify_user_disconnection_code");
        }
        Some(RobustMetadata {
            close_notifications_recovery: close.map(|(c, _)| c).unwrap_or_default(),
            notify_user_on_disconnection: notify.0,
        })
    } else {
        for p in close.map(|(_, p)| p).into_iter().chain(notify.1) {
            ps.ignore(cx, p, "only used by ROBUST_PROXY_FOR_REMOTE_ADAPTER");
        }
        None
    };
    // The proxy's cache of per-user answers.
    for name in ["clear_on_session_close", "clear_on_new_remote"] {
        if let Some(p) = ps.take(name) {
            if !matches!(p.value.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(ps.error(
                    cx,
                    p,
                    format!("expected true or false, found \"{}\"", p.value),
                ));
            }
            ps.ignore(
                cx,
                p,
                "not implemented by Shoal (it keeps no cache of user answers)",
            );
        }
    }
    if let Some((_, p)) = ps.signed(cx, "user_data_timeout")? {
        ps.ignore(
            cx,
            p,
            "not implemented by Shoal (it keeps no cache of user answers)",
        );
    }
    for p in ps.take_all(|n| DATA_ONLY.contains(&n)) {
        ps.ignore(cx, p, "only used by a data provider");
    }
    ps.warn_unused(cx, "a proxy metadata adapter", &known(METADATA_ONLY));
    Ok(RemoteMetadata { proxy, robust })
}

/// The `notify_user_disconnection_msg` among the written params.
fn ps_message<'p>(written: &[&'p super::Param]) -> Option<&'p super::Param> {
    written
        .iter()
        .copied()
        .find(|p| p.name == "notify_user_disconnection_msg")
}

/// `notify_user_on_disconnection` with its code and message; also the
/// params written, for warnings when the proxy is not robust.
fn notify_user<'p>(
    cx: &mut Cx<'_>,
    ps: &mut Params<'p>,
) -> Result<(NotifyUserOnDisconnection, Vec<&'p super::Param>), ConfigError> {
    #[derive(Clone, Copy, PartialEq)]
    enum How {
        Fail,
        ForceRetry,
        SendCode,
    }
    let how = ps.choice(
        cx,
        "notify_user_on_disconnection",
        &[
            ("fail", How::Fail),
            ("force_retry", How::ForceRetry),
            ("send_code", How::SendCode),
        ],
    )?;
    let code = match ps.take("notify_user_disconnection_code") {
        None => None,
        Some(p) => match p.value.parse::<i32>() {
            Ok(n) if n <= 0 => Some((n, p)),
            _ => {
                return Err(ps.error(
                    cx,
                    p,
                    format!(
                        "expected a whole number, 0 or negative (positive codes are the \
                         server's), found \"{}\"",
                        p.value
                    ),
                ))
            }
        },
    };
    let message = ps.take("notify_user_disconnection_msg");
    let written: Vec<&super::Param> = how
        .map(|(_, p)| p)
        .into_iter()
        .chain(code.map(|(_, p)| p))
        .chain(message)
        .collect();
    let result = match (how, code) {
        (Some((How::SendCode, p)), None) => {
            return Err(ps.error(
                cx,
                p,
                "send_code needs <param name=\"notify_user_disconnection_code\"> (0 or negative)",
            ))
        }
        (Some((How::Fail | How::ForceRetry, _)), Some((_, p))) => {
            return Err(ps.error(
                cx,
                p,
                "only allowed with notify_user_on_disconnection = send_code",
            ))
        }
        (Some((How::Fail, _)), None) | (None, None) => NotifyUserOnDisconnection::Fail,
        (Some((How::ForceRetry, p)), None) => {
            // TLCP has no code that both refuses a session and tells every
            // client to retry it later, so Shoal refuses as with `fail`.
            cx.warn(
                p.line,
                ps.at(p),
                "force_retry is not implemented: logins while no remote adapter is connected \
                 are refused as with fail (code 66)",
            );
            NotifyUserOnDisconnection::ForceRetry
        }
        (Some((How::SendCode, _)) | None, Some((code, _))) => NotifyUserOnDisconnection::SendCode {
            code,
            message: message.map(|m| m.value.clone()),
        },
    };
    Ok((result, written))
}
