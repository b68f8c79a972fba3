//! ARI, the protocol between a Lightstreamer server's proxy adapters and the
//! *remote adapters* built on Lightstreamer's SDKs (Node, Python, Java,
//! .NET), without any I/O: the proxy side of it.
//!
//! # The protocol in five minutes
//!
//! The remote dials a TCP port of the proxy (one connection for a metadata
//! adapter; one, or two in old setups, for a data adapter) and both sides
//! exchange text lines. Every line but `KEEPALIVE` is
//!
//! ```text
//! <id>|<METHOD>|<type>|<value>|<type>|<value>…
//! 17|SUB|S|item1                  proxy → remote: a request
//! 17|SUB|V                        remote → proxy: its reply (V = void)
//! 17|SUB|EU|Unknown+item          …or an exception, E<subtype>|<message>
//! 1700000000000|UD3|S|item1|S|17|B|0|S|last_price|S|12.5
//!                                 remote → proxy: an update of the SUB 17
//! ```
//!
//! Type codes: `V` void, `S` string, `B` boolean (`1`/`0`), `I` int, `L`
//! long, `D` double, `M` modes (`R` `M` `D` `C`), `F` diff algorithms,
//! `Y` base64 bytes, `E…` exceptions ([`ErrorKind`]). In any value `#` is
//! null and `$` the empty string.
//!
//! A connection opens with the remote's `1|RAC|…` (credentials, options),
//! then the proxy's `MPI`/`DPI` offering `ARI.version` 1.9.1; the remote
//! answers with the version it speaks ([`Version::negotiate`]):
//! 1.8.3 for Node SDK 1.5.x and Python SDK 1.3.x, 1.9.1 for the Java/.NET
//! SDKs and Node ≥ 1.7. The version then decides:
//!
//! * the string encoding ([`Encoding`]): 1.8.x escapes everything but
//!   `A-Za-z0-9.-*_` as Java's `URLEncoder` (pure ASCII, space as `+`);
//!   1.9.x writes UTF-8 raw and escapes only `%`, `|`, `+`, CR, LF and a
//!   lone `#`/`$`, except in `RAC`, `MPI`, `DPI` and `CLOSE`, which keep the
//!   old encoding;
//! * the table layout of `NNT`/`NTC` ([`TableLayout`]) and the 1.9 reply
//!   forms (`NNS` may carry a session TTL, `NNT` two flags), `DFD`, and the
//!   remote's own requests `FST`/`FUS`.
//!
//! # Using the crate
//!
//! ```
//! use shoal_ari::*;
//!
//! let mut out = Vec::new();
//! let mut reader = LineReader::new();
//!
//! // Handshake: RAC from the remote, DPI from the proxy, the reply.
//! reader.feed(b"1|RAC|S|enableClosePacket|S|true\r\n").unwrap();
//! let Received::Credentials(rac) = parse(reader.next_line().unwrap().unwrap()).unwrap() else { panic!() };
//! assert!(rac.close_packet_enabled());
//! let init = InitParams { version: Version::OFFERED, keepalive_hint_millis: Some(8000),
//!                         params: &[("data_provider.name", "DEFAULT")] };
//! write_data_init(&mut out, RequestId(100), &init);
//! reader.feed(b"100|DPI|S|ARI.version|S|1.8.3\n").unwrap();
//! let Received::Reply(Reply { outcome: Ok(ReplyBody::Init(r)), .. }) =
//!     parse(reader.next_line().unwrap().unwrap()).unwrap() else { panic!() };
//! let version = Version::negotiate(Version::OFFERED, r.ari_version.as_deref()).unwrap();
//! let enc = Encoder::new(version);
//!
//! // A subscription and an update.
//! enc.subscribe(&mut out, RequestId(101), "item 1");
//! reader.feed(b"101|SUB|V\n1|UD3|S|item+1|S|101|B|1|S|price|S|12.5\n").unwrap();
//! assert!(matches!(parse(reader.next_line().unwrap().unwrap()).unwrap(),
//!                  Received::Reply(Reply { outcome: Ok(ReplyBody::Void), .. })));
//! let Received::Update(u) = parse(reader.next_line().unwrap().unwrap()).unwrap() else { panic!() };
//! for field in u.fields() {
//!     let field = field.unwrap();
//!     assert_eq!((&*field.name, field.value), ("price", FieldValue::Text("12.5".into())));
//! }
//! ```
//!
//! Modules: [`framing`] cuts lines, [`value`] encodes single values,
//! [`read`] parses lines, [`write`](mod@write) writes them, [`version`] negotiates.
//! Nothing panics on any input; errors name the method and the token.

pub mod error;
pub mod exception;
pub mod framing;
pub mod method;
pub mod modes;
pub mod read;
mod tokens;
pub mod value;
pub mod version;
pub mod write;

pub use error::{ParseError, ParseErrorKind};
pub use exception::{Credits, ErrorKind, RemoteError};
pub use framing::{FrameError, LineReader};
pub use method::Method;
pub use modes::{DiffAlgorithm, Mode, Modes};
pub use read::{
    parse, Base64, Credentials, Field, FieldDiffs, FieldValue, Fields, ForceSessionTermination,
    ForceUnsubscription, InitReply, ItemData, ItemRef, Received, Reply, ReplyBody, SessionReply,
    TablesReply, Update, UserItemData, UserReply,
};
pub use value::Encoding;
pub use version::{TableLayout, Version, VersionError};
pub use write::{
    write_close, write_data_init, write_metadata_init, Encoder, InitParams, NotifyUser, RequestId,
    SubscriptionStatistics, TableInfo,
};

/// Any error of this crate, for callers that handle them alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Version(#[from] VersionError),
}
