//! Percent-encoding rules of TLCP.

use percent_encoding::percent_decode_str;

/// Decodes a request parameter value: `%XX` escapes (UTF-8) and `+` as space,
/// as in `application/x-www-form-urlencoded`.
///
/// Returns `None` when the escapes do not form valid UTF-8.
pub fn decode_param(raw: &str) -> Option<String> {
    if !raw.contains(['%', '+']) {
        return Some(raw.to_owned());
    }
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Appends `s` as a first-level argument: `,` and line breaks (and `%`
/// itself) are escaped so that the argument count of the line stays fixed.
pub fn push_arg(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            ',' | '%' | '\r' | '\n' => push_escaped(out, ch),
            c if (c as u32) < 0x20 || c == '\u{7f}' => push_escaped(out, c),
            c => out.push(c),
        }
    }
}

/// Appends `s` as the actual content of an update field: `|`, `%` and line
/// breaks are escaped, and a leading `#`, `$` or `^` is escaped so that it is
/// not read as a null, empty or unchanged marker.
pub fn push_field(out: &mut String, s: &str) {
    for (i, ch) in s.chars().enumerate() {
        match ch {
            '#' | '$' | '^' if i == 0 => push_escaped(out, ch),
            '|' | '%' | '\r' | '\n' => push_escaped(out, ch),
            c if (c as u32) < 0x20 || c == '\u{7f}' => push_escaped(out, c),
            c => out.push(c),
        }
    }
}

/// Bytes [`push_field`] appends for `s`: to compare encodings of a value
/// without writing them.
pub fn field_len(s: &str) -> usize {
    s.chars()
        .enumerate()
        .map(|(i, ch)| {
            let escaped = match ch {
                '#' | '$' | '^' => i == 0,
                '|' | '%' | '\r' | '\n' => true,
                c => (c as u32) < 0x20 || c == '\u{7f}',
            };
            if escaped {
                // `%XX` per UTF-8 byte; every escaped character is ASCII.
                3 * ch.len_utf8()
            } else {
                ch.len_utf8()
            }
        })
        .sum()
}

fn push_escaped(out: &mut String, ch: char) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 4];
    for b in ch.encode_utf8(&mut buf).bytes() {
        out.push('%');
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

/// Decodes a percent-encoded argument of a server line.
pub fn decode_arg(raw: &str) -> Option<String> {
    decode_arg_borrowed(raw).map(std::borrow::Cow::into_owned)
}

/// [`decode_arg`], borrowing `raw` when it has no escape.
pub(crate) fn decode_arg_borrowed(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    percent_decode_str(raw).decode_utf8().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_len_is_what_push_field_writes() {
        for s in ["plain", "#x", "$", "^3", "a|b%c\r\n", "\u{1}é😀", "x#$^"] {
            let mut out = String::new();
            push_field(&mut out, s);
            assert_eq!(field_len(s), out.len(), "{s:?}");
        }
    }

    #[test]
    fn params_decode_plus_and_escapes() {
        assert_eq!(decode_param("a+b%2Bc%26%3D").as_deref(), Some("a b+c&="));
        assert_eq!(decode_param("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode_param("%FF"), None);
    }

    #[test]
    fn field_escapes_leading_markers_only() {
        let mut s = String::new();
        push_field(&mut s, "#a#|b");
        assert_eq!(s, "%23a#%7Cb");
        let mut s = String::new();
        push_field(&mut s, "$");
        assert_eq!(s, "%24");
    }

    #[test]
    fn arg_escapes_commas_and_newlines() {
        let mut s = String::new();
        push_arg(&mut s, "a,b\r\n100%");
        assert_eq!(s, "a%2Cb%0D%0A100%25");
    }
}
