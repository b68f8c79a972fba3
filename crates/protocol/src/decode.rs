//! Reading server lines back: used by the tests, fuzzing and the Rust client.

use crate::diff::DiffKind;
use crate::encoding::{decode_arg, decode_arg_borrowed};
use std::borrow::Cow;

/// A server line split into its tag and raw (still encoded) arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine<'a> {
    pub tag: &'a str,
    pub args: Vec<&'a str>,
}

/// Number of arguments of each tag; the last argument may contain commas.
fn arity(tag: &str) -> Option<usize> {
    Some(match tag {
        "PROBE" | "WSOK" => 0,
        "REQOK" | "SERVNAME" | "CLIENTIP" | "CONS" | "SYNC" | "PROG" | "NOOP" | "LOOP"
        | "UNSUB" => 1,
        "CONERR" | "END" | "ERROR" | "EOS" | "CS" => 2,
        "REQERR" | "SUBOK" | "OV" | "CONF" | "MSGDONE" | "U" => 3,
        "CONOK" | "MSGFAIL" => 4,
        "SUBCMD" => 5,
        _ => return None,
    })
}

/// Splits one line (without its CRLF). Unknown tags and wrong argument
/// counts are `None`. A bare `REQOK` (heartbeat answer) has no argument.
pub fn split_line(line: &str) -> Option<RawLine<'_>> {
    let (tag, rest) = match line.split_once(',') {
        Some((t, r)) => (t, Some(r)),
        None => (line, None),
    };
    let n = arity(tag)?;
    let args: Vec<&str> = match rest {
        None if n == 0 || tag == "REQOK" => Vec::new(),
        None => return None,
        Some(_) if n == 0 => return None,
        Some(r) => r.splitn(n, ',').collect(),
    };
    if !args.is_empty() && args.len() != n {
        return None;
    }
    Some(RawLine { tag, args })
}

/// Decodes the value list of a `U` line against the item's previous values
/// (`None` is null). Returns the new values, or `None` if the list is invalid.
pub fn decode_values(encoded: &str, previous: &[Option<String>]) -> Option<Vec<Option<String>>> {
    let mut values = previous.to_vec();
    decode_values_into(encoded, &mut values).then_some(values)
}

/// Applies the value list of a `U` line to the item's current `values` in
/// place: unchanged fields (empty, `^N`) stay as they are, `#` is null, `$`
/// the empty string, `^P` and `^T` diffs apply to the previous value.
/// Returns `false`, with `values` untouched, if the list is invalid (a bad
/// token or escape, not exactly one value per field, a diff to a null or
/// one that does not apply).
pub fn decode_values_into(encoded: &str, values: &mut [Option<String>]) -> bool {
    // The list is checked whole before anything changes. Fields without
    // escapes (the common case) are read in place, so checking costs no
    // allocation, and setting one reuses the previous string's buffer.
    if fields_covered(encoded, values.len()) != Some(values.len()) {
        return false;
    }
    if encoded.contains("^P") || encoded.contains("^T") {
        // A diff may not apply to the value before it, which only applying
        // tells: the list goes to a copy, kept only if every token applies.
        let mut next = values.to_vec();
        if !apply_tokens(encoded, &mut next) {
            return false;
        }
        values.clone_from_slice(&next);
        return true;
    }
    // Without diffs every token applies once fields_covered read them all
    // and bounded every count.
    apply_tokens(encoded, values)
}

/// Applies the tokens of a value list, checked by `fields_covered`, to
/// `values` in order; `false` at the first one that does not apply (a diff
/// to a null, or one that does not fit its value), leaving `values` part
/// changed.
fn apply_tokens(encoded: &str, values: &mut [Option<String>]) -> bool {
    let mut at: usize = 0;
    for token in encoded.split('|') {
        match parse_token(token) {
            Some(Token::Keep(n)) => at = at.saturating_add(n),
            Some(Token::Set(value)) => {
                if let Some(slot) = values.get_mut(at) {
                    set(slot, value);
                }
                at += 1;
            }
            Some(Token::Diff(kind, body)) => {
                let applied = values
                    .get(at)
                    .and_then(Option::as_deref)
                    .and_then(|old| kind.apply(old, &body));
                let (Some(slot), Some(new)) = (values.get_mut(at), applied) else {
                    return false;
                };
                *slot = Some(new);
                at += 1;
            }
            None => return false,
        }
    }
    true
}

/// What one token of a value list does to the next field(s).
enum Token<'a> {
    /// Leaves this many fields unchanged.
    Keep(usize),
    /// Sets one field (`None` is null).
    Set(Option<Cow<'a, str>>),
    /// Changes one field by a diff (its body, decoded).
    Diff(DiffKind, Cow<'a, str>),
}

fn parse_token(token: &str) -> Option<Token<'_>> {
    Some(match token {
        "" => Token::Keep(1),
        "#" => Token::Set(None),
        "$" => Token::Set(Some(Cow::Borrowed(""))),
        t => match t.strip_prefix('^') {
            Some(rest) => match rest.as_bytes().first() {
                Some(b'P') => Token::Diff(DiffKind::JsonPatch, decode_arg_borrowed(&rest[1..])?),
                Some(b'T') => Token::Diff(DiffKind::TlcpDiff, decode_arg_borrowed(&rest[1..])?),
                _ => Token::Keep(rest.parse().ok()?),
            },
            None => Token::Set(Some(decode_arg_borrowed(t)?)),
        },
    })
}

