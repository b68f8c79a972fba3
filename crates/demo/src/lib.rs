//! The embedded `DEMO` adapter set that `shoal serve` offers with no
//! configuration, modelled on Lightstreamer's classic demos.
//!
//! | data adapter        | items                | fields |
//! |---------------------|----------------------|--------|
//! | `QUOTE_ADAPTER`     | `item1`..`item30`    | `stock_name last_price time pct_change bid_quantity bid ask ask_quantity min max ref_price open_price` |
//! | `CHAT_ROOM`         | `chat_room`          | `message timestamp IP nick` |
//! | `PORTFOLIO_ADAPTER` | `portfolio1` (COMMAND) | `key command qty` |
//! | `COUNTER`           | `rate-<N>`, 1..=100000 | `seq ts` |
//!
//! The metadata provider accepts every user, reads group and schema names as
//! space-separated lists, and handles the client messages `CHAT|<text>`,
//! `BUY|<portfolio>|<stock>|<qty>` and `SELL|<portfolio>|<stock>|<qty>`.
//!
//! Generators run as tokio tasks, so `subscribe` must be called from inside
//! a tokio runtime (the server always does); outside one it returns an error.

// Tests may panic on failure; the library itself never unwraps.

use std::collections::HashMap;
use std::sync::Arc;

use shoal_adapter::{AdapterSet, DataProvider};

mod chat;
mod clock;
mod counter;
mod emitter;
mod generator;
mod listener;
mod metadata;
mod portfolio;
mod quote;
mod stocks;

use chat::ChatRoom;
use counter::Counter;
pub use counter::{parse_rate, BadName, MAX_RATE};
/// Chat and portfolio events queued for delivery past which client
/// messages wait.
pub use emitter::OUTBOX_LIMIT;
use metadata::DemoMetadata;
use portfolio::Portfolio;
use quote::QuoteAdapter;

/// Name of the adapter set (`LS_adapter_set`).
pub const ADAPTER_SET: &str = "DEMO";
/// Name of the stock quote data adapter.
pub const QUOTE_ADAPTER: &str = "QUOTE_ADAPTER";
/// Name of the chat data adapter.
pub const CHAT_ROOM: &str = "CHAT_ROOM";
/// Name of the portfolio data adapter.
pub const PORTFOLIO_ADAPTER: &str = "PORTFOLIO_ADAPTER";
/// Name of the fixed-rate counter data adapter.
pub const COUNTER: &str = "COUNTER";

/// Builds a fresh `DEMO` adapter set. Each call has its own state (prices,
/// portfolio, counter sequences), so tests do not interfere.
pub fn adapter_set() -> AdapterSet {
    let chat = Arc::new(ChatRoom::new());
    let portfolio = Arc::new(Portfolio::new());
    // The metadata provider turns client messages into chat posts and
    // portfolio orders, so it shares those two providers.
    let metadata = Arc::new(DemoMetadata::new(Arc::clone(&chat), Arc::clone(&portfolio)));

    let mut data: HashMap<String, Arc<dyn DataProvider>> = HashMap::new();
    data.insert(QUOTE_ADAPTER.to_owned(), Arc::new(QuoteAdapter::new()));
    data.insert(CHAT_ROOM.to_owned(), chat);
    data.insert(PORTFOLIO_ADAPTER.to_owned(), portfolio);
    data.insert(COUNTER.to_owned(), Arc::new(Counter::new()));

    AdapterSet {
        name: ADAPTER_SET.to_owned(),
        metadata,
        data,
        ignores_control_link: false,
    }
}
