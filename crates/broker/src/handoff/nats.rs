//! The session handoff store in NATS JetStream key-value buckets.
