//! The session handoff store in Redis.
