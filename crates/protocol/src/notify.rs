//! Responses and notifications the server writes, one line each.

use crate::encoding::{push_arg, push_field};
use std::fmt::Write;

/// One field of a real-time update, as the session last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Same as in the previous update of this item: sent as an empty token.
    Unchanged,
    Null,
    Text(&'a str),
    /// The change from the value the client holds, as a diff body (see
    /// [`crate::diff`]): `^P` or `^T` and the body, percent-encoded.
    Diff(crate::diff::DiffKind, &'a str),
}

/// Appends the pipe-separated value list of an update (the last argument of
/// `U`). Runs of unchanged fields are plain empty tokens, which every client
/// version decodes.
pub fn push_values<'a>(out: &mut String, values: impl IntoIterator<Item = Value<'a>>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        match v {
            Value::Unchanged => {}
            Value::Null => out.push('#'),
            Value::Text("") => out.push('$'),
            Value::Text(s) => push_field(out, s),
            Value::Diff(kind, body) => {
                out.push_str(kind.prefix());
                // A body starts with `[` (a patch) or a letter (a count):
                // never with a marker `push_field` would escape.
                push_field(out, body);
            }
        }
    }
}

/// A server line. [`Line::write`] appends it with its CRLF.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Conok {
        session: &'a str,
        request_limit: u64,
        keepalive_ms: u64,
        control_link: Option<&'a str>,
    },
    Conerr {
        code: i32,
        message: &'a str,
    },
    Servname(&'a str),
    ClientIp(&'a str),
    /// kbit/s; `None` is `unlimited`.
    Cons(Option<f64>),
    Sync(u64),
    Prog(u64),
    Noop(&'a str),
    Probe,
    Loop(u64),
    End {
        code: i32,
        message: &'a str,
    },
    /// `None` is the bare `REQOK` of an HTTP heartbeat.
    ReqOk(Option<&'a str>),
    ReqErr {
        req_id: &'a str,
        code: i32,
        message: &'a str,
    },
    Error {
        code: i32,
        message: &'a str,
    },
    WsOk,
    SubOk {
        sub_id: u32,
        items: usize,
        fields: usize,
    },
    SubCmd {
        sub_id: u32,
        items: usize,
        fields: usize,
        key_pos: usize,
        command_pos: usize,
    },
    Unsub(u32),
    Eos {
        sub_id: u32,
        item: usize,
    },
    Cs {
        sub_id: u32,
        item: usize,
    },
    Ov {
        sub_id: u32,
        item: usize,
        lost: u64,
    },
    /// `max_frequency: None` is `unlimited`.
    Conf {
        sub_id: u32,
        max_frequency: Option<f64>,
        filtered: bool,
    },
    MsgDone {
        sequence: Option<&'a str>,
        prog: u64,
        response: &'a str,
    },
    MsgFail {
        sequence: Option<&'a str>,
        prog: u64,
        code: i32,
        message: &'a str,
    },
    /// `values` is already encoded by [`push_values`].
    Update {
        sub_id: u32,
        item: usize,
        values: &'a str,
    },
}

impl Line<'_> {
    /// Data notifications are counted for session recovery (`LS_recovery_from`).
    pub fn is_counted(&self) -> bool {
        matches!(
            self,
            Line::SubOk { .. }
                | Line::SubCmd { .. }
                | Line::Unsub(_)
                | Line::Eos { .. }
                | Line::Cs { .. }
                | Line::Ov { .. }
                | Line::Conf { .. }
                | Line::MsgDone { .. }
                | Line::MsgFail { .. }
                | Line::Update { .. }
        )
    }

    /// Appends the line and its CRLF to `out`.
    pub fn write(&self, out: &mut String) {
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = self.write_fmt(out);
        out.push_str("\r\n");
    }

    pub fn to_line(&self) -> String {
        let mut s = String::with_capacity(32);
        self.write(&mut s);
        s
    }

    fn write_fmt(&self, out: &mut String) -> std::fmt::Result {
        match *self {
            Line::Conok {
                session,
                request_limit,
                keepalive_ms,
                control_link,
            } => {
                out.push_str("CONOK,");
                push_arg(out, session);
                write!(out, ",{request_limit},{keepalive_ms},")?;
                push_arg(out, control_link.unwrap_or("*"));
            }
            Line::Conerr { code, message } => tag_code_msg(out, "CONERR", code, message)?,
            Line::Servname(name) => tag_arg(out, "SERVNAME", name),
            Line::ClientIp(ip) => tag_arg(out, "CLIENTIP", ip),
            Line::Cons(None) => out.push_str("CONS,unlimited"),
            // As the official clients print it back: `40`, `20.1`.
            Line::Cons(Some(kbps)) => write!(out, "CONS,{kbps}")?,
            Line::Sync(s) => write!(out, "SYNC,{s}")?,
            Line::Prog(p) => write!(out, "PROG,{p}")?,
            Line::Noop(text) => tag_arg(out, "NOOP", text),
            Line::Probe => out.push_str("PROBE"),
            Line::Loop(ms) => write!(out, "LOOP,{ms}")?,
            Line::End { code, message } => tag_code_msg(out, "END", code, message)?,
            Line::ReqOk(None) => out.push_str("REQOK"),
            Line::ReqOk(Some(id)) => tag_arg(out, "REQOK", id),
            Line::ReqErr {
                req_id,
                code,
                message,
            } => {
                tag_arg(out, "REQERR", req_id);
                write!(out, ",{code},")?;
                push_arg(out, message);
            }
            Line::Error { code, message } => tag_code_msg(out, "ERROR", code, message)?,
            Line::WsOk => out.push_str("WSOK"),
            Line::SubOk {
                sub_id,
                items,
                fields,
            } => write!(out, "SUBOK,{sub_id},{items},{fields}")?,
            Line::SubCmd {
                sub_id,
                items,
                fields,
                key_pos,
                command_pos,
            } => write!(
                out,
                "SUBCMD,{sub_id},{items},{fields},{key_pos},{command_pos}"
            )?,
            Line::Unsub(id) => write!(out, "UNSUB,{id}")?,
            Line::Eos { sub_id, item } => write!(out, "EOS,{sub_id},{item}")?,
            Line::Cs { sub_id, item } => write!(out, "CS,{sub_id},{item}")?,
            Line::Ov { sub_id, item, lost } => write!(out, "OV,{sub_id},{item},{lost}")?,
            Line::Conf {
                sub_id,
                max_frequency,
                filtered,
            } => {
                write!(out, "CONF,{sub_id},")?;
                match max_frequency {
                    None => out.push_str("unlimited"),
                    Some(f) => push_decimal(out, f)?,
                }
                out.push_str(if filtered { ",filtered" } else { ",unfiltered" });
            }
            Line::MsgDone {
                sequence,
                prog,
                response,
            } => {
                tag_arg(out, "MSGDONE", sequence.unwrap_or("*"));
                write!(out, ",{prog},")?;
                push_arg(out, response);
            }
            Line::MsgFail {
                sequence,
                prog,
                code,
                message,
            } => {
                tag_arg(out, "MSGFAIL", sequence.unwrap_or("*"));
                write!(out, ",{prog},{code},")?;
                push_arg(out, message);
            }
            Line::Update {
                sub_id,
                item,
                values,
            } => {
                // The most frequent line of all: its numbers are written
                // without the formatting machinery.
                out.push_str("U,");
                push_uint(out, u64::from(sub_id));
                out.push(',');
                push_uint(out, item as u64);
                out.push(',');
                out.push_str(values);
            }
        }
        Ok(())
    }
}

fn tag_arg(out: &mut String, tag: &str, arg: &str) {
    out.push_str(tag);
    out.push(',');
    push_arg(out, arg);
}

fn tag_code_msg(out: &mut String, tag: &str, code: i32, message: &str) -> std::fmt::Result {
    write!(out, "{tag},{code},")?;
    push_arg(out, message);
    Ok(())
}

/// Appends the decimal digits of `n`.
fn push_uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // A digit is below 10: the cast cannot truncate.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Decimals always carry a dot (`3.0`, `0.5`), as the specification shows them.
fn push_decimal(out: &mut String, f: f64) -> std::fmt::Result {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        write!(out, "{f:.1}")
    } else {
        write!(out, "{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_numbers_are_written_in_decimal() {
        for (sub_id, item, want) in [
            (0, 0, "U,0,0,v\r\n"),
            (7, 10, "U,7,10,v\r\n"),
            (u32::MAX, usize::MAX, ""),
        ] {
            let line = Line::Update {
                sub_id,
                item,
                values: "v",
            }
            .to_line();
            let want = if want.is_empty() {
                format!("U,{sub_id},{item},v\r\n")
            } else {
                want.to_owned()
            };
            assert_eq!(line, want);
        }
    }

    #[test]
    fn lines_match_the_specification_examples() {
        let cases: Vec<(Line, &str)> = vec![
            (
                Line::Conok {
                    session: "S1",
                    request_limit: 50000,
                    keepalive_ms: 5000,
                    control_link: None,
                },
                "CONOK,S1,50000,5000,*",
            ),
            (
                Line::Conerr {
                    code: 2,
                    message: "Requested Adapter Set not available",
                },
                "CONERR,2,Requested Adapter Set not available",
            ),
            (
                Line::SubCmd {
                    sub_id: 3,
                    items: 1,
                    fields: 10,
                    key_pos: 1,
                    command_pos: 2,
                },
                "SUBCMD,3,1,10,1,2",
            ),
            (
                Line::Conf {
                    sub_id: 3,
                    max_frequency: Some(3.0),
                    filtered: true,
                },
                "CONF,3,3.0,filtered",
            ),
            (
                Line::MsgDone {
                    sequence: None,
                    prog: 2,
                    response: "",
                },
                "MSGDONE,*,2,",
            ),
            (
                Line::MsgFail {
                    sequence: Some("CHAT"),
                    prog: 4,
                    code: 38,
                    message: "skipped, by timeout",
                },
                "MSGFAIL,CHAT,4,38,skipped%2C by timeout",
            ),
            (Line::ReqOk(None), "REQOK"),
            (Line::Probe, "PROBE"),
            (Line::Cons(None), "CONS,unlimited"),
            (Line::Cons(Some(40.0)), "CONS,40"),
            (Line::Cons(Some(20.1)), "CONS,20.1"),
        ];
        for (line, text) in cases {
            assert_eq!(line.to_line(), format!("{text}\r\n"));
        }
    }

    #[test]
    fn update_values() {
        let mut s = String::new();
        push_values(
            &mut s,
            [
                Value::Text("20:00:33"),
                Value::Unchanged,
                Value::Null,
                Value::Text(""),
                Value::Text("a|b"),
                Value::Text("#1"),
                Value::Diff(crate::diff::DiffKind::TlcpDiff, "cbx|"),
                Value::Diff(crate::diff::DiffKind::JsonPatch, "[]"),
            ],
        );
        assert_eq!(s, "20:00:33||#|$|a%7Cb|%231|^Tcbx%7C|^P[]");
    }
}
