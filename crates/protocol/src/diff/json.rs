//! JSON Patch (RFC 6902) between two values that are JSON text.
//!
//! A client applies a patch to the field's value parsed as JSON and keeps
//! the result as JSON: the value it then shows is *its own serialization*
//! of that result, not the text the adapter published. So a patch is sent
//! only for values in a form every official client writes back unchanged:
//!
//! - compact: no white space outside strings;
//! - printable ASCII only (the Python client escapes any other character
//!   as `\uXXXX`, the JavaScript one writes it as it is), and no escapes in
//!   strings but `\"` and `\\`;
//! - numbers that every client prints as they are written: integers of at
//!   most 2^53 - 1 (beyond it JavaScript rounds), decimals of at most 15
//!   significant digits between 0.001 and 10^7 without a trailing zero
//!   (Java prints others with an exponent, and `1.0` becomes `1` in
//!   JavaScript); no exponents, no `-0`;
//! - object members with unique names, none of them an array index such
//!   as `"3"` (JavaScript moves those to the front of an object).
//!
//! Objects keep the order of their members in the client: a patch adds a
//! new member at the end, and replaces or removes one in place. The patch
//! is built so that the client's result has the new value's member order,
//! replacing a whole object when that order cannot be reached otherwise.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

/// Largest integer every client holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Most significant digits of a decimal that every client prints back as
/// it was written (a double holds 15 decimal digits exactly).
const MAX_DECIMAL_DIGITS: usize = 15;
/// Most digits before the point of a decimal (Java writes 10^7 and more
/// with an exponent).
const MAX_INTEGER_PART_DIGITS: usize = 7;
/// Most zeros right after the point of a decimal below 1 (Java writes
/// values below 0.001 with an exponent).
const MAX_LEADING_FRACTION_ZEROS: usize = 2;
/// Deepest nesting parsed: deeper values are sent in full.
const MAX_DEPTH: usize = 64;
/// Longest value (bytes) diffed: the work is linear in the length, and
/// bounded so that one event never holds a session long.
const MAX_LEN: usize = 256 * 1024;

