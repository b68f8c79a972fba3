//! Diff encodings of update values: a value sent as the change from the
//! value the client holds rather than in full (`^P` and `^T` in a `U` line).
//!
//! - [`json_patch`]: an RFC 6902 JSON Patch (`^P`), for values that are JSON.
//! - [`tlcp_diff`]: the TLCP-diff format (`^T`), for any text.
//!
//! Both answer the body of the token, before percent-encoding (the client
//! decodes the whole token, then reads the diff), or `None` when the value
//! cannot be sent that way *safely*: the rules below come from reading the
//! official clients' decoders, and a value that some client would decode
//! differently from the published text is always sent in full.
//!
//! Whether a diff is worth sending (shorter than the plain value) and
//! whether the client holds the previous value at all are the caller's
//! business: see [`wire_len`].

mod json;
mod text;

pub use json::{apply_json_patch, json_patch};
pub use text::{apply_tlcp_diff, tlcp_diff};

use crate::encoding::field_len;

/// A diff encoding, as the server may send it for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffKind {
    /// `^P`: an RFC 6902 JSON Patch to the previous value.
    JsonPatch,
    /// `^T`: a TLCP-diff of the previous value's text.
    TlcpDiff,
}

impl DiffKind {
    /// The two characters that open a token of this encoding.
    pub fn prefix(self) -> &'static str {
        match self {
            DiffKind::JsonPatch => "^P",
            DiffKind::TlcpDiff => "^T",
        }
    }

    /// The diff of `old` into `new` in this encoding, if it can be sent
    /// safely (see the module documentation).
    pub fn encode(self, old: &str, new: &str) -> Option<String> {
        match self {
            DiffKind::JsonPatch => json_patch(old, new),
            DiffKind::TlcpDiff => tlcp_diff(old, new),
        }
    }

    /// The value a client gets by applying `body` to `old`: what Shoal's own
    /// clients do with a diff. `None` if it does not apply.
    pub fn apply(self, old: &str, body: &str) -> Option<String> {
        match self {
            DiffKind::JsonPatch => apply_json_patch(old, body),
            DiffKind::TlcpDiff => apply_tlcp_diff(old, body),
        }
    }
}

/// Bytes the diff `body` takes in a `U` line, prefix and percent-encoding
/// included: to compare with the plain value's [`field_len`].
pub fn wire_len(kind: DiffKind, body: &str) -> usize {
    kind.prefix().len() + field_len(body)
}

/// Bytes a plain (non-empty) value takes in a `U` line.
pub fn plain_len(value: &str) -> usize {
    if value.is_empty() {
        // `$`
        1
    } else {
        field_len(value)
    }
}
