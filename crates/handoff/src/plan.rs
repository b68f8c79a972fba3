//! The adopter's side: from a session's journal and the number of counted
//! lines its client has (`LS_recovery_from`), what the client has of every
//! subscription and item, and what it still lacks.
//!
//! The journal is read from the last checkpoint the client has passed. An
//! entry the client has (its first line is at or before `N`) tells what
//! the client has; an entry after `N` tells what the dead node made and
//! the client never got: a subscription whose `SUBOK` it lacks is made
//! again as new, lines to resend are resent, the rest (updates) the adopter
//! sends again from the items themselves.

use crate::record::{Entry, Header, ItemMark, Pos, Rec, SubDef};
use shoal_adapter::Bound;

/// What the adopter does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub header: Header,
    /// Lines the client lacks, sent first, in order (`CONF`, `UNSUB`,
    /// `MSGDONE`, `MSGFAIL`, `OV`).
    pub lines: Vec<String>,
    /// The subscriptions the session goes on with, in the order they were made.
    pub subs: Vec<PlannedSub>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSub {
    pub def: SubDef,
    /// The client never got this subscription's `SUBOK`: it is made again
    /// as new (`SUBOK`, `CONF`, snapshot and all).
    pub fresh: bool,
    /// For a subscription that goes on and is exact (RAW, DISTINCT): each
    /// item's plan. Empty otherwise (MERGE and COMMAND get their current
    /// state).
    pub items: Vec<ItemPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemPlan {
    /// Nothing of the item reached the client: it starts anew (its
    /// snapshot if asked, then live updates).
    Anew,
    /// The client has the item's entries up to a point: the entries after
    /// it follow, then live updates.
    Resume {
        cursor: Cursor,
        /// The snapshot (DISTINCT) is not over: `EOS` follows this entry.
        snapshot_end: Option<Pos>,
        /// The client has values of the item (a first update may be a delta).
        has_values: bool,
    },
}

/// Where the client stands in an item's history: it has `skip` entries
/// counted from `bound` (so those after them are what it lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub bound: Bound,
    pub skip: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the journal has no checkpoint")]
    NoCheckpoint,
    #[error("the journal's entries are out of order")]
    Corrupt,
    #[error("the client is at {asked}, before the oldest point the journal keeps ({oldest})")]
    TooOld { asked: u64, oldest: u64 },
    #[error("the client is at {asked}, past the {known} lines the journal explains")]
    Beyond { asked: u64, known: u64 },
    #[error("the lines of item {item} of subscription {sub} cannot be followed (no positions, or cleared)")]
    Lost { sub: u32, item: u32 },
    #[error(
        "the snapshot of item {item} of subscription {sub} was under way and its end is unknown"
    )]
    SnapshotEnd { sub: u32, item: u32 },
}

/// An item followed from the checkpoint on.
#[derive(Debug, Clone)]
struct Track {
    mark: ItemMark,
    cursor: Option<Cursor>,
}

#[derive(Debug, Clone)]
struct SubTrack {
    def: SubDef,
    fresh: bool,
    items: Vec<Track>,
}