/// A JSON value, borrowed from canonical text (see the module
/// documentation): strings and member names keep their escapes, numbers
/// and literals their text, so a value writes back to the text it came from.
#[derive(Debug, Clone, PartialEq)]
enum Json<'a> {
    /// `null`, `true`, `false` or a number.
    Scalar(&'a str),
    /// The contents of a string, between its quotes.
    Str(&'a str),
    Array(Vec<Json<'a>>),
    Object(Vec<(&'a str, Json<'a>)>),
}

/// The JSON Patch turning `old` into `new`, when both are JSON objects or
/// arrays in canonical form; `None` otherwise (the value goes in full).
pub fn json_patch(old: &str, new: &str) -> Option<String> {
    if old.len() > MAX_LEN || new.len() > MAX_LEN {
        return None;
    }
    let old = parse(old)?;
    let new = parse(new)?;
    // A patch replaces members and elements; replacing the whole value
    // (the empty path) is left to the plain encoding.
    let patchable = match (&old, &new) {
        (Json::Array(_), Json::Array(_)) => true,
        (Json::Object(o), Json::Object(n)) => member_order_reachable(o, n),
        _ => false,
    };
    if !patchable {
        return None;
    }
    let mut ops = Ops::default();
    let mut path = String::new();
    diff(&mut path, &old, &new, &mut ops);
    Some(ops.finish())
}

/// Applies a JSON Patch made of `add`, `remove` and `replace` operations
/// (what [`json_patch`] writes) to `old`, as the official clients do: a new
/// member goes at the end of its object. Both must be in the canonical form
/// of the module documentation, as Shoal sends them; `None` otherwise, or
/// when an operation does not apply.
pub fn apply_json_patch(old: &str, patch: &str) -> Option<String> {
    let Json::Array(raw_ops) = parse(patch)? else {
        return None;
    };
    // Every operation read first, its path split into member names and
    // indexes that the document may then borrow as new member names.
    let mut ops = Vec::with_capacity(raw_ops.len());
    for op in raw_ops {
        let Json::Object(members) = op else {
            return None;
        };
        let string = |name: &str| match member(&members, name) {
            Some(Json::Str(s)) => Some(*s),
            _ => None,
        };
        let (kind, path) = (string("op")?, string("path")?);
        let tokens: Vec<String> = path
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        ops.push((kind, tokens, member(&members, "value").cloned()));
    }
    let mut doc = parse(old)?;
    for (kind, tokens, value) in &ops {
        let (last, parents) = tokens.split_last()?;
        let mut at = &mut doc;
        for t in parents {
            at = match at {
                Json::Array(items) => items.get_mut(t.parse::<usize>().ok()?)?,
                Json::Object(m) => &mut m.iter_mut().find(|(k, _)| k == t)?.1,
                _ => return None,
            };
        }
        apply_op(at, kind, last, value.clone())?;
    }
    let mut out = String::new();
    write_json(&mut out, &doc);
    Some(out)
}

fn apply_op<'a>(
    at: &mut Json<'a>,
    kind: &str,
    last: &'a str,
    value: Option<Json<'a>>,
) -> Option<()> {
    match (kind, at) {
        ("add", Json::Array(items)) => {
            let i = last.parse::<usize>().ok().filter(|&i| i <= items.len())?;
            items.insert(i, value?);
        }
        ("remove", Json::Array(items)) => {
            let i = last.parse::<usize>().ok().filter(|&i| i < items.len())?;
            items.remove(i);
        }
        ("replace", Json::Array(items)) => *items.get_mut(last.parse::<usize>().ok()?)? = value?,
        ("add" | "replace", Json::Object(m)) => match m.iter_mut().find(|(k, _)| *k == last) {
            Some(slot) => slot.1 = value?,
            None if kind == "add" => m.push((last, value?)),
            None => return None,
        },
        ("remove", Json::Object(m)) => {
            let i = m.iter().position(|(k, _)| *k == last)?;
            m.remove(i);
        }
        _ => return None,
    }
    Some(())
}

/// The operations of a patch, written as they are decided.
#[derive(Default)]
struct Ops {
    out: String,
}

impl Ops {
    fn op(&mut self, op: &str, path: &str, value: Option<&Json<'_>>) {
        self.out.push(if self.out.is_empty() { '[' } else { ',' });
        // `path` is made of member names in canonical form and indexes, so
        // it needs no escape beyond those the names already have.
        let _ = write!(self.out, r#"{{"op":"{op}","path":"{path}""#);
        if let Some(v) = value {
            self.out.push_str(r#","value":"#);
            write_json(&mut self.out, v);
        }
        self.out.push('}');
    }

    fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('[');
        }
        self.out.push(']');
        self.out
    }
}

/// Appends to `ops` what turns `old` into `new` at `path`.
fn diff(path: &mut String, old: &Json<'_>, new: &Json<'_>, ops: &mut Ops) {
    if old == new {
        return;
    }
    match (old, new) {
        (Json::Object(o), Json::Object(n)) if member_order_reachable(o, n) => {
            diff_object(path, o, n, ops)
        }
        (Json::Array(o), Json::Array(n)) => diff_array(path, o, n, ops),
        _ => ops.op("replace", path, Some(new)),
    }
}

/// Whether patching `old` in place can leave its members in `new`'s
/// order: the client keeps the members both have where they are and adds
/// the others at the end, so `new` must start with the kept members, in
/// their old order.
fn member_order_reachable(old: &[(&str, Json<'_>)], new: &[(&str, Json<'_>)]) -> bool {
    let in_new = names(new);
    let kept: Vec<&str> = old
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| in_new.contains_key(k))
        .collect();
    new.iter().take(kept.len()).map(|(k, _)| *k).eq(kept)
}

