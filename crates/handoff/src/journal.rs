//! The owner's side: a session's journal as its counted lines are made.
//!
//! The engine tells the journal of every counted line, in progressive
//! order ([`Journal::note`]). Most lines extend the entry before them (the
//! next update of the same exact item, one more MERGE update); a line that
//! does not starts a new [`Entry`]. A new entry is **held**: no line from
//! its first on may leave the server before the broker has the entry
//! ([`Journal::may_send`]), so whatever a client counted, the journal in
//! the broker explains it. The entries go to the broker in batches
//! ([`Journal::take`], then [`Journal::committed`] or
//! [`Journal::failed`]).
//!
//! **When a write fails** (the broker is unreachable), the journal in the
//! broker stops where it was. Lines go on being held, from the first that
//! the broker lacks, while [`Journal::checkpoint`]s are tried again: the
//! first one written replaces the journal and releases them. So a node
//! that dies during a short outage leaves a journal that still explains
//! what its clients got. An outage longer than [`HOLD_THROUGH_OUTAGE`]
//! must not stall the session for good: [`Journal::give_up`] lets the
//! lines go, without a journal, until a checkpoint is written. A node
//! taking over a session refuses it when the dead node stopped announcing
//! itself longer ago than a journal can be trusted (see the engine's
//! `adopt`), which covers every journal given up.
//!
//! The journal also follows what was sent of every exact item, so that it
//! can write a [`Checkpoint`] by itself: periodically, so that the broker
//! keeps a bounded journal and the positions in it stay within the
//! broker's retention.

use crate::record::{Checkpoint, Entry, Header, ItemMark, Pos, Rec, SubDef, SubState};
use crate::store::Write;
use shoal_adapter::Position;
use std::time::{Duration, Instant};

/// Entries after which a checkpoint is written, to bound the journal.
const CHECKPOINT_ENTRIES: usize = 64;
/// Age of the last checkpoint after which one is written when lines went
/// out since: positions in the journal stay recent.
const CHECKPOINT_AGE: Duration = Duration::from_secs(30);
/// Lines after which a checkpoint is written: an adopter finds where a
/// client stands in a run by reading the run's entries from its start (or
/// from the last checkpoint), so runs are kept short.
const CHECKPOINT_LINES: u64 = 10_000;
/// How long lines are held through a failed write before the session goes
/// on without a journal. A node taking a session over trusts a journal
/// only if its node announced itself less than
/// [`TRUSTED_SILENCE`] before: that is shorter, so that a node that went on
/// past this hold, cut off the broker, was silent longer than that when it
/// died (its announcements to the broker fail as its writes do).
pub const HOLD_THROUGH_OUTAGE: Duration = Duration::from_secs(15);
/// See [`HOLD_THROUGH_OUTAGE`].
pub const TRUSTED_SILENCE: Duration = Duration::from_secs(10);

/// A counted line, as the journal needs to know it.
#[derive(Debug, Clone, PartialEq)]
pub enum LineKind {
    /// An update of item `item` (1-based) of subscription `sub`. For an
    /// exact subscription (RAW, DISTINCT), `seq` is the item's event
    /// sequence (consecutive events make one run) and `position` the
    /// event's place in its broker history.
    Update {
        sub: u32,
        item: u32,
        exact: bool,
        seq: u64,
        position: Option<Position>,
    },
    /// `EOS`, `CS` or `OV` of an item; `text` is the line.
    Eos {
        sub: u32,
        item: u32,
        exact: bool,
    },
    Cs {
        sub: u32,
        item: u32,
        exact: bool,
    },
    Ov {
        sub: u32,
        item: u32,
        exact: bool,
        text: String,
    },
    /// A subscription's `SUBOK`/`SUBCMD` line (`head`) and its `CONF`
    /// line, which follows at once: two lines.
    Sub {
        def: Box<SubDef>,
        head: String,
        conf: String,
        starts: Vec<Option<Position>>,
    },
    Unsub {
        sub: u32,
        line: String,
    },
    /// A line resent as it is: `CONF` after `reconf`, `MSGDONE`, `MSGFAIL`.
    Resend {
        text: String,
    },
}

/// What the last entry is, for the next line to extend it or not.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Current {
    /// The last entry covers a fixed number of lines: the next starts one.
    Closed,
    Run {
        sub: u32,
        item: u32,
        next_seq: u64,
        last: Position,
    },
    Other,
}

