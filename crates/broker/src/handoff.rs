//! Session handoff records kept in the feed's broker: the
//! [`shoal_handoff::Store`] of Redis ([`redis`]) and of NATS ([`nats`]).

pub mod nats;
pub mod redis;
