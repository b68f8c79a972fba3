//! Typed TLCP requests and the parser that produces them.

use crate::params::{bad_value, parse_decimal, parse_u64, truncate, Params};

/// The kinds of request, as named on the HTTP path (`<name>.txt`) or on the
/// first line of a WebSocket message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestName {
    CreateSession,
    BindSession,
    Control,
    Msg,
    Heartbeat,
    Wsok,
}

impl RequestName {
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "create_session" => Self::CreateSession,
            "bind_session" => Self::BindSession,
            "control" => Self::Control,
            "msg" => Self::Msg,
            "heartbeat" => Self::Heartbeat,
            "wsok" => Self::Wsok,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSession => "create_session",
            Self::BindSession => "bind_session",
            Self::Control => "control",
            Self::Msg => "msg",
            Self::Heartbeat => "heartbeat",
            Self::Wsok => "wsok",
        }
    }

    /// Only control and message requests may be batched, several lines each.
    fn batchable(self) -> bool {
        matches!(self, Self::Control | Self::Msg)
    }
}

/// A request that could not be accepted: the TLCP error code, a message that
/// names the offending parameter, and the request id when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error {code}: {message}")]
pub struct RequestError {
    pub code: i32,
    pub message: String,
    pub req_id: Option<String>,
}

impl RequestError {
    /// Code 65: syntax error or invalid values for one or more arguments.
    pub fn syntax(message: String) -> Self {
        Self {
            code: crate::code::BAD_PARAMETER,
            message,
            req_id: None,
        }
    }

    /// Code 67: malformed request.
    pub fn malformed(message: String) -> Self {
        Self {
            code: crate::code::MALFORMED,
            message,
            req_id: None,
        }
    }
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    CreateSession(CreateSession),
    BindSession(BindSession),
    Control(Control),
    Msg(Msg),
    Heartbeat { session: Option<String> },
    Wsok,
}

