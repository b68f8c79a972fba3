//! Items fed from a broker that every node of a cluster reads: the
//! built-in data adapters `shoal.redis` (Redis Streams) and `shoal.nats`
//! (NATS JetStream).
//!
//! Item `X` is one ordered history in the broker (the stream
//! `<prefix>X`, or the subject `<prefix>.X`). A node reads an item once,
//! however many of its clients subscribe to it, from the first
//! subscription until a short linger after the last; the engine fans it
//! out. Every event carries the broker's position (a Redis entry id, a
//! JetStream sequence), so every node delivers the same events in the same
//! order, and a node that lost its broker resumes each item where it was.
//!
//! The logic that decides what is read and delivered is sans-IO
//! ([`items`], [`snapshot`], [`entry`]); the broker clients are thin
//! layers on top ([`redis`], [`nats`]), which share how an outage is
//! handled ([`link`]). Nodes sharing a feed's broker also find each other
//! through it ([`presence`]).

pub mod entry;
pub mod handoff;
pub mod items;
pub mod link;
pub mod memory;
pub mod nats;
pub mod presence;
pub mod redis;
pub mod settings;
pub mod snapshot;

pub use settings::{FeedSettings, NatsSettings, PublishAuth};
