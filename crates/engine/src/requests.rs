//! The request pipeline: one path for every TLCP request, whatever the
//! transport. A transport reads a request, parses it into a [`Batch`] and
//! hands it here with the [`Connection`] it came on; the pipeline checks it
//! (port type, `LS_ack`), executes it, and says what to write back.
//!
//! Order is the transport's duty and the session's: a transport runs the
//! batches of one connection one after the other, and the control requests
//! of one session are executed one at a time, in arrival order, even when
//! they come over several connections (the session's turn, see
//! [`Session::turn`](crate::Session)).

use crate::stats::add;
use crate::{BindContext, Engine, Refusal, Stream};
use shoal_protocol::code;
use shoal_protocol::request::{Batch, ControlOp, Request, RequestName};
use shoal_protocol::{Line, RequestError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What requests a listener takes (`<port_type>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortType {
    #[default]
    GeneralPurpose,
    /// Only session creation ("S" connections), and what follows on a
    /// WebSocket that created its session.
    CreateOnly,
    /// Only control and rebind requests ("CR" connections).
    ControlOnly,
}

impl PortType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeneralPurpose => "GENERAL_PURPOSE",
            Self::CreateOnly => "CREATE_ONLY",
            Self::ControlOnly => "CONTROL_ONLY",
        }
    }
}

/// What the pipeline knows about the connection a request came on. An HTTP
/// request is a connection of its own; a WebSocket keeps one for its life.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The listener's name (for messages) and port type.
    pub listener: String,
    pub port_type: PortType,
    /// WebSockets may silence answers (`LS_ack=false`) and carry one stream.
    pub websocket: bool,
    /// Client address, control link and server name for the streams bound here.
    pub bind: BindContext,
    /// Whether a stream is bound to this connection now (WebSocket: a second
    /// bind is refused). Set here when a stream is bound; the transport, which
    /// sees the stream end, clears it through [`Connection::stream_bound`].
    stream_bound: Arc<AtomicBool>,
    /// Requests that omit `LS_session` address the connection's last session.
    last_session: Option<String>,
    /// The session created on this connection: on a CREATE_ONLY listener,
    /// only it may be rebound and controlled here.
    created_here: Option<String>,
}

impl Connection {
    pub fn new(listener: &str, port_type: PortType, websocket: bool, bind: BindContext) -> Self {
        Self {
            listener: listener.to_owned(),
            port_type,
            websocket,
            bind,
            stream_bound: Arc::new(AtomicBool::new(false)),
            last_session: None,
            created_here: None,
        }
    }

    /// The flag that says a stream is bound to this connection, for the
    /// transport to clear when the stream ends.
    pub fn stream_bound(&self) -> Arc<AtomicBool> {
        self.stream_bound.clone()
    }

    fn refusal(&self, what: &str) -> Refusal {
        (
            code::PORT_TYPE,
            format!(
                "{what} is not allowed on listener '{}' (port_type {})",
                self.listener,
                self.port_type.as_str()
            ),
        )
    }

    /// Whether the port type lets this connection touch `session`.
    fn may_control(&self, session: Option<&str>) -> bool {
        match self.port_type {
            PortType::CreateOnly => session.is_some() && session == self.created_here.as_deref(),
            _ => true,
        }
    }
}

/// What a batch produced.
#[derive(Debug)]
pub enum Answer {
    /// Lines to write back (empty: nothing to write).
    Lines(String),
    /// A stream was bound: its chunks follow (the first one is its head).
    Stream(Stream),
    /// Cut the connection without an answer: the client then recovers its
    /// session, which this node takes over from a dead one.
    Cut,
}

/// The error for a request larger than the configured limit (`ERROR,67`).
pub fn too_large(len: usize, limit: u64) -> RequestError {
    RequestError::malformed(format!(
        "request of {len} bytes is larger than the request limit of {limit} bytes"
    ))
}

/// Appends `REQERR` when the request id could be read, `ERROR` otherwise.
fn error_line(e: &RequestError, out: &mut String) {
    match &e.req_id {
        Some(id) => Line::ReqErr {
            req_id: id,
            code: e.code,
            message: &e.message,
        }
        .write(out),
        None => Line::Error {
            code: e.code,
            message: &e.message,
        }
        .write(out),
    }
}

/// The answer to a request that failed before it could be parsed: `CONERR`
/// for session requests (the client waits for a stream), `REQERR`/`ERROR`
/// for the others.
pub fn refusal_line(kind: Option<RequestName>, e: &RequestError) -> String {
    let mut out = String::new();
    match kind {
        Some(RequestName::CreateSession | RequestName::BindSession) => Line::Conerr {
            code: e.code,
            message: &e.message,
        }
        .write(&mut out),
        _ => error_line(e, &mut out),
    }
    out
}

impl Engine {
    /// Runs a parsed batch that came on `conn`, in order, and says what to
    /// write back.
    pub async fn handle(&self, conn: &mut Connection, batch: Batch) -> Answer {
        let stats = &self.stats;
        add(&stats.requests_handled, batch.requests.len().max(1) as u64);
        if batch.name == RequestName::Msg {
            add(&stats.messages_received, batch.requests.len() as u64);
        }
        match batch.name {
            RequestName::CreateSession | RequestName::BindSession => {
                let started = std::time::Instant::now();
                let first =
                    batch.requests.into_iter().next().unwrap_or_else(|| {
                        Err(RequestError::malformed("empty request".to_owned()))
                    });
                let opened = self.open(conn, batch.name, first).await;
                stats.request_duration.observe(started.elapsed());
                match opened {
                    Ok(stream) => {
                        let id = stream.session().id.clone();
                        if batch.name == RequestName::CreateSession {
                            conn.created_here = Some(id.clone());
                        }
                        conn.last_session = Some(id);
                        conn.stream_bound.store(true, Ordering::Release);
                        Answer::Stream(stream)
                    }
                    Err((code::CUT_TO_RECOVER, message)) => {
                        tracing::info!(client = %conn.bind.client_ip, "bind_session cut: {message}");
                        Answer::Cut
                    }
                    Err((code, message)) => {
                        add(&stats.requests_refused, 1);
                        tracing::info!(client = %conn.bind.client_ip, code, request = batch.name.as_str(), "session request refused: {message}");
                        Answer::Lines(
                            Line::Conerr {
                                code,
                                message: &message,
                            }
                            .to_line(),
                        )
                    }
                }
            }
            RequestName::Control | RequestName::Msg => {
                let mut out = String::new();
                for req in batch.requests {
                    self.control_line(conn, req, &mut out).await;
                }
                Answer::Lines(out)
            }
            RequestName::Heartbeat => {
                self.heartbeat(None);
                // Over HTTP a heartbeat is answered; over a WebSocket the
                // traffic itself was the point.
                Answer::Lines(if conn.websocket {
                    String::new()
                } else {
                    Line::ReqOk(None).to_line()
                })
            }
            RequestName::Wsok if conn.websocket => Answer::Lines(Line::WsOk.to_line()),
            RequestName::Wsok => Answer::Lines({
                add(&stats.requests_refused, 1);
                Line::Error {
                    code: code::MALFORMED,
                    message: "wsok is only allowed on a WebSocket",
                }
                .to_line()
            }),
        }
    }

    /// `create_session` or `bind_session`, after the port-type checks.
    async fn open(
        &self,
        conn: &Connection,
        name: RequestName,
        req: Result<Request, RequestError>,
    ) -> Result<Stream, Refusal> {
        if conn.stream_bound.load(Ordering::Acquire) {
            return Err((
                code::STREAM_ALREADY_BOUND,
                "a stream is already bound to this WebSocket".to_owned(),
            ));
        }
        let req = req.map_err(|e| (e.code, e.message))?;
        match (name, req) {
            (RequestName::CreateSession, Request::CreateSession(c)) => {
                if conn.port_type == PortType::ControlOnly {
                    return Err(conn.refusal("session creation"));
                }
                self.create_session(&c, &conn.bind).await
            }
            (RequestName::BindSession, Request::BindSession(mut b)) => {
                if b.session.is_none() {
                    b.session = conn.last_session.clone();
                }
                if !conn.may_control(b.session.as_deref()) {
                    return Err(conn.refusal("bind_session"));
                }
                self.bind_or_adopt(&b, &conn.bind).await
            }
            _ => Err((code::MALFORMED, "unexpected request".to_owned())),
        }
    }

    /// Runs one control or message request and appends its answer (nothing
    /// for an accepted request that asked for no acknowledgement).
    async fn control_line(
        &self,
        conn: &Connection,
        req: Result<Request, RequestError>,
        out: &mut String,
    ) {
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                add(&self.stats.requests_refused, 1);
                return error_line(&e, out);
            }
        };
        let started = std::time::Instant::now();
        let timed = matches!(req, Request::Control(_));
        let (req_id, session, acked) = match &req {
            Request::Control(c) => (c.req_id.clone(), c.session.clone(), control_acked(&c.op)),
            Request::Msg(m) => (m.req_id.clone(), m.session.clone(), m.ack),
            _ => {
                add(&self.stats.requests_refused, 1);
                return Line::Error {
                    code: code::MALFORMED,
                    message: "unexpected request in a control batch",
                }
                .write(out);
            }
        };
        let session = session.or_else(|| conn.last_session.clone());
        let result = match session {
            None => Err((
                code::BAD_PARAMETER,
                "missing required parameter LS_session".to_owned(),
            )),
            Some(sid) if !conn.may_control(Some(&sid)) => Err(conn.refusal("a control request")),
            Some(sid) => match req {
                Request::Control(c) => self.control(&sid, c).await,
                Request::Msg(m) => self.message(&sid, m).await,
                _ => Ok(()),
            },
        };
        if timed {
            self.stats.request_duration.observe(started.elapsed());
        }
        match result {
            // LS_ack=false silences the REQOK, on WebSockets only.
            Ok(()) if conn.websocket && !acked => {}
            Ok(()) => Line::ReqOk(Some(&req_id)).write(out),
            Err((code, message)) => {
                add(&self.stats.requests_refused, 1);
                Line::ReqErr {
                    req_id: &req_id,
                    code,
                    message: &message,
                }
                .write(out)
            }
        }
    }

    /// Counts a request the transport refused before it could be handled
    /// (unreadable, too large: answered with [`refusal_line`]) as handled
    /// and refused.
    pub fn note_refused(&self) {
        add(&self.stats.requests_handled, 1);
        add(&self.stats.requests_refused, 1);
    }
}

/// Whether a successful control request is answered with `REQOK`
/// (`LS_ack=false` applies to subscriptions and unsubscriptions).
fn control_acked(op: &ControlOp) -> bool {
    match op {
        ControlOp::Add(s) => s.ack,
        ControlOp::Delete { ack, .. } => *ack,
        _ => true,
    }
}
