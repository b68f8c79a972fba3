//! Session ids, and what an id tells about where its session was made.
//!
//! An id is `S`, then 8 hex digits naming the engine that issued it (drawn
//! at random when the engine starts: one per node and per run), then 24
//! random hex digits that make it unguessable (knowing an id is enough to
//! control its session).
//!
//! The issuer's part lets a node tell, for a session it does not hold,
//! whether the session was its own (it ended here: `CONERR,20`, as always)
//! or was made elsewhere: on another node of the cluster, which died or
//! which the balancer did not route this request to, or by this node
//! before a restart. A plain `bind_session` (the next poll, a rebind) for
//! such a session is cut instead of refused. The official clients answer a
//! `CONERR,20` to a plain bind by waiting their retry delay (4 s by
//! default) before they open a new session, while a cut connection makes
//! them ask at once to recover the session: that request may reach the
//! node that holds it, and otherwise gets `CONERR,20`, after which the
//! clients open a new session within about 100 ms. Polling clients of a
//! dead node thus move as fast as streaming ones.
//!
//! Once only: a client whose binds keep reaching the wrong node while its
//! recoveries reach the right one (a page that cannot send the balancer's
//! cookie) would otherwise loop, cut and recovered, many times a second.
//! A session's second plain bind here within [`CUT_WINDOW`] gets
//! `CONERR,20`, and the client waits its retry delay as it always did.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Issues the session ids of one engine.
#[derive(Debug)]
pub(crate) struct Issuer {
    tag: u32,
}

/// Characters of an id: `S`, the issuer's 8 digits, 24 random ones.
const ID_LEN: usize = 1 + 8 + 24;

impl Issuer {
    /// An issuer with a tag of its own.
    pub(crate) fn new() -> Self {
        Self {
            tag: rand::random(),
        }
    }

    /// A new session id.
    pub(crate) fn next(&self) -> String {
        let a: u64 = rand::random();
        let b: u32 = rand::random();
        format!("S{:08x}{a:016x}{b:08x}", self.tag)
    }

    /// Whether `id` has the shape of a Shoal session id issued by another
    /// engine (another node, or this one before a restart). Anything else,
    /// an id of this engine or one of no known shape, is not.
    pub(crate) fn issued_elsewhere(&self, id: &str) -> bool {
        let Some(digits) = id.strip_prefix('S') else {
            return false;
        };
        if id.len() != ID_LEN || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
        // The slice is in range and ASCII: the length and digits are checked.
        u32::from_str_radix(&digits[..8], 16).is_ok_and(|tag| tag != self.tag)
    }
}

/// How long a cut is remembered: a second plain bind of the same session
/// within it gets `CONERR,20`.
pub(crate) const CUT_WINDOW: Duration = Duration::from_secs(60);
/// Most sessions remembered; beyond, binds get `CONERR,20` as they did
/// before cuts (bounded memory under a flood of made-up ids).
const MOST_REMEMBERED: usize = 65_536;

/// The sessions whose plain bind this node cut lately.
#[derive(Debug, Default)]
pub(crate) struct RecentCuts {
    at: Mutex<HashMap<String, Instant>>,
}

impl RecentCuts {
    /// Whether a plain bind of `id` may be cut now (it was not within
    /// [`CUT_WINDOW`]), remembering that it was.
    pub(crate) fn first(&self, id: &str, now: Instant) -> bool {
        let mut at = self.at.lock();
        if at.len() >= MOST_REMEMBERED {
            at.retain(|_, t| now.duration_since(*t) < CUT_WINDOW);
        }
        match at.get(id) {
            Some(t) if now.duration_since(*t) < CUT_WINDOW => false,
            _ if at.len() >= MOST_REMEMBERED => false,
            _ => {
                at.insert(id.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_shaped() {
        let issuer = Issuer::new();
        let a = issuer.next();
        let b = issuer.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), ID_LEN);
        assert!(a.starts_with('S'));
        assert_eq!(a[1..9], b[1..9], "one issuer, one tag");
    }

    #[test]
    fn a_session_is_cut_once_per_window_and_memory_stays_bounded() {
        let cuts = RecentCuts::default();
        let t0 = Instant::now();
        assert!(cuts.first("Sa", t0));
        assert!(!cuts.first("Sa", t0 + CUT_WINDOW / 2));
        assert!(cuts.first("Sb", t0 + CUT_WINDOW / 2));
        assert!(cuts.first("Sa", t0 + CUT_WINDOW));
        // Full: no more cuts until old ones expire.
        for i in 0..MOST_REMEMBERED {
            cuts.first(&format!("S{i}"), t0 + CUT_WINDOW);
        }
        assert!(!cuts.first("Snew", t0 + CUT_WINDOW));
        assert!(cuts.at.lock().len() <= MOST_REMEMBERED);
        assert!(cuts.first("Snew", t0 + CUT_WINDOW * 2));
        assert_eq!(cuts.at.lock().len(), 1);
    }

    #[test]
    fn only_well_formed_ids_of_other_issuers_are_from_elsewhere() {
        let here = Issuer { tag: 0x1234_abcd };
        let there = Issuer { tag: 0x1234_abce };
        assert!(!here.issued_elsewhere(&here.next()));
        assert!(here.issued_elsewhere(&there.next()));
        assert!(there.issued_elsewhere(&here.next()));
        // Upper-case digits are still hex.
        assert!(here.issued_elsewhere(&there.next().to_uppercase()));
        // Not the shape of an id: as unknown as ever.
        for id in [
            "",
            "S",
            "Sabc",
            "S0123456789abcdef01234567",
            "X1234abce0123456789abcdef01234567",
            "S1234abcg0123456789abcdef01234567",
            "S1234abce0123456789abcdef012345678",
            "S1234abce0123456789abcdef012345é",
        ] {
            assert!(!here.issued_elsewhere(id), "{id:?}");
        }
    }
}