/// The plan for a client that has `n` counted lines of the session whose
/// journal is `entries` (in the order written).
pub fn plan(entries: &[Entry], n: u64) -> Result<Plan, PlanError> {
    // The last checkpoint the client has passed (it covers lines < prog).
    let start = entries
        .iter()
        .rposition(|e| matches!(e.rec, Rec::Checkpoint(_)) && e.prog <= n.saturating_add(1))
        .ok_or_else(|| {
            match entries.iter().find_map(|e| match e.rec {
                Rec::Checkpoint(_) => Some(e.prog.saturating_sub(1)),
                _ => None,
            }) {
                Some(oldest) => PlanError::TooOld { asked: n, oldest },
                None => PlanError::NoCheckpoint,
            }
        })?;
    let (ck_prog, ck) = match entries.get(start) {
        Some(Entry {
            prog,
            rec: Rec::Checkpoint(ck),
        }) => (*prog, ck),
        _ => return Err(PlanError::NoCheckpoint),
    };
    // Entries are written in the order of their lines: a journal that says
    // otherwise was not written by Shoal (or was damaged).
    let rest = entries.get(start + 1..).unwrap_or_default();
    let mut previous = ck_prog;
    for e in rest {
        if e.prog < previous {
            return Err(PlanError::Corrupt);
        }
        previous = e.prog;
    }
    if ck_prog == 0 {
        return Err(PlanError::Corrupt);
    }
    let mut subs: Vec<SubTrack> = ck
        .subs
        .iter()
        .map(|s| SubTrack {
            def: s.def.clone(),
            fresh: false,
            items: s
                .items
                .iter()
                .map(|m| Track {
                    mark: m.clone(),
                    cursor: None,
                })
                .collect(),
        })
        .collect();
    let mut lines = Vec::new();

    // The run the checkpoint leaves open covers the lines up to the first
    // entry after it.
    if let Some((sub, item)) = ck.run {
        let end = rest.first().map_or(u64::MAX, |e| e.prog);
        let got = n.min(end.saturating_sub(1)).saturating_sub(ck_prog - 1);
        if got > 0 {
            let t = track(&mut subs, sub, item).ok_or(PlanError::Lost { sub, item })?;
            let last = t.mark.last.ok_or(PlanError::Lost { sub, item })?;
            t.cursor = Some(Cursor {
                bound: Bound::After(last.0),
                skip: got,
            });
        }
    }
    // Lines the checkpoint leaves open (a run, other lines) go on until
    // the first entry after it.
    let mut known = if ck.run.is_some() || ck.other {
        rest.first().map_or(u64::MAX, |e| e.prog - 1)
    } else {
        ck_prog - 1
    };
    for (i, e) in rest.iter().enumerate() {
        // Where the entry's lines end: before the next entry's first line.
        let last_line = rest.get(i + 1).map_or(u64::MAX, |x| x.prog - 1);
        let received = e.prog <= n;
        match &e.rec {
            Rec::Checkpoint(_) => {}
            Rec::Sub {
                def, conf, starts, ..
            } => {
                known = e.prog.saturating_add(1);
                subs.retain(|s| s.def.sub != def.sub);
                subs.push(SubTrack {
                    def: def.clone(),
                    fresh: !received,
                    items: new_tracks(def, starts),
                });
                if received && n == e.prog {
                    lines.push(conf.clone());
                }
            }
            Rec::Unsub { sub, line } => {
                known = e.prog;
                let fresh = subs.iter().any(|s| s.def.sub == *sub && s.fresh);
                subs.retain(|s| s.def.sub != *sub);
                if !received && !fresh {
                    lines.push(line.clone());
                }
            }
            Rec::Line { text } => {
                known = e.prog;
                if !received {
                    lines.push(text.clone());
                }
            }
            Rec::Run { sub, item, from } if received => {
                known = last_line;
                let got = n.min(last_line).saturating_add(1).saturating_sub(e.prog);
                if let Some(t) = track(&mut subs, *sub, *item).filter(|_| got > 0) {
                    t.mark.sent = true;
                    t.cursor = Some(Cursor {
                        bound: Bound::From(from.0),
                        skip: got,
                    });
                }
            }
            Rec::Eos { sub, item } if received => {
                known = e.prog;
                if let Some(t) = track(&mut subs, *sub, *item) {
                    t.mark.eos = true;
                }
            }
            Rec::Lost { sub, item } if received => {
                known = last_line;
                if let Some(t) = track(&mut subs, *sub, *item) {
                    t.mark.lost = true;
                }
            }
            Rec::Other if received => known = last_line,
            Rec::Run { .. } | Rec::Eos { .. } | Rec::Lost { .. } | Rec::Other => {}
        }
    }
    if n > known {
        return Err(PlanError::Beyond { asked: n, known });
    }
    let subs = subs
        .into_iter()
        .map(|s| {
            let items = if s.fresh || !s.def.is_exact() {
                Vec::new()
            } else {
                s.items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| item_plan(s.def.sub, i, t))
                    .collect::<Result<_, _>>()?
            };
            Ok(PlannedSub {
                def: s.def,
                fresh: s.fresh,
                items,
            })
        })
        .collect::<Result<_, PlanError>>()?;
    Ok(Plan {
        header: ck.header.clone(),
        lines,
        subs,
    })
}

/// The items of a subscription just made: nothing sent, each at its start.
fn new_tracks(def: &SubDef, starts: &[Option<Pos>]) -> Vec<Track> {
    if !def.is_exact() {
        return Vec::new();
    }
    let snapshot = def.mode == "DISTINCT" && def.snapshot != "no";
    starts
        .iter()
        .map(|s| Track {
            mark: ItemMark {
                last: *s,
                sent: false,
                eos: !snapshot,
                start: *s,
                lost: false,
            },
            cursor: None,
        })
        .collect()
}

fn track(subs: &mut [SubTrack], sub: u32, item: u32) -> Option<&mut Track> {
    let s = subs.iter_mut().find(|s| s.def.sub == sub)?;
    s.items.get_mut(usize::try_from(item).ok()?.checked_sub(1)?)
}

fn item_plan(sub: u32, index: usize, t: &Track) -> Result<ItemPlan, PlanError> {
    let item = u32::try_from(index + 1).unwrap_or(u32::MAX);
    if t.mark.lost {
        return Err(PlanError::Lost { sub, item });
    }
    let has_values = t.mark.sent || t.cursor.is_some();
    let snapshot_end = if t.mark.eos {
        None
    } else if has_values {
        Some(t.mark.start.ok_or(PlanError::SnapshotEnd { sub, item })?)
    } else {
        // Nothing of the snapshot reached the client: it gets one anew.
        return Ok(ItemPlan::Anew);
    };
    let cursor = match (t.cursor, t.mark.last) {
        (Some(c), _) => c,
        (None, Some(last)) => Cursor {
            bound: Bound::After(last.0),
            skip: 0,
        },
        (None, None) => return Ok(ItemPlan::Anew),
    };
    Ok(ItemPlan::Resume {
        cursor,
        snapshot_end,
        has_values,
    })
}

#[cfg(test)]
mod tests;
