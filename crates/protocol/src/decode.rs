//! Reading server lines back: used by the tests, fuzzing and the Rust client.

use crate::encoding::decode_arg;

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
    let mut out: Vec<Option<String>> = Vec::with_capacity(previous.len());
    for token in encoded.split('|') {
        let here = out.len();
        match token {
            "" => out.push(previous.get(here)?.clone()),
            "#" => out.push(None),
            "$" => out.push(Some(String::new())),
            t if t.starts_with('^') => {
                let n: usize = t[1..].parse().ok()?;
                // A hostile count must not overflow: anything past the
                // previous values is invalid anyway.
                let end = here.checked_add(n).filter(|&e| e <= previous.len())?;
                for i in here..end {
                    out.push(previous.get(i)?.clone());
                }
            }
            t => out.push(Some(decode_arg(t)?)),
        }
    }
    (out.len() == previous.len()).then_some(out)
}

/// Decodes one percent-encoded argument.
pub fn arg(raw: &str) -> Option<String> {
    decode_arg(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
