//! Session handoff: how a surviving node of a cluster continues, under the
//! same id, a session whose node died, so that its client counts neither a
//! gap nor a duplicate.
//!
//! A client that loses its stream asks to recover with the number of
//! counted notifications it has (`LS_recovery_from=N`). The node that owns a
//! session keeps, in the cluster's broker, just enough to turn that number
//! back into what the client has of every item: a **journal** of
//! [`Entry`]s, one per *change of kind* in the session's sequence of
//! counted lines, not one per update (see [`journal`]):
//!
//! - a [`Rec::Checkpoint`]: the session (its adapter set, user, every
//!   subscription) and, for every item whose updates must arrive exactly
//!   (RAW and DISTINCT, read from a broker), the position of the last
//!   entry sent;
//! - a subscription made ([`Rec::Sub`]) or removed ([`Rec::Unsub`]), a line
//!   to resend as it is ([`Rec::Line`]: a `CONF`, `MSGDONE`...);
//! - a [`Rec::Run`]: from here, the lines are updates of one exact item,
//!   consecutive entries of its broker history from a given position;
//! - [`Rec::Other`]: from here, lines the adopter need not know one by one
//!   (MERGE and COMMAND updates: the adopter sends their current state).
//!
//! A session with one exact item writes a handful of entries in its whole
//! life; a line that starts a new entry is held until the broker has the
//! entry, so that the journal always covers what a client can have.
//!
//! The surviving node reads the journal and computes a [`plan::Plan`]:
//! what the client has of every item at `N`, and what it lacks. Everything
//! here is sans-IO: the broker side is the [`store::Store`] trait,
//! implemented beside the broker feeds.

pub mod journal;
pub mod plan;
pub mod record;
pub mod store;

pub use journal::{Journal, LineKind};
pub use plan::{plan, Cursor, ItemPlan, Plan, PlanError, PlannedSub};

pub use record::{Checkpoint, DecodeError, Entry, Header, ItemMark, Pos, Rec, SubDef, SubState};
pub use store::{Loaded, Store, StoreError, Write};