/// An object's members by name (objects may be large: no linear search).
fn names<'v, 'a>(members: &'v [(&'a str, Json<'a>)]) -> HashMap<&'a str, &'v Json<'a>> {
    members.iter().map(|(k, v)| (*k, v)).collect()
}

fn member<'v, 'a>(members: &'v [(&'a str, Json<'a>)], name: &str) -> Option<&'v Json<'a>> {
    members.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn diff_object(
    path: &mut String,
    old: &[(&str, Json<'_>)],
    new: &[(&str, Json<'_>)],
    ops: &mut Ops,
) {
    let at = path.len();
    let (in_old, in_new) = (names(old), names(new));
    for (name, _) in old.iter().filter(|(k, _)| !in_new.contains_key(k)) {
        push_token(path, name);
        ops.op("remove", path, None);
        path.truncate(at);
    }
    for (name, value) in new {
        push_token(path, name);
        match in_old.get(name).copied() {
            Some(before) => diff(path, before, value, ops),
            None => ops.op("add", path, Some(value)),
        }
        path.truncate(at);
    }
}

/// Arrays of one length change element by element; otherwise the elements
/// between the common start and the common end are removed (last first,
/// so that indexes stay right) and the new ones inserted.
fn diff_array(path: &mut String, old: &[Json<'_>], new: &[Json<'_>], ops: &mut Ops) {
    let at = path.len();
    if old.len() == new.len() {
        for (i, (o, n)) in old.iter().zip(new).enumerate() {
            let _ = write!(path, "/{i}");
            diff(path, o, n, ops);
            path.truncate(at);
        }
        return;
    }
    let shorter = old.len().min(new.len());
    let head = old.iter().zip(new).take_while(|(o, n)| o == n).count();
    let tail = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(shorter - head)
        .take_while(|(o, n)| o == n)
        .count();
    for i in (head..old.len() - tail).rev() {
        let _ = write!(path, "/{i}");
        ops.op("remove", path, None);
        path.truncate(at);
    }
    for (i, value) in new.iter().enumerate().take(new.len() - tail).skip(head) {
        let _ = write!(path, "/{i}");
        ops.op("add", path, Some(value));
        path.truncate(at);
    }
}

/// Appends a member name to a JSON Pointer (RFC 6901: `~` is `~0`, `/` is
/// `~1`). The name keeps its JSON escapes, which the patch's own string
/// needs too.
fn push_token(path: &mut String, name: &str) {
    path.push('/');
    for c in name.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn write_json(out: &mut String, v: &Json<'_>) {
    match v {
        Json::Scalar(s) => out.push_str(s),
        Json::Str(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(name);
                out.push_str("\":");
                write_json(out, value);
            }
            out.push('}');
        }
    }
}

/// Parses `text` if it is a whole JSON value in canonical form.
fn parse(text: &str) -> Option<Json<'_>> {
    let mut p = Parser { s: text, pos: 0 };
    let v = p.value(0)?;
    (p.pos == text.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    fn value(&mut self, depth: usize) -> Option<Json<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.eat(b']').is_none() {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
                Some(Json::Array(items))
            }
            b'{' => {
                self.pos += 1;
                let mut members: Vec<(&'a str, Json<'a>)> = Vec::new();
                let mut seen = HashSet::new();
                if self.eat(b'}').is_none() {
                    loop {
                        let name = self.string()?;
                        if is_array_index(name) || !seen.insert(name) {
                            return None;
                        }
                        self.eat(b':')?;
                        members.push((name, self.value(depth + 1)?));
                        if self.eat(b',').is_none() {
                            self.eat(b'}')?;
                            break;
                        }
                    }
                }
                Some(Json::Object(members))
            }
            _ => self.scalar().map(Json::Scalar),
        }
    }

    /// A string's contents: printable ASCII, with `\"` and `\\` only.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    self.pos += 1;
                    if !matches!(self.peek()?, b'"' | b'\\') {
                        return None;
                    }
                }
                b' '..=b'~' => {}
                _ => return None,
            }
            self.pos += 1;
        }
        let contents = &self.s[start..self.pos];
        self.pos += 1;
        Some(contents)
    }

    fn scalar(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.')) {
            self.pos += 1;
        }
        let token = &self.s[start..self.pos];
        match token {
            "null" | "true" | "false" => Some(token),
            _ => canonical_number(token).then_some(token),
        }
    }
}

/// `"0"`, `"17"`: names JavaScript orders before the others.
fn is_array_index(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'))
}

/// Whether `token` is a number every client prints back as it is.
fn canonical_number(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let well_formed = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    if !well_formed {
        return false;
    }
    match frac {
        None => {
            // `-0` is read as 0 by some clients and kept by others.
            token != "-0" && int.parse::<u64>().is_ok_and(|n| n <= MAX_SAFE_INTEGER)
        }
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) || f.ends_with('0') {
                return false;
            }
            if int.len() > MAX_INTEGER_PART_DIGITS {
                return false;
            }
            let significant = if int == "0" {
                let zeros = f.bytes().take_while(|&b| b == b'0').count();
                if zeros > MAX_LEADING_FRACTION_ZEROS {
                    return false;
                }
                f.len() - zeros
            } else {
                int.len() + f.len()
            };
            significant <= MAX_DECIMAL_DIGITS
        }
    }
}

#[cfg(test)]
mod tests;