#[derive(Debug)]
pub struct Journal {
    header: Header,
    subs: Vec<SubState>,
    /// Entries not yet handed to the store, with whether each holds lines.
    pending: Vec<(Entry, bool)>,
    /// Held lines of the batch in flight (the progressive of its first
    /// holding entry).
    in_flight: Option<u64>,
    current: Current,
    /// The first write replaces whatever the broker had (`create`).
    created: bool,
    /// Entries from the last checkpoint (included) to the end, and from the
    /// one before it.
    from_last_ck: usize,
    from_prev_ck: usize,
    /// A checkpoint is pending: the write trims what precedes the one before.
    trim: bool,
    last_ck: Instant,
    lines_since_ck: u64,
    /// The store failed: nothing is written until a checkpoint starts the
    /// journal again.
    broken: bool,
    /// Since when lines are held through an outage (a write failed, and no
    /// checkpoint was written since), unless given up.
    outage: Option<Instant>,
    /// The first line held through the outage.
    outage_hold: Option<u64>,
    /// The outage lasted too long: lines go, without a journal, until a
    /// checkpoint is written.
    given_up: bool,
    /// The batch in flight replaces the journal (`create`).
    creating: bool,
    /// The owner lost the session to another node.
    disowned: bool,
    /// Entries pushed so far, and how many of them the store is done with
    /// (written, failed, or dropped because the session was lost): see
    /// [`Journal::settled`].
    pushed: u64,
    settled: u64,
    /// `pushed` when the batch in flight was taken.
    in_flight_upto: u64,
}

impl Journal {
    /// A journal for a session whose lines so far (`prog` of them) are
    /// summed up by `header` and `subs` (a new session: none; an adopted
    /// one: what the adopter rebuilt).
    pub fn new(header: Header, subs: Vec<SubState>, prog: u64, now: Instant) -> Self {
        let mut j = Self {
            header,
            subs,
            pending: Vec::new(),
            in_flight: None,
            current: Current::Closed,
            created: false,
            from_last_ck: 0,
            from_prev_ck: 0,
            trim: false,
            last_ck: now,
            lines_since_ck: 0,
            broken: false,
            outage: None,
            outage_hold: None,
            given_up: false,
            creating: false,
            disowned: false,
            pushed: 0,
            settled: 0,
            in_flight_upto: 0,
        };
        j.push_checkpoint(prog, now);
        j
    }

    /// Whether the line of progressive `prog` may leave the server now.
    pub fn may_send(&self, prog: u64) -> bool {
        self.hold_from().is_none_or(|h| prog < h)
    }

    /// The progressive of the first line that must wait, if any.
    pub fn hold_from(&self) -> Option<u64> {
        let pending = self.pending.iter().find(|(_, h)| *h).map(|(e, _)| e.prog);
        [self.in_flight, pending, self.outage_hold]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether entries wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() && self.in_flight.is_none()
    }

    pub fn is_disowned(&self) -> bool {
        self.disowned
    }

    /// A mark of the entries made so far, for [`Journal::settled`].
    pub fn written_mark(&self) -> u64 {
        self.pushed
    }

    /// Whether the store is done with every entry made up to `mark`: they
    /// are in the broker, or their write failed, or the session was taken
    /// over meanwhile (the guarantee is gone either way, and waiting longer
    /// would not bring it back).
    pub fn settled(&self, mark: u64) -> bool {
        self.settled >= mark
    }

