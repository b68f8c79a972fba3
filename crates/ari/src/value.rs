//! Value encoding: how a string travels inside one `|`-separated token.
//!
//! Two special tokens exist in both encodings: `#` is null and `$` is the
//! empty string. A real `#` or `$` is therefore escaped when it is the whole
//! value (`%23`, `%24`).
//!
//! * [`Encoding::Old`] ("backward-compatibility encoding") is Java's
//!   `URLEncoder`: space becomes `+`, and every byte of the UTF-8 form other
//!   than `A-Z a-z 0-9 . - * _` becomes `%XX`. The output is pure ASCII,
//!   which matters: the Python SDK 1.3.1 reads its socket as ASCII.
//! * [`Encoding::Smart`] (1.9): only `%`, `|`, `+`, CR and LF are escaped,
//!   plus a lone `#` or `$`; everything else, non-ASCII included, is raw
//!   UTF-8.
//!
//! Decoding is the same for both: `+` is a space (the smart encoder never
//! writes a raw `+`), then `%XX` escapes are UTF-8 bytes. The SDKs write a
//! few more characters raw than Java does (Node keeps `!~'()`, Python `~`),
//! which decode as themselves.

use std::borrow::Cow;

use bytes::BufMut;
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The token of a null value.
pub const NULL: &str = "#";
/// The token of an empty string.
pub const EMPTY: &str = "$";

/// The two string encodings of ARI; [`crate::Version::encoding`] says which
/// one a message uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// URL encoding as Java's `URLEncoder` (all of 1.8.x; init, RAC and
    /// CLOSE under 1.9).
    Old,
    /// Minimal escaping, raw UTF-8 (1.9, all other messages).
    Smart,
}

/// What the old encoding keeps: ASCII letters, digits and `.-*_`. Space is
/// handled apart (it becomes `+`).
const OLD_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_');

/// Appends `value` as one token: `#` for `None`, `$` for the empty string.
pub fn put_value<B: BufMut>(out: &mut B, value: Option<&str>, encoding: Encoding) {
    match value {
        None => out.put_slice(NULL.as_bytes()),
        Some(s) => put_str(out, s, encoding),
    }
}

/// Appends a non-null string as one token (`$` when empty).
pub fn put_str<B: BufMut>(out: &mut B, s: &str, encoding: Encoding) {
    if s.is_empty() {
        out.put_slice(EMPTY.as_bytes());
        return;
    }
    match encoding {
        Encoding::Old => {
            // `split(' ')` and `+` between the parts: URLEncoder's space.
            for (i, part) in s.split(' ').enumerate() {
                if i > 0 {
                    out.put_u8(b'+');
                }
                for chunk in utf8_percent_encode(part, OLD_ESCAPED) {
                    out.put_slice(chunk.as_bytes());
                }
            }
        }
        Encoding::Smart => {
            if s == NULL || s == EMPTY {
                put_escape(out, s.as_bytes()[0]);
                return;
            }
            let bytes = s.as_bytes();
            let mut start = 0;
            for (i, &b) in bytes.iter().enumerate() {
                if matches!(b, b'%' | b'|' | b'+' | b'\r' | b'\n') {
                    out.put_slice(&bytes[start..i]);
                    put_escape(out, b);
                    start = i + 1;
                }
            }
            out.put_slice(&bytes[start..]);
        }
    }
}

fn put_escape<B: BufMut>(out: &mut B, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.put_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
}

/// Why a token is not a well-formed encoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A `%` not followed by two hexadecimal digits, at this byte offset.
    #[error("malformed percent escape at byte {0}")]
    BadEscape(usize),
    /// The escapes decode to bytes that are not UTF-8.
    #[error("percent escapes do not form UTF-8")]
    InvalidUtf8,
}

