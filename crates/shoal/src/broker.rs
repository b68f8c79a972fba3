//! The broker data adapters `shoal.redis` and `shoal.nats` (issue 13):
//! a data provider whose items Shoal reads from a Redis stream or a NATS
//! JetStream subject itself. Not in this build yet: a set that names one
//! fails to start, with a message saying so.

use shoal_adapter::DataProvider;
use shoal_config::BrokerFeed;
use std::sync::Arc;

/// Starts the broker data adapter `name` of the adapter set `set_id`.
pub async fn start(
    set_id: &str,
    name: &str,
    feed: &BrokerFeed,
) -> anyhow::Result<Arc<dyn DataProvider>> {
    anyhow::bail!(
        "the {} data adapter is not available in this build (data provider \"{name}\" of \
         adapter set \"{set_id}\")",
        feed.kind
    )
}
