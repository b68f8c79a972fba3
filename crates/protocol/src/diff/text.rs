//! TLCP-diff: the text of the new value as copies from the old one and
//! additions.
//!
//! A diff is a sequence of counts, read in turn as *copy* (take that many
//! characters of the old value), *add* (take that many characters of the
//! diff itself, which follow the count) and *delete* (skip that many
//! characters of the old value), then copy again, and so on, until the diff
//! ends. Whatever the diff does not copy of the old value is dropped.
//!
//! Counts are written in base 26 with letters as digits: `A`..`Z` for the
//! leading digits and `a`..`z` for the last one, which also ends the number
//! (`0` is `a`, `25` is `z`, `26` is `Ba`).
//!
//! Clients count characters differently: the JavaScript and Java ones in
//! UTF-16 code units, the Python one in code points. They agree only on
//! text made of characters of the Basic Multilingual Plane, so a value with
//! a character past U+FFFF, old or new, gets no TLCP-diff.

use similar::{capture_diff_slices_deadline, Algorithm, DiffTag};
use std::time::{Duration, Instant};

/// Longest value (in characters, old or new) worth diffing: the search for
/// the shortest edit grows with the product of the lengths.
const MAX_CHARS: usize = 16 * 1024;

/// Time the search for a short diff may take; past it a longer (still
/// correct) diff is accepted.
const SEARCH_BUDGET: Duration = Duration::from_millis(2);

/// The radix of a count: the 26 letters of the Latin alphabet.
const RADIX: u32 = 26;

/// The TLCP-diff that turns `old` into `new`, or `None` when one of them
/// has a character outside the Basic Multilingual Plane (or is too long).
pub fn tlcp_diff(old: &str, new: &str) -> Option<String> {
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    if old.len() > MAX_CHARS || new.len() > MAX_CHARS {
        return None;
    }
    if old.iter().chain(&new).any(|&c| u32::from(c) > 0xFFFF) {
        return None;
    }
    let deadline = Instant::now() + SEARCH_BUDGET;
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &old, &new, Some(deadline));
    let mut w = Writer::default();
    for op in &ops {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => w.copy(old_range.len()),
            DiffTag::Insert => w.add(&new[new_range]),
            DiffTag::Delete => w.delete(old_range.len()),
            DiffTag::Replace => {
                w.add(&new[new_range]);
                w.delete(old_range.len());
            }
        }
    }
    Some(w.finish())
}

/// Applies a TLCP-diff to `old`, counting characters as code points (the
/// same as UTF-16 units for the text Shoal diffs); `None` if the diff is
/// malformed or reaches past `old`.
pub fn apply_tlcp_diff(old: &str, diff: &str) -> Option<String> {
    let old: Vec<char> = old.chars().collect();
    let mut diff = diff.chars();
    let mut out = String::new();
    let mut at = 0usize;
    for step in 0usize.. {
        let Some(n) = read_count(&mut diff)? else {
            break;
        };
        match step % 3 {
            0 => {
                out.extend(old.get(at..at.checked_add(n)?)?);
                at += n;
            }
            1 => {
                for _ in 0..n {
                    out.push(diff.next()?);
                }
            }
            _ => at = at.checked_add(n).filter(|&end| end <= old.len())?,
        }
    }
    Some(out)
}

/// The next count of a diff: `Some(None)` at its end, `None` if malformed.
fn read_count(diff: &mut std::str::Chars<'_>) -> Option<Option<usize>> {
    let mut n: usize = 0;
    let mut first = true;
    loop {
        let Some(c) = diff.next() else {
            // The end of the diff comes between counts only.
            return first.then_some(None);
        };
        first = false;
        let (digit, last) = match c {
            'a'..='z' => (u32::from(c) - u32::from('a'), true),
            'A'..='Z' => (u32::from(c) - u32::from('A'), false),
            _ => return None,
        };
        n = n.checked_mul(RADIX as usize)?.checked_add(digit as usize)?;
        if last {
            return Some(Some(n));
        }
    }
}

/// Builds a diff from edits in order, one copy/add/delete step at a time.
#[derive(Default)]
struct Writer {
    out: String,
    copy: usize,
    add: String,
    add_chars: usize,
    delete: usize,
}

impl Writer {
    fn copy(&mut self, n: usize) {
        if self.add_chars > 0 || self.delete > 0 {
            self.flush();
        }
        self.copy += n;
    }

    /// An addition and a deletion at the same place commute: both are
    /// kept in the current step, addition first.
    fn add(&mut self, text: &[char]) {
        self.add.extend(text);
        self.add_chars += text.len();
    }

    fn delete(&mut self, n: usize) {
        self.delete += n;
    }

    /// Writes the current step in full.
    fn flush(&mut self) {
        push_count(&mut self.out, self.copy);
        push_count(&mut self.out, self.add_chars);
        self.out.push_str(&self.add);
        push_count(&mut self.out, self.delete);
        self.copy = 0;
        self.add.clear();
        self.add_chars = 0;
        self.delete = 0;
    }

