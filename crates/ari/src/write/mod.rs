//! Writing what the proxy sends: requests, `CLOSE`, and replies to the
//! remote's `FST`/`FUS`.
//!
//! Writers append one whole line, `\r\n` included, to the caller's buffer
//! (a `Vec<u8>` or a `BytesMut`: anything [`BufMut`]). The init exchange
//! and `CLOSE` have free functions, since they are written before a
//! version is settled; everything else goes through an [`Encoder`], which
//! can only be had for a negotiated [`Version`] and so always picks the
//! right encoding. No token is ever left empty (the Java SDK's tokenizer
//! would skip it): empty strings are written `$`.

mod metadata;
mod tables;

use std::fmt;

use bytes::BufMut;

pub use metadata::NotifyUser;
pub use tables::{SubscriptionStatistics, TableInfo};

use crate::method::Method;
use crate::value::{put_str, put_value, Encoding};
use crate::version::Version;

/// The id of a request of the proxy, written in decimal.
///
/// Any value works; `0` is also the id of `CLOSE` and `1` of the remote's
/// `RAC`, so starting from a larger number keeps logs readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// Reads back an id the proxy wrote (decimal digits only).
    pub fn parse(s: &str) -> Option<RequestId> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().map(RequestId)
    }

    /// The id that follows this one.
    pub fn next(self) -> RequestId {
        RequestId(self.0.wrapping_add(1))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The parameters of an `MPI` or `DPI` request.
#[derive(Debug, Clone, Copy)]
pub struct InitParams<'a> {
    /// The version offered, usually [`Version::OFFERED`].
    pub version: Version,
    /// How often the remote should send `KEEPALIVE` when idle, if the proxy
    /// checks for activity. Send one: without it some SDKs fall back to 1 s.
    pub keepalive_hint_millis: Option<u64>,
    /// Other parameters, in order: `adapters_conf.id`, `data_provider.name`
    /// (DPI), and the configured remote parameters.
    pub params: &'a [(&'a str, &'a str)],
}

/// Appends `<id>|MPI|S|ARI.version|S|<v>|…` (always the old encoding).
pub fn write_metadata_init<B: BufMut>(out: &mut B, id: RequestId, init: &InitParams<'_>) {
    write_init(out, id, Method::Mpi, init);
}

/// Appends `<id>|DPI|S|ARI.version|S|<v>|…` (always the old encoding).
pub fn write_data_init<B: BufMut>(out: &mut B, id: RequestId, init: &InitParams<'_>) {
    write_init(out, id, Method::Dpi, init);
}

fn write_init<B: BufMut>(out: &mut B, id: RequestId, method: Method, init: &InitParams<'_>) {
    let mut l = Line::start(out, Encoding::Old, id, method);
    l.string("ARI.version").string(init.version.as_str());
    if let Some(ms) = init.keepalive_hint_millis {
        l.string("keepalive_hint.millis").typed_u64("S", ms);
    }
    for (k, v) in init.params {
        l.string(k).string(v);
    }
    l.end();
}

/// Appends `0|CLOSE|S|reason|S|<reason>`: the proxy is closing the
/// connection (wrong credentials, keepalive timeout, shutdown…). Allowed
/// from 1.8.3 on, or at any time when the remote's `RAC` had
/// `enableClosePacket=true`.
pub fn write_close<B: BufMut>(out: &mut B, reason: &str) {
    let mut l = Line::start_raw(out, Encoding::Old, "0", Method::Close);
    l.string("reason").string(reason);
    l.end();
}

/// Writes the messages of a connection whose version is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    version: Version,
}