/// How many fields a valid value list covers, or `None` if a token is
/// invalid or it goes past `len` fields.
fn fields_covered(encoded: &str, len: usize) -> Option<usize> {
    let mut at: usize = 0;
    for token in encoded.split('|') {
        let n = match parse_token(token)? {
            Token::Keep(n) => n,
            Token::Set(_) | Token::Diff(..) => 1,
        };
        // A hostile count must not overflow: anything past the previous
        // values is invalid anyway.
        at = at.checked_add(n).filter(|&end| end <= len)?;
    }
    Some(at)
}

fn set(slot: &mut Option<String>, value: Option<Cow<'_, str>>) {
    match (slot.as_mut(), value) {
        (Some(old), Some(Cow::Borrowed(new))) => {
            old.clear();
            old.push_str(new);
        }
        (_, value) => *slot = value.map(Cow::into_owned),
    }
}

/// Decodes one percent-encoded argument.
pub fn arg(raw: &str) -> Option<String> {
    decode_arg(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_apply_to_the_previous_values() {
        let prev = vec![
            Some(r#"{"a":1,"b":[1,2]}"#.to_owned()),
            Some("hello world".to_owned()),
            Some("x".to_owned()),
        ];
        let patch = r#"^P[{"op":"replace","path":"/a","value":2}]"#;
        // `hello world` to `hello there world`, the `|` of the addition escaped.
        let list = format!("{patch}|^Tfh there%7Cag|");
        assert_eq!(
            decode_values(&list, &prev),
            Some(vec![
                Some(r#"{"a":2,"b":[1,2]}"#.to_owned()),
                Some("hello there| world".to_owned()),
                Some("x".to_owned()),
            ])
        );
        // A diff to a null, a diff that does not apply, and a plain value
        // with a caret in it.
        assert_eq!(decode_values("^Tcab", &[None]), None);
        assert_eq!(decode_values("^Tz", &[Some("abc".into())]), None);
        let mut values = vec![Some("abc".to_owned())];
        assert!(!decode_values_into("^Tz", &mut values));
        assert_eq!(values, vec![Some("abc".to_owned())]);
        assert_eq!(
            decode_values("a^Pb", &[None]),
            Some(vec![Some("a^Pb".to_owned())])
        );
    }

    #[test]
    fn splits_by_arity() {
        let l = split_line("MSGDONE,*,3,a,b").unwrap();
        assert_eq!(l.args, vec!["*", "3", "a,b"]);
        assert_eq!(split_line("PROBE").unwrap().args.len(), 0);
        assert!(split_line("CONOK,a").is_none());
        assert!(split_line("XYZ,1").is_none());
    }

    #[test]
    fn decodes_the_specification_examples() {
        let prev: Vec<Option<String>> = vec![None; 10];
        let v = decode_values("20:00:33|3.04|0.0|2.41|3.67|3.03|3.04|#|#|$", &prev).unwrap();
        assert_eq!(v[7], None);
        assert_eq!(v[9].as_deref(), Some(""));
        let w = decode_values("20:04:40|^4|3.02|3.03|||", &v).unwrap();
        assert_eq!(w[1].as_deref(), Some("3.04"));
        assert_eq!(w[5].as_deref(), Some("3.02"));
    }

    #[test]
    fn huge_unchanged_counts_are_invalid_not_a_panic() {
        // Found by the fuzzer: `^` with usize::MAX overflowed the range end.
        let prev: Vec<Option<String>> = vec![None; 3];
        assert!(decode_values("a|^18446744073709551615", &prev).is_none());
        assert!(decode_values("a|^3", &prev).is_none());
        assert_eq!(decode_values("a|^2", &prev).map(|v| v.len()), Some(3));
    }

    #[test]
    fn decodes_in_place_all_or_nothing() {
        let mut v: Vec<Option<String>> = vec![Some("a".into()), None, Some("c".into())];
        assert!(decode_values_into("x|$|", &mut v));
        assert_eq!(v, [Some("x".into()), Some(String::new()), Some("c".into())]);
        assert!(decode_values_into("^2|%7C", &mut v));
        assert_eq!(v, [Some("x".into()), Some(String::new()), Some("|".into())]);
        assert!(decode_values_into("#|^1|y", &mut v));
        assert_eq!(v, [None, Some(String::new()), Some("y".into())]);
        let before = v.clone();
        // Invalid lists change nothing, even where their first tokens are good.
        for bad in [
            "p|q",
            "p|q|r|s",
            "p|q|%FF",
            "p|^18446744073709551615",
            "p|^3",
            "p|^x|r",
            "^",
        ] {
            assert!(!decode_values_into(bad, &mut v), "{bad}");
            assert_eq!(v, before, "{bad}");
        }
        // The wrapper agrees with the in-place version.
        assert_eq!(decode_values("1|^2", &before), {
            let mut w = before.clone();
            decode_values_into("1|^2", &mut w).then_some(w)
        });
        let mut empty: Vec<Option<String>> = Vec::new();
        assert!(!decode_values_into("", &mut empty));
        assert!(decode_values_into("^0", &mut empty));
    }
}