    /// Writes the last step without what the end of the diff implies:
    /// a final deletion (the uncopied rest is dropped anyway), and an
    /// empty addition after the last copy.
    fn finish(mut self) -> String {
        if self.copy > 0 || self.add_chars > 0 {
            push_count(&mut self.out, self.copy);
        }
        if self.add_chars > 0 {
            push_count(&mut self.out, self.add_chars);
            self.out.push_str(&self.add);
        }
        self.out
    }
}

/// Appends `n` in letter digits.
fn push_count(out: &mut String, n: usize) {
    let mut digits = Vec::new();
    let mut rest = n;
    loop {
        // `rest % RADIX` is below 26, so the cast and the letter are exact.
        digits.push((rest % RADIX as usize) as u8);
        rest /= RADIX as usize;
        if rest == 0 {
            break;
        }
    }
    let last = digits.len() - 1;
    for (i, d) in digits.iter().rev().enumerate() {
        let base = if i == last { b'a' } else { b'A' };
        out.push(char::from(base + d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoder written from the format's description, independent of
    /// the encoder: counts in characters.
    fn apply(old: &str, diff: &str) -> String {
        let old: Vec<char> = old.chars().collect();
        let diff: Vec<char> = diff.chars().collect();
        let (mut d, mut b) = (0, 0);
        let mut out = String::new();
        let count = |d: &mut usize| {
            let mut n = 0usize;
            loop {
                let c = diff[*d];
                *d += 1;
                match c {
                    'a'..='z' => return n * 26 + (c as usize - 'a' as usize),
                    'A'..='Z' => n = n * 26 + (c as usize - 'A' as usize),
                    _ => panic!("{c:?} is no count digit"),
                }
            }
        };
        let mut step = 0;
        while d < diff.len() {
            let n = count(&mut d);
            match step % 3 {
                0 => {
                    out.extend(&old[b..b + n]);
                    b += n;
                }
                1 => {
                    out.extend(&diff[d..d + n]);
                    d += n;
                }
                _ => b += n,
            }
            step += 1;
        }
        out
    }

    #[test]
    fn counts_are_letters_with_a_small_last_digit() {
        let mut s = String::new();
        for n in [0, 1, 25, 26, 27, 26 * 26, 1000] {
            push_count(&mut s, n);
            s.push(' ');
        }
        assert_eq!(s, "a b z Ba Bb BAa BMm ");
    }

    #[test]
    fn diffs_decode_to_the_new_value() {
        let cases = [
            ("hello world", "hello there world"),
            ("abcdef", "abXdef"),
            ("abcdef", "abc"),
            ("abcdef", "def"),
            ("", "new"),
            ("old", ""),
            ("the quick brown fox", "the slow brown dog!"),
            ("été à Paris", "été à Lyon"),
            ("a|b%c", "a|b%c|d"),
        ];
        for (old, new) in cases {
            let diff = tlcp_diff(old, new).unwrap();
            assert_eq!(apply(old, &diff), new, "{old:?} -> {new:?}: {diff:?}");
        }
    }

    #[test]
    fn a_small_change_to_a_long_value_is_short() {
        let old = "x".repeat(200) + "price=10.25";
        let new = "x".repeat(200) + "price=10.50";
        let diff = tlcp_diff(&old, &new).unwrap();
        assert_eq!(apply(&old, &diff), new);
        assert!(diff.len() < 12, "{diff}");
    }

    #[test]
    fn characters_past_the_basic_plane_get_no_diff() {
        assert_eq!(tlcp_diff("smile 😀", "smile 😀!"), None);
        assert_eq!(tlcp_diff("smile", "smile 😀"), None);
        assert!(tlcp_diff("ŝ€ ok", "ŝ€ fine").is_some());
    }

    #[test]
    fn the_decoder_agrees_and_refuses_what_is_malformed() {
        let diff = tlcp_diff("hello world", "hello there world").unwrap();
        assert_eq!(
            apply_tlcp_diff("hello world", &diff).as_deref(),
            Some("hello there world")
        );
        assert_eq!(apply_tlcp_diff("abc", "e"), None); // copies past the end
        assert_eq!(apply_tlcp_diff("abc", "ac"), None); // adds past the end
        assert_eq!(apply_tlcp_diff("abc", "A"), None); // unfinished count
        assert_eq!(apply_tlcp_diff("abc", "b1"), None); // not a digit
        assert_eq!(apply_tlcp_diff("abc", "aaz"), None); // deletes past the end
        assert_eq!(apply_tlcp_diff("abc", "").as_deref(), Some(""));
    }

    proptest::proptest! {
        #[test]
        fn any_text_round_trips(old in "[a-c é€\\|%]{0,40}", new in "[a-c é€\\|%]{0,40}") {
            let diff = tlcp_diff(&old, &new).unwrap();
            proptest::prop_assert_eq!(apply(&old, &diff), new.clone());
            proptest::prop_assert_eq!(apply_tlcp_diff(&old, &diff), Some(new));
        }
    }

    #[test]
    fn long_values_get_no_diff() {
        let long = "y".repeat(MAX_CHARS + 1);
        assert_eq!(tlcp_diff(&long, "y"), None);
    }
}
