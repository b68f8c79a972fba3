//! NATS subjects and stream names, checked before they reach the server.
//!
//! A subject is a list of tokens joined by dots (`shoal.fx.EURUSD`). A
//! token is not empty and has no whitespace; `*` and `>` are wildcards
//! (one token, the rest), which a subscription may use but a message's
//! subject may not. Item `X` is the subject `<prefix>.X`, so an item name
//! may have dots (more tokens) but no wildcard, whitespace or empty token.

/// Why a name is not a subject (or subject tokens).
pub const SUBJECT_RULES: &str = "non-empty tokens joined by dots, without whitespace, '*' or '>'";

/// Whether `s` is a subject a message can be published to: non-empty
/// tokens, no whitespace or control characters, no wildcard.
pub fn is_valid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
        })
}

/// Whether `s` can name a JetStream stream: not empty, and none of the
/// characters the server refuses there.
pub fn is_valid_stream_name(s: &str) -> bool {
    !s.is_empty()
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_may_have_dots_but_no_wildcard_whitespace_or_empty_token() {
        for good in ["chat", "fx.EURUSD", "a-b_c", "é"] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "", "a b", "a\tb", "*", ">", "a.*", "a.>", "fx*", ".a", "a.", "a..b", "a\u{0}b",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn stream_names_have_no_dot_wildcard_or_slash() {
        assert!(is_valid_stream_name("SHOAL"));
        assert!(is_valid_stream_name("shoal-prices_1"));
        for bad in ["", "A.B", "A*", "A>", "A/B", "A\\B", "A B"] {
            assert!(!is_valid_stream_name(bad), "{bad:?}");
        }
    }
}
