//! The broker data adapters `shoal.redis` and `shoal.nats`: a data
//! provider whose items Shoal reads itself from a Redis stream or a NATS
//! JetStream subject that every node of a cluster shares (crate
//! `shoal-broker`).

use crate::discovery::Feed;
use anyhow::Context;
use shoal_adapter::{DataProvider, DiffAlgorithm};
use shoal_broker::{FeedSettings, PublishAuth};
use shoal_config::{BrokerFeed, BrokerKind};
use std::sync::Arc;
use std::time::Duration;

/// Starts the in-memory data adapter `name` of the adapter set `set_id`.
pub fn memory(set_id: &str, name: &str, m: &shoal_config::MemoryFeed) -> Arc<dyn DataProvider> {
    tracing::info!(
        adapter_set = set_id,
        data_adapter = name,
        "shoal.memory: items published to this node"
    );
    shoal_broker::memory::MemoryFeed::new(shoal_broker::memory::MemorySettings {
        name: format!("{set_id}/{name}"),
        snapshot_length: m.snapshot_length,
        max_items: m.max_items,
        publish: auth(&m.publish),
        diff_fields: m
            .diff_fields
            .iter()
            .map(|(field, names)| {
                let algorithms = names.iter().map(|n| match n {
                    shoal_config::DiffAlgorithmName::JsonPatch => DiffAlgorithm::JsonPatch,
                    shoal_config::DiffAlgorithmName::DiffMatchPatch => {
                        DiffAlgorithm::DiffMatchPatch
                    }
                });
                (field.clone(), algorithms.collect())
            })
            .collect(),
    })
}

fn auth(p: &shoal_config::PublishAuth) -> PublishAuth {
    PublishAuth {
        token: p.token.clone(),
        basic: p.basic.clone(),
    }
}

/// How long the start waits for a broker feed's first connection.
const FIRST_CONNECTION_WAIT: Duration = Duration::from_secs(3);

/// The feed's settings from its `adapters.xml` params.
fn settings(set_id: &str, name: &str, feed: &BrokerFeed) -> FeedSettings {
    let mut s = FeedSettings::new(format!("{set_id}/{name}"), feed.url.clone());
    s.username = feed.username.clone();
    s.password = feed.password.clone();
    s.tls_ca_file = feed.tls_ca_file.clone();
    s.prefix = feed.prefix.clone();
    s.snapshot_length = feed.snapshot_length;
    s.command_history_limit = feed.command_history_limit;
    s.max_length = feed.max_length;
    s.linger = Duration::from_millis(feed.linger_millis);
    s.publish = feed.publish.as_ref().map(auth);
    s.healthcheck_requires_broker = feed.healthcheck_requires_broker;
    s
}

/// Starts the broker data adapter `name` of the adapter set `set_id`. The
/// broker need not be reachable yet: the adapter connects, and reconnects,
/// by itself.
pub async fn start(
    set_id: &str,
    name: &str,
    feed: &BrokerFeed,
) -> anyhow::Result<Arc<dyn DataProvider>> {
    let s = settings(set_id, name, feed);
    let what = || {
        format!(
            "{} data provider \"{name}\" of adapter set \"{set_id}\"",
            feed.kind
        )
    };
    let (adapter, up): (Arc<dyn DataProvider>, Box<dyn Fn() -> bool + Send>) = match feed.kind {
        BrokerKind::Redis => {
            let f = shoal_broker::redis::RedisFeed::start(s).with_context(what)?;
            crate::discovery::offer(
                format!("{set_id}/{name}"),
                Feed::Redis(f.clone()),
                feed.session_handoff,
            );
            (f.clone(), Box::new(move || f.is_up()))
        }
        BrokerKind::Nats => {
            // The reader always fills `nats` for shoal.nats; the adapter's
            // defaults would stand in otherwise.
            let nats = match &feed.nats {
                Some(n) => shoal_broker::NatsSettings {
                    stream: n.stream.clone(),
                    create_stream: n.create_stream,
                    token: n.token.clone(),
                    credentials_file: n.credentials_file.clone(),
                },
                None => shoal_broker::NatsSettings::default(),
            };
            let f = shoal_broker::nats::NatsFeed::start(s, nats).with_context(what)?;
            crate::discovery::offer(
                format!("{set_id}/{name}"),
                Feed::Nats(f.clone()),
                feed.session_handoff,
            );
            (f.clone(), Box::new(move || f.is_up()))
        }
    };
    // Give the broker a moment, so that a node that just started serves
    // its feed (and takes publishes) at once; a broker that does not
    // answer is not fatal: the adapter keeps trying, and says so.
    let deadline = tokio::time::Instant::now() + FIRST_CONNECTION_WAIT;
    while !up() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !up() {
        tracing::warn!(adapter_set = set_id, data_adapter = name, url = %feed.display_url(), "the broker does not answer yet: starting without it (its items wait for it)");
    }
    tracing::info!(adapter_set = set_id, data_adapter = name, url = %feed.display_url(), prefix = %feed.prefix, "{} feed started", feed.kind);
    Ok(adapter)
}
