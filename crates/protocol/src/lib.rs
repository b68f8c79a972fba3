//! TLCP 2.5.0, the text protocol of Lightstreamer clients, without any I/O.
//!
//! * [`request`] turns request bodies (HTTP or WebSocket) into typed requests,
//!   or errors that name the offending parameter and carry the TLCP error code.
//! * [`notify`] writes the server's responses and notifications, including the
//!   second-level encoding of update values.
//! * [`decode`] reads server lines back; the Rust client and the tests use it.
//!
//! Nothing here allocates per byte or blocks, so it can be fuzzed directly.

pub mod code;
pub mod decode;
pub mod diff;
pub mod encoding;
pub mod notify;
pub mod params;
pub mod request;

/// The protocol version this crate speaks, as sent in `LS_protocol`.
pub const PROTOCOL_VERSION: &str = "TLCP-2.5.0";
/// The WebSocket subprotocol the official clients ask for.
pub const WS_SUBPROTOCOL: &str = "TLCP-2.5.0.lightstreamer.com";

pub use notify::{Line, Value};
pub use request::{parse_http, parse_ws, Request, RequestError, RequestName};
