//! One request line: `LS_a=1&LS_b=2`, decoded, with typed accessors whose
//! errors name the parameter.

use crate::encoding::decode_param;
use crate::request::RequestError;

/// The decoded parameters of one request line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a `name=value&...` line. Unknown names are kept (and later
    /// ignored): the official clients send parameters a server may not know.
    pub fn parse(line: &str) -> Result<Self, RequestError> {
        let mut pairs = Vec::new();
        for part in line.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = part.split_once('=').ok_or_else(|| {
                RequestError::malformed(format!(
                    "parameter '{}' has no '=value'",
                    truncate(part, 40)
                ))
            })?;
            let name = decode_param(name).ok_or_else(|| {
                RequestError::malformed("parameter name is not valid UTF-8".to_owned())
            })?;
            let value = decode_param(raw).ok_or_else(|| {
                RequestError::malformed(format!("value of {name} is not valid UTF-8"))
            })?;
            if pairs.iter().any(|(n, _): &(String, String)| *n == name) {
                return Err(RequestError::syntax(format!("{name} given twice")));
            }
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// Adds `name=value` unless the line already has `name` (query-string
    /// defaults such as `LS_session` on a batch).
    pub fn default_to(&mut self, name: &str, value: &str) {
        if self.get(name).is_none() {
            self.pairs.push((name.to_owned(), value.to_owned()));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    pub fn required(&self, name: &'static str) -> Result<&str, RequestError> {
        self.get(name)
            .ok_or_else(|| RequestError::syntax(format!("missing required parameter {name}")))
    }

    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, RequestError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(bad_value(name, v, "true or false")),
        }
    }

    pub fn u64_opt(&self, name: &'static str) -> Result<Option<u64>, RequestError> {
        self.get(name)
            .map(|v| parse_u64(v).ok_or_else(|| bad_value(name, v, "a non-negative integer")))
            .transpose()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }
}

/// Parses a plain decimal integer (no sign, no spaces, at most 18 digits so
/// that it never overflows).
pub fn parse_u64(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Parses a non-negative decimal number with a dot as separator, as TLCP
/// uses for frequencies and bandwidths.
pub fn parse_decimal(v: &str) -> Option<f64> {
    let ok = !v.is_empty()
        && v.len() <= 24
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && v.bytes().filter(|&b| b == b'.').count() <= 1
        && v != ".";
    if !ok {
        return None;
    }
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

pub fn bad_value(name: &str, value: &str, expected: &str) -> RequestError {
    RequestError::syntax(format!(
        "invalid value '{}' for {name}: expected {expected}",
        truncate(value, 40)
    ))
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_rejects_duplicates() {
        let p = Params::parse("LS_a=1&LS_b=x%20y&&LS_c=").unwrap();
        assert_eq!(p.get("LS_a"), Some("1"));
        assert_eq!(p.get("LS_b"), Some("x y"));
        assert_eq!(p.get("LS_c"), Some(""));
        let e = Params::parse("LS_a=1&LS_a=2").unwrap_err();
        assert!(e.message.contains("LS_a"), "{}", e.message);
        let e = Params::parse("LS_a").unwrap_err();
        assert_eq!(e.code, 67);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("2.5"), Some(2.5));
        assert_eq!(parse_decimal("10"), Some(10.0));
        assert_eq!(parse_decimal("-1"), None);
        assert_eq!(parse_decimal("1e9"), None);
        assert_eq!(parse_decimal("."), None);
        assert_eq!(parse_u64("0012"), Some(12));
        assert_eq!(parse_u64("99999999999999999999"), None);
    }
}
