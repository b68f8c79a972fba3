//! TLCP error codes, every one Shoal sends, in one place.
//!
//! The same number can mean different things in `CONERR`, `REQERR`, `END`
//! and `MSGFAIL`, so the names say where each is used. The official clients
//! act on several of them (for example, they open a new session after
//! `CONERR,20`), so a code is chosen for what the client will do with it.
//!
//! Metadata adapters may refuse with codes of their own, zero or negative;
//! those pass through unchanged.

/// `CONERR`: user and password refused by the metadata adapter.
pub const CREDENTIALS_REFUSED: i32 = 1;
/// `CONERR`: the adapter set named in `LS_adapter_set` is not served here.
pub const UNKNOWN_ADAPTER_SET: i32 = 2;
/// `CONERR`: a recovery asked for notifications the session no longer keeps.
pub const RECOVERY_IMPOSSIBLE: i32 = 4;
/// `CONERR`: the server is draining and takes no new sessions.
pub const NOT_ACCEPTING: i32 = 5;
/// `CONERR`: the configured maximum number of sessions is reached.
pub const MAX_SESSIONS: i32 = 8;
/// `CONERR`: the configured memory budget of the server is reached.
pub const SERVER_FULL: i32 = 9;
/// `CONERR`: the metadata adapter's limit of sessions for this user is reached.
pub const USER_SESSIONS_LIMIT: i32 = 10;

/// `REQERR`: `reconf` on a subscription that is not filtered.
pub const RECONF_UNFILTERED: i32 = 13;
/// `REQERR`: COMMAND mode without a `key` field in the schema.
pub const COMMAND_NO_KEY: i32 = 15;
/// `REQERR`: COMMAND mode without a `command` field in the schema.
pub const COMMAND_NO_COMMAND: i32 = 16;
/// `REQERR`: no data adapter of that name in the session's adapter set.
pub const UNKNOWN_DATA_ADAPTER: i32 = 17;
/// `REQERR`: the subscription named by `LS_subId` does not exist.
pub const UNKNOWN_SUBSCRIPTION: i32 = 19;
/// `CONERR`/`REQERR`: the session named by `LS_session` does not exist here.
pub const UNKNOWN_SESSION: i32 = 20;
/// `REQERR`: group name not understood (or no items in it).
pub const BAD_GROUP: i32 = 21;
/// `REQERR`: schema name not understood (or no fields in it).
pub const BAD_SCHEMA: i32 = 23;
/// `REQERR`: the mode is not allowed for an item of the group.
pub const MODE_NOT_ALLOWED: i32 = 24;

/// `END`: the client destroyed its session.
pub const DESTROYED_BY_CLIENT: i32 = 31;
/// `END`: the server closed the session (expired, or by the operator).
pub const CLOSED_BY_SERVER: i32 = 32;
/// `END`: the client stopped reading its stream for too long (stalled), or
/// the session outgrew what the server keeps for it (an unexpected error in
/// the session's activity, for the official clients).
pub const CLIENT_STALLED: i32 = 33;
/// `REQERR` of a `msg`: its progressive was already processed or skipped.
pub const MESSAGE_ALREADY_PROCESSED: i32 = 32;
/// `REQERR` of a `msg`: its progressive is already waiting for its turn.
pub const MESSAGE_ALREADY_WAITING: i32 = 33;
/// `END`: the session moved on (maximum duration reached, node draining):
/// the client opens a new one at once.
pub const SESSION_MOVED: i32 = 48;
/// Never sent: the answer to a `bind_session` (without `LS_recovery_from`)
/// for a session of a dead node that this node can take over. The
/// connection is cut instead, so that the client asks to recover the
/// session, saying what it has (see the engine's handoff).
pub const CUT_TO_RECOVER: i32 = -48;

/// `CONERR`/`ERROR`: `LS_protocol` names a version this server does not speak.
pub const UNSUPPORTED_PROTOCOL: i32 = 60;
/// `REQERR`/`ERROR`: a parameter is missing or has a bad value.
pub const BAD_PARAMETER: i32 = 65;
/// `ERROR`/`REQERR`: the request is malformed, too large, or not allowed here.
pub const MALFORMED: i32 = 67;
/// `CONERR`/`REQERR`/`MSGFAIL`: the metadata adapter failed unexpectedly
/// (a generic exception, no answer in time, a remote adapter not there).
pub const ADAPTER_EXCEPTION: i32 = 66;
/// `REQERR`/`CONERR`: an internal limit of the server refused the request.
pub const INTERNAL_LIMIT: i32 = 68;
/// `CONERR`: a stream is already bound to this WebSocket.
pub const STREAM_ALREADY_BOUND: i32 = 69;
/// `CONERR`/`ERROR`: the listener's `<port_type>` does not take this request.
pub const PORT_TYPE: i32 = 70;