impl Encoder {
    pub fn new(version: Version) -> Self {
        Encoder { version }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn line<'b, B: BufMut>(
        &self,
        out: &'b mut B,
        id: RequestId,
        method: Method,
    ) -> Line<'b, B> {
        Line::start(out, self.version.encoding(method), id, method)
    }

    /// `<id>|SUB|S|<item>`; the reply is `V` or an `EU`/`EF`/`E` exception.
    /// Notifications for the item carry `id` as their subscription id, and
    /// may arrive before the reply.
    pub fn subscribe<B: BufMut>(&self, out: &mut B, id: RequestId, item: &str) {
        self.line(out, id, Method::Sub).string(item).end();
    }

    /// `<id>|USB|S|<item>`.
    pub fn unsubscribe<B: BufMut>(&self, out: &mut B, id: RequestId, item: &str) {
        self.line(out, id, Method::Usb).string(item).end();
    }

    /// `<id>|FST|V` or `<id>|FST|E|<message>`: the answer to a remote's
    /// [`crate::Received::ForceSessionTermination`], echoing its id.
    pub fn force_session_termination_reply<B: BufMut>(
        &self,
        out: &mut B,
        remote_id: &str,
        outcome: Result<(), &str>,
    ) {
        let mut l = Line::start_raw(
            out,
            self.version.encoding(Method::Fst),
            remote_id,
            Method::Fst,
        );
        match outcome {
            Ok(()) => l.raw("V"),
            Err(message) => l.raw("E").value(Some(message)),
        };
        l.end();
    }

    /// `<id>|FUS|B|<done>` or `<id>|FUS|E|<message>`.
    pub fn force_unsubscription_reply<B: BufMut>(
        &self,
        out: &mut B,
        remote_id: &str,
        outcome: Result<bool, &str>,
    ) {
        let mut l = Line::start_raw(
            out,
            self.version.encoding(Method::Fus),
            remote_id,
            Method::Fus,
        );
        match outcome {
            Ok(done) => l.raw("B").raw(if done { "1" } else { "0" }),
            Err(message) => l.raw("E").value(Some(message)),
        };
        l.end();
    }
}

/// One line being written: tokens are appended with their `|` before them.
pub(crate) struct Line<'b, B: BufMut> {
    out: &'b mut B,
    encoding: Encoding,
}

impl<'b, B: BufMut> Line<'b, B> {
    fn start(out: &'b mut B, encoding: Encoding, id: RequestId, method: Method) -> Self {
        put_u64(out, id.0);
        Self::method(out, encoding, method)
    }

    fn start_raw(out: &'b mut B, encoding: Encoding, id: &str, method: Method) -> Self {
        // An id is echoed as received; the SDKs never escape theirs.
        out.put_slice(id.as_bytes());
        Self::method(out, encoding, method)
    }

    fn method(out: &'b mut B, encoding: Encoding, method: Method) -> Self {
        out.put_u8(b'|');
        out.put_slice(method.as_str().as_bytes());
        Line { out, encoding }
    }

    /// A raw token (type codes, numbers).
    pub fn raw(&mut self, token: &str) -> &mut Self {
        self.out.put_u8(b'|');
        self.out.put_slice(token.as_bytes());
        self
    }

    /// An encoded value, no type before it.
    pub fn value(&mut self, value: Option<&str>) -> &mut Self {
        self.out.put_u8(b'|');
        put_value(self.out, value, self.encoding);
        self
    }

    /// `S|<value>`, `#` for null.
    pub fn opt_string(&mut self, value: Option<&str>) -> &mut Self {
        self.raw("S").value(value)
    }

    /// `S|<value>`.
    pub fn string(&mut self, value: &str) -> &mut Self {
        self.raw("S");
        self.out.put_u8(b'|');
        put_str(self.out, value, self.encoding);
        self
    }

    /// `<ty>|<n>`.
    pub fn typed_i64(&mut self, ty: &str, n: i64) -> &mut Self {
        self.raw(ty);
        self.out.put_u8(b'|');
        if n < 0 {
            self.out.put_u8(b'-');
        }
        put_u64(self.out, n.unsigned_abs());
        self
    }

    pub fn typed_u64(&mut self, ty: &str, n: u64) -> &mut Self {
        self.raw(ty);
        self.out.put_u8(b'|');
        put_u64(self.out, n);
        self
    }

    pub fn end(&mut self) {
        self.out.put_slice(b"\r\n");
    }
}

/// Decimal digits of `n`, without an intermediate `String`.
fn put_u64<B: BufMut>(out: &mut B, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // `n % 10` < 10: the cast cannot truncate.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}
