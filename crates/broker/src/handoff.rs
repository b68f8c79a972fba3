//! Session handoff records kept in the feed's broker: the
//! [`shoal_handoff::Store`] of Redis ([`redis`]) and of NATS ([`nats`]),
//! and how both tell whether a node is alive ([`alive`]).

pub mod alive;
pub mod nats;
pub mod redis;