/// Decodes one token: `None` for `#`, `""` for `$` (and for an empty token,
/// which some SDKs write for an empty list), otherwise URL decoding.
///
/// Borrows `token` unless it contains an escape or a `+`.
pub fn decode_value(token: &str) -> Result<Option<Cow<'_, str>>, ValueError> {
    match token {
        NULL => Ok(None),
        EMPTY => Ok(Some(Cow::Borrowed(""))),
        _ => decode_str(token).map(Some),
    }
}

/// URL-decodes a token with no special meaning for `#` and `$`.
pub(crate) fn decode_str(token: &str) -> Result<Cow<'_, str>, ValueError> {
    let bytes = token.as_bytes();
    let mut has_plus = false;
    let mut has_escape = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => has_plus = true,
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(ValueError::BadEscape(i));
                }
                has_escape = true;
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
    if !has_plus && !has_escape {
        return Ok(Cow::Borrowed(token));
    }
    if !has_plus {
        return percent_decode(bytes)
            .decode_utf8()
            .map_err(|_| ValueError::InvalidUtf8);
    }
    let spaced = token.replace('+', " ");
    let decoded = percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map_err(|_| ValueError::InvalidUtf8)?;
    Ok(Cow::Owned(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: Option<&str>, e: Encoding) -> String {
        let mut out = Vec::new();
        put_value(&mut out, s, e);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn old_encoding_is_java_urlencoder() {
        let e = Encoding::Old;
        assert_eq!(enc(Some("Python Adapter SDK"), e), "Python+Adapter+SDK");
        assert_eq!(
            enc(Some("a.b-c*d_e~f!g'h(i)j"), e),
            "a.b-c*d_e%7Ef%21g%27h%28i%29j"
        );
        assert_eq!(enc(Some("€ +|%"), e), "%E2%82%AC+%2B%7C%25");
        assert_eq!(enc(Some("#"), e), "%23");
        assert_eq!(enc(Some("$"), e), "%24");
        assert_eq!(enc(Some("\r\n"), e), "%0D%0A");
        assert_eq!(enc(Some(""), e), "$");
        assert_eq!(enc(None, e), "#");
    }

    #[test]
    fn smart_encoding_escapes_only_what_breaks_the_line() {
        let e = Encoding::Smart;
        assert_eq!(enc(Some("A Message"), e), "A Message");
        assert_eq!(enc(Some("value€|x"), e), "value€%7Cx");
        assert_eq!(enc(Some("a+b%c\r\n"), e), "a%2Bb%25c%0D%0A");
        assert_eq!(enc(Some("#"), e), "%23");
        assert_eq!(enc(Some("$"), e), "%24");
        assert_eq!(enc(Some("#$"), e), "#$");
        assert_eq!(enc(Some(""), e), "$");
        assert_eq!(enc(None, e), "#");
    }

    #[test]
    fn decoding_borrows_when_nothing_is_escaped() {
        assert!(matches!(
            decode_value("plain"),
            Ok(Some(Cow::Borrowed("plain")))
        ));
        assert!(matches!(
            decode_value("A Message"),
            Ok(Some(Cow::Borrowed(_)))
        ));
        assert_eq!(decode_value("#"), Ok(None));
        assert_eq!(decode_value("$").unwrap().as_deref(), Some(""));
        assert_eq!(decode_value("").unwrap().as_deref(), Some(""));
        assert_eq!(decode_value("%23").unwrap().as_deref(), Some("#"));
        assert_eq!(decode_value("a+b%2B").unwrap().as_deref(), Some("a b+"));
        assert_eq!(decode_value("%E2%82%AC").unwrap().as_deref(), Some("€"));
        assert_eq!(decode_value("%e2%82%ac").unwrap().as_deref(), Some("€"));
        assert_eq!(decode_value("100%"), Err(ValueError::BadEscape(3)));
        assert_eq!(decode_value("%2"), Err(ValueError::BadEscape(0)));
        assert_eq!(decode_value("%zz"), Err(ValueError::BadEscape(0)));
        assert_eq!(decode_value("%FF"), Err(ValueError::InvalidUtf8));
    }
}