    /// Notes the counted line of progressive `prog`.
    pub fn note(&mut self, prog: u64, line: LineKind) {
        self.lines_since_ck += 1;
        match line {
            LineKind::Update {
                sub,
                item,
                exact: true,
                seq,
                position,
            } => match (self.current, position) {
                (
                    Current::Run {
                        sub: s,
                        item: i,
                        next_seq,
                        ..
                    },
                    Some(p),
                ) if s == sub && i == item && next_seq == seq => {
                    self.current = Current::Run {
                        sub,
                        item,
                        next_seq: seq + 1,
                        last: p,
                    };
                }
                (_, Some(p)) => {
                    self.end_run();
                    self.push(
                        prog,
                        Rec::Run {
                            sub,
                            item,
                            from: Pos(p),
                        },
                    );
                    self.current = Current::Run {
                        sub,
                        item,
                        next_seq: seq + 1,
                        last: p,
                    };
                }
                (_, None) => self.lost(prog, sub, item),
            },
            LineKind::Update { exact: false, .. }
            | LineKind::Eos { exact: false, .. }
            | LineKind::Cs { exact: false, .. }
            | LineKind::Ov { exact: false, .. } => {
                if self.current != Current::Other {
                    self.end_run();
                    self.push(prog, Rec::Other);
                    self.current = Current::Other;
                }
            }
            LineKind::Eos { sub, item, .. } => {
                self.end_run();
                if let Some(m) = self.mark(sub, item) {
                    m.eos = true;
                }
                self.push(prog, Rec::Eos { sub, item });
                self.current = Current::Closed;
            }
            LineKind::Cs { sub, item, .. } => self.lost(prog, sub, item),
            LineKind::Ov { text, .. } | LineKind::Resend { text } => {
                self.end_run();
                self.push(prog, Rec::Line { text });
                self.current = Current::Closed;
            }
            LineKind::Sub {
                def,
                head,
                conf,
                starts,
            } => {
                self.end_run();
                let snapshot = def.mode == "DISTINCT" && def.snapshot != "no";
                let items = if def.is_exact() {
                    starts
                        .iter()
                        .map(|s| ItemMark {
                            last: s.map(Pos),
                            sent: false,
                            eos: !snapshot,
                            start: s.map(Pos),
                            lost: false,
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                self.subs.retain(|s| s.def.sub != def.sub);
                self.subs.push(SubState {
                    def: (*def).clone(),
                    items,
                });
                self.push(
                    prog,
                    Rec::Sub {
                        def: *def,
                        head,
                        conf,
                        starts: starts.into_iter().map(|s| s.map(Pos)).collect(),
                    },
                );
                self.current = Current::Closed;
            }
            LineKind::Unsub { sub, line } => {
                self.end_run();
                self.subs.retain(|s| s.def.sub != sub);
                self.push(prog, Rec::Unsub { sub, line });
                self.current = Current::Closed;
            }
        }
    }

    /// An exact item's lines can no longer be followed (until the next
    /// checkpoint).
    fn lost(&mut self, prog: u64, sub: u32, item: u32) {
        self.end_run();
        let first = self.mark(sub, item).is_some_and(|m| {
            let first = !m.lost;
            m.lost = true;
            m.sent = true;
            first
        });
        if first {
            self.push(prog, Rec::Lost { sub, item });
            self.current = Current::Other;
        } else if self.current != Current::Other {
            self.push(prog, Rec::Other);
            self.current = Current::Other;
        }
    }

    /// Folds the run in progress into its item's mark.
    fn end_run(&mut self) {
        if let Current::Run {
            sub, item, last, ..
        } = self.current
        {
            if let Some(m) = self.mark(sub, item) {
                m.last = Some(Pos(last));
                m.sent = true;
            }
        }
    }

    fn mark(&mut self, sub: u32, item: u32) -> Option<&mut ItemMark> {
        let s = self.subs.iter_mut().find(|s| s.def.sub == sub)?;
        s.items.get_mut(usize::try_from(item).ok()?.checked_sub(1)?)
    }

    fn push(&mut self, prog: u64, rec: Rec) {
        let holds = !matches!(rec, Rec::Checkpoint(_));
        if self.broken && holds {
            // Nothing is written until a checkpoint starts the journal
            // again; meanwhile the line waits, unless the outage was given
            // up on.
            if self.outage.is_some() && self.outage_hold.is_none() {
                self.outage_hold = Some(prog);
            }
            return;
        }
        self.pending.push((Entry { prog, rec }, holds));
        self.pushed += 1;
        self.from_last_ck += 1;
        self.from_prev_ck += 1;
    }

    /// Whether a checkpoint is due: the journal grew, or the last one is
    /// old and lines went out since, or the store failed and is back.
    pub fn wants_checkpoint(&self, now: Instant) -> bool {
        self.from_last_ck >= CHECKPOINT_ENTRIES
            || self.broken
            || self.lines_since_ck >= CHECKPOINT_LINES
            || (self.lines_since_ck > 0 && now.duration_since(self.last_ck) >= CHECKPOINT_AGE)
    }

    /// The client asked for another bandwidth (`constrain`), after line
    /// `prog`: a checkpoint carries it at once, so that a node taking the
    /// session over enforces it too. (Constraints are rare: a checkpoint
    /// each costs little.)
    pub fn bandwidth_requested(&mut self, requested: Option<f64>, prog: u64, now: Instant) {
        if self.header.requested_bandwidth != requested {
            self.header.requested_bandwidth = requested;
            self.checkpoint(prog, now);
        }
    }

    /// Writes a checkpoint: the session as it stands after line `prog`.
    pub fn checkpoint(&mut self, prog: u64, now: Instant) {
        self.end_run();
        self.push_checkpoint(prog, now);
    }

    fn push_checkpoint(&mut self, prog: u64, now: Instant) {
        let run = match self.current {
            Current::Run { sub, item, .. } => Some((sub, item)),
            _ => None,
        };
        let ck = Checkpoint {
            header: self.header.clone(),
            subs: self.subs.clone(),
            run,
            other: self.current == Current::Other,
        };
        for s in &mut self.subs {
            for m in &mut s.items {
                m.lost = false;
            }
        }
        if std::mem::take(&mut self.broken) {
            // The journal starts again from this checkpoint alone: the
            // write replaces what the broker has.
            self.created = false;
            self.from_last_ck = 0;
        }
        self.from_prev_ck = self.from_last_ck;
        self.from_last_ck = 0;
        self.push(prog + 1, Rec::Checkpoint(ck));
        self.trim = true;
        self.last_ck = now;
        self.lines_since_ck = 0;
    }

    /// The entries to write now, for session `id`, as one [`Write`]; they
    /// are in flight until [`Journal::committed`] or [`Journal::failed`].
    pub fn take(&mut self, id: &str) -> Option<Write> {
        if self.pending.is_empty() || self.in_flight.is_some() || self.disowned {
            return None;
        }
        self.in_flight = Some(
            self.pending
                .iter()
                .find(|(_, h)| *h)
                .map_or(u64::MAX, |(e, _)| e.prog),
        );
        self.in_flight_upto = self.pushed;
        let entries = self.pending.drain(..).map(|(e, _)| e.encode()).collect();
        let keep = std::mem::take(&mut self.trim).then_some(self.from_prev_ck.max(1));
        let create = !std::mem::replace(&mut self.created, true);
        self.creating = create;
        Some(Write {
            session: id.to_owned(),
            create,
            entries,
            keep,
        })
    }

    /// The broker has the entries in flight; `owned: false` when another
    /// node owns the session now (nothing was written, nothing more will be).
    pub fn committed(&mut self, owned: bool) {
        self.in_flight = None;
        self.settled = self.in_flight_upto;
        if std::mem::take(&mut self.creating) || !owned {
            // A journal started again from a checkpoint that covers every
            // line held through an outage (or the session is lost: its
            // lines may go, nothing will be written).
            self.outage = None;
            self.outage_hold = None;
            self.given_up = false;
        }
        if !owned {
            self.disowned = true;
            self.pending.clear();
            self.settled = self.pushed;
        }
    }

    /// The entries in flight could not be written (at `now`): the lines
    /// they held, and every line that would start an entry, wait until a
    /// checkpoint is written or the outage is given up on
    /// ([`Journal::give_up`]).
    pub fn failed(&mut self, now: Instant) {
        let held = [
            self.in_flight.filter(|p| *p != u64::MAX),
            self.pending.iter().find(|(_, h)| *h).map(|(e, _)| e.prog),
            self.outage_hold,
        ]
        .into_iter()
        .flatten()
        .min();
        self.in_flight = None;
        self.creating = false;
        self.broken = true;
        if !self.given_up {
            self.outage.get_or_insert(now);
            self.outage_hold = held;
        }
        self.pending.clear();
        self.settled = self.pushed;
    }

    /// Lets the lines held through an outage go once it has lasted
    /// [`HOLD_THROUGH_OUTAGE`]; whether it did so now. The session goes on
    /// without a journal until a checkpoint is written.
    pub fn give_up(&mut self, now: Instant) -> bool {
        match self.outage {
            Some(since) if now.duration_since(since) >= HOLD_THROUGH_OUTAGE => {
                self.outage = None;
                self.outage_hold = None;
                self.given_up = true;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
