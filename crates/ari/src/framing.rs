//! Cutting a byte stream into ARI lines.
//!
//! Remotes end lines with `\n` (Node) or `\r\n` (Python, Java); any run of
//! `\r` before the `\n` is dropped, and empty lines are skipped, as the SDKs
//! themselves do. A UTF-8 byte order mark may open the stream.
//!
//! Memory is bounded: a line longer than [`LineReader::max_line`] is an
//! error, reported as soon as it is certain, before the line is complete.
//! After any error the reader stays failed: the connection should be closed.

/// The default longest line, in bytes, not counting the line end.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Bytes an unterminated tail may hold beyond the maximum: a BOM and a `\r`.
const SLACK: usize = BOM.len() + 1;

/// A stream cannot be cut into lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A line (complete or not yet) exceeds the configured maximum.
    #[error("line {line} is longer than {max} bytes")]
    LineTooLong { line: u64, max: usize },
    /// A line is not UTF-8.
    #[error("line {line} is not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 { line: u64, valid_up_to: usize },
    /// An earlier error made the stream unusable.
    #[error("the stream already failed")]
    Failed,
}

/// A sans-IO line reader: [`feed`](Self::feed) it the bytes read from the
/// socket, then take every complete line with
/// [`next_line`](Self::next_line) until it returns `Ok(None)`.
///
/// ```
/// use shoal_ari::LineReader;
/// let mut reader = LineReader::new();
/// reader.feed(b"KEEPALIVE\r\n17|SUB|").unwrap();
/// assert_eq!(reader.next_line().unwrap(), Some("KEEPALIVE"));
/// assert_eq!(reader.next_line().unwrap(), None);
/// reader.feed(b"V\n").unwrap();
/// assert_eq!(reader.next_line().unwrap(), Some("17|SUB|V"));
/// ```
#[derive(Debug)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Start of the bytes not yet returned.
    start: usize,
    /// Bytes before this offset hold no `\n` (a scan resumes from here).
    scanned: usize,
    max_line: usize,
    /// Lines returned so far (for error messages), and whether the BOM
    /// check is still due.
    lines: u64,
    at_stream_start: bool,
    failed: bool,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// A reader with the default maximum line length.
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A reader refusing lines longer than `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        LineReader {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_line,
            lines: 0,
            at_stream_start: true,
            failed: false,
        }
    }

    /// The longest accepted line.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes buffered and not yet returned as lines.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes read from the connection.
    ///
    /// Fails when the unterminated tail now exceeds the maximum line length:
    /// then nothing more can be read from this stream.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.failed {
            return Err(FrameError::Failed);
        }
        // Drop what was already returned before growing the buffer.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        // Length of the tail after the last line end, once `bytes` is added.
        let tail = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => bytes.len() - i - 1,
            None => self.buf.len() + bytes.len(),
        };
        // A BOM and the `\r` of a coming `\r\n` do not count against the limit.
        if tail > self.max_line + SLACK {
            return Err(self.fail(FrameError::LineTooLong {
                line: self.lines + 1,
                max: self.max_line,
            }));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete line, without its line end; `Ok(None)` when more
    /// bytes are needed.
    pub fn next_line(&mut self) -> Result<Option<&str>, FrameError> {
        if self.failed {
            return Err(FrameError::Failed);
        }
        loop {
            let Some(nl) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                return Ok(None);
            };
            let end = self.scanned + nl;
            let begin = self.start;
            self.start = end + 1;
            self.scanned = self.start;
            let mut line = &self.buf[begin..end];
            while let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if self.at_stream_start && !line.is_empty() {
                self.at_stream_start = false;
                line = line.strip_prefix(BOM).unwrap_or(line);
            }
            if line.is_empty() {
                continue;
            }
            self.lines += 1;
            let number = self.lines;
            if line.len() > self.max_line {
                self.failed = true;
                return Err(FrameError::LineTooLong {
                    line: number,
                    max: self.max_line,
                });
            }
            return match std::str::from_utf8(line) {
                Ok(text) => Ok(Some(text)),
                Err(e) => {
                    self.failed = true;
                    Err(FrameError::InvalidUtf8 {
                        line: number,
                        valid_up_to: e.valid_up_to(),
                    })
                }
            };
        }
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = true;
        self.buf = Vec::new();
        self.start = 0;
        self.scanned = 0;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(reader: &mut LineReader) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = reader.next_line().unwrap() {
            out.push(l.to_owned());
        }
        out
    }

    #[test]
    fn accepts_lf_crlf_bom_and_skips_empty_lines() {
        let mut r = LineReader::new();
        r.feed(b"\xEF\xBB\xBF1|RAC|S|a|S|b\r\r\n\n\r\nKEEPALIVE\n")
            .unwrap();
        assert_eq!(lines(&mut r), ["1|RAC|S|a|S|b", "KEEPALIVE"]);
    }

    #[test]
    fn bom_split_across_feeds_and_only_at_start() {
        let mut r = LineReader::new();
        r.feed(b"\xEF").unwrap();
        r.feed(b"\xBB\xBFA|B\n\xEF\xBB\xBFC|D\n").unwrap();
        assert_eq!(lines(&mut r), ["A|B", "\u{FEFF}C|D"]);
    }

    #[test]
    fn lines_split_byte_by_byte() {
        let mut r = LineReader::new();
        let mut got = Vec::new();
        for b in b"12|SUB|V\r\n13|USB|V\n" {
            r.feed(&[*b]).unwrap();
            got.extend(lines(&mut r));
        }
        assert_eq!(got, ["12|SUB|V", "13|USB|V"]);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn over_long_lines_fail_before_they_end() {
        let mut r = LineReader::with_max_line(8);
        r.feed(b"12345678\r\n").unwrap();
        assert_eq!(lines(&mut r), ["12345678"]);
        r.feed(b"123456").unwrap();
        let e = r.feed(b"7890123456").unwrap_err();
        assert_eq!(e, FrameError::LineTooLong { line: 2, max: 8 });
        assert_eq!(r.feed(b"\n"), Err(FrameError::Failed));
        assert_eq!(r.next_line(), Err(FrameError::Failed));

        // A long line complete inside one chunk is caught by next_line.
        let mut r = LineReader::with_max_line(4);
        r.feed(b"123456789\nok\n").unwrap();
        assert_eq!(
            r.next_line(),
            Err(FrameError::LineTooLong { line: 1, max: 4 })
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut r = LineReader::new();
        r.feed(b"ok\nA|\xFF\n").unwrap();
        assert_eq!(r.next_line().unwrap(), Some("ok"));
        assert_eq!(
            r.next_line(),
            Err(FrameError::InvalidUtf8 {
                line: 2,
                valid_up_to: 2
            })
        );
    }
}