/// How the stream connection of a create or bind request behaves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamOptions {
    pub content_length: Option<u64>,
    pub polling: bool,
    pub polling_millis: Option<u64>,
    pub idle_millis: Option<u64>,
    pub keepalive_millis: Option<u64>,
    pub inactivity_millis: Option<u64>,
    pub send_sync: bool,
    pub reduce_head: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateSession {
    pub user: Option<String>,
    pub password: Option<String>,
    pub adapter_set: String,
    pub cid: Option<String>,
    pub max_bandwidth: Option<f64>,
    pub old_session: Option<String>,
    pub stream: StreamOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BindSession {
    pub session: Option<String>,
    pub recovery_from: Option<u64>,
    pub stream: StreamOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub session: Option<String>,
    pub req_id: String,
    pub op: ControlOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ControlOp {
    Add(Subscribe),
    Delete {
        sub_id: u32,
        ack: bool,
    },
    Reconf {
        sub_id: u32,
        max_frequency: Option<MaxFrequency>,
    },
    Constrain {
        max_bandwidth: Option<Option<f64>>,
    },
    ForceRebind {
        polling_millis: Option<u64>,
        close_socket: bool,
    },
    Destroy {
        cause_code: Option<i32>,
        cause_message: Option<String>,
        close_socket: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Raw,
    Merge,
    Distinct,
    Command,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "RAW",
            Self::Merge => "MERGE",
            Self::Distinct => "DISTINCT",
            Self::Command => "COMMAND",
        }
    }
}

/// The lowest `LS_requested_max_frequency` applied, in updates per second
/// (one update every 1000 s). A lower positive value is raised to it and
/// `CONF` reports the raised value; 0 and negative values are refused.
pub const MIN_MAX_FREQUENCY: f64 = 0.001;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFrequency {
    Unlimited,
    Unfiltered,
    PerSecond(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferSize {
    Unlimited,
    Events(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    No,
    Yes,
    Length(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    pub sub_id: u32,
    pub data_adapter: Option<String>,
    pub group: String,
    pub schema: String,
    pub selector: Option<String>,
    pub mode: Mode,
    pub buffer_size: Option<BufferSize>,
    pub max_frequency: MaxFrequency,
    pub snapshot: Snapshot,
    pub ack: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub session: Option<String>,
    pub req_id: String,
    pub message: String,
    pub sequence: Option<String>,
    pub prog: Option<u64>,
    pub max_wait: Option<u64>,
    pub ack: bool,
    pub outcome: bool,
}

/// The requests of one HTTP request or WebSocket message.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub name: RequestName,
    /// One entry per parameter line; each line fails or succeeds alone.
    pub requests: Vec<Result<Request, RequestError>>,
}

/// Parses an HTTP request: `name` is the path's last segment without `.txt`,
/// `query` the query string (it may hold `LS_session` as a default), `body`
/// the form-encoded body, one request per line.
pub fn parse_http(name: &str, query: &str, body: &str) -> Result<Batch, RequestError> {
    let name = RequestName::from_wire(name).ok_or_else(|| {
        RequestError::malformed(format!("unknown request '{}'", truncate(name, 40)))
    })?;
    if name == RequestName::Wsok {
        return Err(RequestError::malformed(
            "wsok is only allowed on a WebSocket".to_owned(),
        ));
    }
    let query = Params::parse(query)?;
    let session_default = query.get("LS_session").map(str::to_owned);
    parse_lines(name, body, session_default.as_deref())
}

/// Parses one WebSocket text message: the request name on the first line,
/// then one parameter line per request.
pub fn parse_ws(message: &str) -> Result<Batch, RequestError> {
    let (first, rest) = match message.split_once("\r\n") {
        Some((f, r)) => (f, Some(r)),
        None => (message.trim_end_matches('\n'), None),
    };
    let name = RequestName::from_wire(first).ok_or_else(|| {
        RequestError::malformed(format!("unknown request '{}'", truncate(first, 40)))
    })?;
    match (name, rest) {
        (RequestName::Wsok, _) => Ok(Batch {
            name,
            requests: vec![Ok(Request::Wsok)],
        }),
        (_, None) => Err(RequestError::malformed(format!(
            "{} has no parameter line",
            name.as_str()
        ))),
        (_, Some(rest)) => parse_lines(name, rest, None),
    }
}

fn parse_lines(
    name: RequestName,
    body: &str,
    session_default: Option<&str>,
) -> Result<Batch, RequestError> {
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    let mut lines: Vec<&str> = body.split("\r\n").collect();
    // A lone LF is tolerated as a line end: some tools send it.
    if lines.len() == 1 && body.contains('\n') {
        lines = body.lines().collect();
    }
    if lines.len() > 1 && !name.batchable() {
        return Err(RequestError::malformed(format!(
            "{} takes one parameter line, got {}",
            name.as_str(),
            lines.len()
        )));
    }
    let requests = lines
        .into_iter()
        .map(|line| {
            let mut params = Params::parse(line)?;
            if let Some(s) = session_default {
                params.default_to("LS_session", s);
            }
            parse_one(name, &params).map_err(|mut e| {
                e.req_id = params.get("LS_reqId").map(str::to_owned);
                e
            })
        })
        .collect();
    Ok(Batch { name, requests })
}

fn parse_one(name: RequestName, p: &Params) -> Result<Request, RequestError> {
    Ok(match name {
        RequestName::CreateSession => Request::CreateSession(CreateSession {
            user: p.string("LS_user"),
            password: p.string("LS_password"),
            adapter_set: p
                .string("LS_adapter_set")
                .unwrap_or_else(|| "DEFAULT".into()),
            cid: p.string("LS_cid"),
            max_bandwidth: bandwidth(p)?.flatten(),
            old_session: p.string("LS_old_session"),
            stream: stream_options(p)?,
        }),
        RequestName::BindSession => Request::BindSession(BindSession {
            session: p.string("LS_session"),
            recovery_from: p.u64_opt("LS_recovery_from")?,
            stream: stream_options(p)?,
        }),
        RequestName::Control => Request::Control(Control {
            session: p.string("LS_session"),
            req_id: req_id(p)?,
            op: control_op(p)?,
        }),
        RequestName::Msg => Request::Msg(msg(p)?),
        RequestName::Heartbeat => Request::Heartbeat {
            session: p.string("LS_session"),
        },
        RequestName::Wsok => Request::Wsok,
    })
}

fn req_id(p: &Params) -> Result<String, RequestError> {
    let id = p.required("LS_reqId")?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad_value("LS_reqId", id, "up to 64 letters and digits"));
    }
    Ok(id.to_owned())
}

fn stream_options(p: &Params) -> Result<StreamOptions, RequestError> {
    Ok(StreamOptions {
        content_length: p.u64_opt("LS_content_length")?,
        polling: p.bool_or("LS_polling", false)?,
        polling_millis: p.u64_opt("LS_polling_millis")?,
        idle_millis: p.u64_opt("LS_idle_millis")?,
        keepalive_millis: p.u64_opt("LS_keepalive_millis")?,
        inactivity_millis: p.u64_opt("LS_inactivity_millis")?,
        send_sync: p.bool_or("LS_send_sync", true)?,
        reduce_head: p.bool_or("LS_reduce_head", false)?,
    })
}

/// `Some(None)` is `unlimited`; `None` is "not given".
fn bandwidth(p: &Params) -> Result<Option<Option<f64>>, RequestError> {
    match p.get("LS_requested_max_bandwidth") {
        None => Ok(None),
        Some("unlimited") => Ok(Some(None)),
        Some(v) => parse_decimal(v).map(|f| Some(Some(f))).ok_or_else(|| {
            bad_value(
                "LS_requested_max_bandwidth",
                v,
                "a decimal number of kbps or 'unlimited'",
            )
        }),
    }
}

fn sub_id(p: &Params) -> Result<u32, RequestError> {
    let v = p.required("LS_subId")?;
    parse_u64(v)
        .filter(|&n| n >= 1 && n <= u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| bad_value("LS_subId", v, "a positive integer"))
}

fn max_frequency(p: &Params, allow_unfiltered: bool) -> Result<Option<MaxFrequency>, RequestError> {
    let name = "LS_requested_max_frequency";
    match p.get(name) {
        None => Ok(None),
        Some("unlimited") => Ok(Some(MaxFrequency::Unlimited)),
        Some("unfiltered") if allow_unfiltered => Ok(Some(MaxFrequency::Unfiltered)),
        Some(v) => match parse_decimal(v) {
            // Below the floor, "practically never" becomes "every 1000 s":
            // the interval stays a time the clock can add.
            Some(f) if f > 0.0 => Ok(Some(MaxFrequency::PerSecond(f.max(MIN_MAX_FREQUENCY)))),
            _ => Err(bad_value(
                name,
                v,
                if allow_unfiltered {
                    "a positive decimal number of updates per second, 'unlimited' or 'unfiltered'"
                } else {
                    "a positive decimal number of updates per second or 'unlimited'"
                },
            )),
        },
    }
}

fn control_op(p: &Params) -> Result<ControlOp, RequestError> {
    let op = p.required("LS_op")?;
    Ok(match op {
        "add" => ControlOp::Add(subscribe(p)?),
        "delete" => ControlOp::Delete {
            sub_id: sub_id(p)?,
            ack: p.bool_or("LS_ack", true)?,
        },
        "reconf" => ControlOp::Reconf {
            sub_id: sub_id(p)?,
            max_frequency: max_frequency(p, false)?,
        },
        "constrain" => ControlOp::Constrain {
            max_bandwidth: bandwidth(p)?,
        },
        "force_rebind" => ControlOp::ForceRebind {
            polling_millis: p.u64_opt("LS_polling_millis")?,
            close_socket: p.bool_or("LS_close_socket", false)?,
        },
        "destroy" => ControlOp::Destroy {
            cause_code: match p.get("LS_cause_code") {
                None => None,
                Some(v) => Some(
                    v.parse::<i32>()
                        .map(|c| c.min(0))
                        .map_err(|_| bad_value("LS_cause_code", v, "an integer"))?,
                ),
            },
            cause_message: p.string("LS_cause_message"),
            close_socket: p.bool_or("LS_close_socket", false)?,
        },
        other => {
            return Err(bad_value(
                "LS_op",
                other,
                "add, delete, reconf, constrain, force_rebind or destroy",
            ))
        }
    })
}

fn subscribe(p: &Params) -> Result<Subscribe, RequestError> {
    let mode_raw = p.required("LS_mode")?;
    let mode = match mode_raw {
        "RAW" => Mode::Raw,
        "MERGE" => Mode::Merge,
        "DISTINCT" => Mode::Distinct,
        "COMMAND" => Mode::Command,
        v => return Err(bad_value("LS_mode", v, "RAW, MERGE, DISTINCT or COMMAND")),
    };
    let group = p.required("LS_group")?;
    let schema = p.required("LS_schema")?;
    if group.trim().is_empty() {
        return Err(bad_value("LS_group", group, "a non-empty group name"));
    }
    if schema.trim().is_empty() {
        return Err(bad_value("LS_schema", schema, "a non-empty schema name"));
    }
    let snapshot = match p.get("LS_snapshot") {
        None | Some("false") => Snapshot::No,
        Some("true") => Snapshot::Yes,
        Some(v) => match parse_u64(v) {
            Some(n) if mode == Mode::Distinct => Snapshot::Length(n),
            Some(_) => {
                return Err(bad_value(
                    "LS_snapshot",
                    v,
                    "true or false (a length is only allowed in DISTINCT mode)",
                ))
            }
            None => return Err(bad_value("LS_snapshot", v, "true, false or a length")),
        },
    };
    let buffer_size = match p.get("LS_requested_buffer_size") {
        None => None,
        Some("unlimited") => Some(BufferSize::Unlimited),
        Some(v) => Some(
            parse_u64(v)
                .filter(|&n| n >= 1)
                .map(BufferSize::Events)
                .ok_or_else(|| {
                    bad_value(
                        "LS_requested_buffer_size",
                        v,
                        "a positive number of events or 'unlimited'",
                    )
                })?,
        ),
    };
    Ok(Subscribe {
        sub_id: sub_id(p)?,
        data_adapter: p.string("LS_data_adapter"),
        group: group.to_owned(),
        schema: schema.to_owned(),
        selector: p.string("LS_selector").filter(|s| !s.is_empty()),
        mode,
        buffer_size,
        max_frequency: max_frequency(p, true)?.unwrap_or(MaxFrequency::Unlimited),
        snapshot,
        ack: p.bool_or("LS_ack", true)?,
    })
}

fn msg(p: &Params) -> Result<Msg, RequestError> {
    let sequence = p.string("LS_sequence");
    if let Some(s) = &sequence {
        let valid = !s.is_empty()
            && s.len() <= 128
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(bad_value(
                "LS_sequence",
                s,
                "letters, digits and underscores",
            ));
        }
        if s == "UNORDERED_MESSAGES" {
            return Err(bad_value(
                "LS_sequence",
                s,
                "a name other than the reserved UNORDERED_MESSAGES",
            ));
        }
    }
    let prog = p.u64_opt("LS_msg_prog")?;
    if prog == Some(0) {
        return Err(bad_value(
            "LS_msg_prog",
            "0",
            "a progressive starting from 1",
        ));
    }
    let outcome = p.bool_or("LS_outcome", true)?;
    if prog.is_none() && sequence.is_some() {
        return Err(RequestError::syntax(
            "LS_msg_prog is required with LS_sequence".to_owned(),
        ));
    }
    Ok(Msg {
        session: p.string("LS_session"),
        req_id: req_id(p)?,
        message: p.required("LS_message")?.to_owned(),
        sequence,
        prog,
        max_wait: p.u64_opt("LS_max_wait")?,
        ack: p.bool_or("LS_ack", true)?,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(b: Result<Batch, RequestError>) -> Result<Request, RequestError> {
        let mut b = b.unwrap();
        assert_eq!(b.requests.len(), 1);
        b.requests.remove(0)
    }

    #[test]
    fn create_session_over_http() {
        let r = one(parse_http(
            "create_session",
            "LS_protocol=TLCP-2.5.0",
            "LS_user=u&LS_adapter_set=DEMO&LS_cid=abc&LS_send_sync=false&LS_cause=api",
        ))
        .unwrap();
        let Request::CreateSession(c) = r else {
            panic!("{r:?}")
        };
        assert_eq!(c.adapter_set, "DEMO");
        assert_eq!(c.user.as_deref(), Some("u"));
        assert!(!c.stream.send_sync);
        assert!(!c.stream.polling);
    }

    #[test]
    fn batch_of_controls_with_session_default_and_one_bad_line() {
        let b = parse_http(
            "control",
            "LS_protocol=TLCP-2.5.0&LS_session=S1",
            "LS_reqId=1&LS_op=add&LS_subId=1&LS_group=item1&LS_schema=a%20b&LS_mode=MERGE\r\n\
             LS_reqId=2&LS_op=add&LS_subId=x&LS_group=g&LS_schema=s&LS_mode=MERGE\r\n",
        )
        .unwrap();
        assert_eq!(b.requests.len(), 2);
        let Ok(Request::Control(c)) = &b.requests[0] else {
            panic!()
        };
        assert_eq!(c.session.as_deref(), Some("S1"));
        let ControlOp::Add(s) = &c.op else { panic!() };
        assert_eq!(s.schema, "a b");
        let e = b.requests[1].clone().unwrap_err();
        assert_eq!(e.code, 65);
        assert_eq!(e.req_id.as_deref(), Some("2"));
        assert!(e.message.contains("LS_subId"), "{}", e.message);
    }

    #[test]
    fn ws_messages() {
        assert_eq!(one(parse_ws("wsok")).unwrap(), Request::Wsok);
        let r = one(parse_ws("heartbeat\r\n")).unwrap();
        assert_eq!(r, Request::Heartbeat { session: None });
        let r = one(parse_ws(
            "msg\r\nLS_reqId=3&LS_message=CHAT%7Chi&LS_msg_prog=1",
        ))
        .unwrap();
        let Request::Msg(m) = r else { panic!() };
        assert_eq!(m.message, "CHAT|hi");
        assert!(parse_ws("bogus\r\nLS_a=1").is_err());
        assert!(parse_ws("control").is_err());
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("LS_reqId=1&LS_op=add&LS_subId=1&LS_group=g&LS_schema=s&LS_mode=FOO", "LS_mode"),
            ("LS_reqId=1&LS_op=add&LS_subId=1&LS_schema=s&LS_mode=RAW", "LS_group"),
            ("LS_reqId=1&LS_op=zap", "LS_op"),
            ("LS_reqId=1&LS_op=add&LS_subId=1&LS_group=g&LS_schema=s&LS_mode=MERGE&LS_snapshot=5", "LS_snapshot"),
            ("LS_reqId=1&LS_op=add&LS_subId=1&LS_group=g&LS_schema=s&LS_mode=MERGE&LS_requested_max_frequency=-2", "LS_requested_max_frequency"),
            ("LS_reqId=1&LS_op=reconf&LS_subId=1&LS_requested_max_frequency=unfiltered", "LS_requested_max_frequency"),
            ("LS_reqId=a-b&LS_op=delete&LS_subId=1", "LS_reqId"),
        ];
        for (body, param) in cases {
            let e = one(parse_http("control", "", body)).unwrap_err();
            assert!(e.message.contains(param), "{body}: {}", e.message);
        }
    }

    #[test]
    fn tiny_frequencies_are_raised_to_the_floor() {
        for (v, expected) in [
            ("0.0000000000000000001", MIN_MAX_FREQUENCY),
            ("0.0005", MIN_MAX_FREQUENCY),
            ("0.5", 0.5),
            (
                "999999999999999999999999",
                999_999_999_999_999_999_999_999.0,
            ),
        ] {
            let body = format!("LS_reqId=1&LS_op=reconf&LS_subId=1&LS_requested_max_frequency={v}");
            let Request::Control(c) = one(parse_http("control", "", &body)).unwrap() else {
                panic!()
            };
            let ControlOp::Reconf { max_frequency, .. } = c.op else {
                panic!()
            };
            assert_eq!(
                max_frequency,
                Some(MaxFrequency::PerSecond(expected)),
                "{v}"
            );
        }
        for v in ["0", "0.0", "00000.000"] {
            let body = format!("LS_reqId=1&LS_op=reconf&LS_subId=1&LS_requested_max_frequency={v}");
            let e = one(parse_http("control", "", &body)).unwrap_err();
            assert_eq!(e.code, crate::code::BAD_PARAMETER);
            assert!(
                e.message.contains("LS_requested_max_frequency"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn create_takes_one_line() {
        assert_eq!(
            parse_http("create_session", "", "LS_cid=a\r\nLS_cid=b")
                .unwrap_err()
                .code,
            67
        );
    }
}
