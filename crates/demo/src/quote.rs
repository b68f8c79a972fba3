//! `QUOTE_ADAPTER`: simulated stock quotes for `item1`..`item30`.
//!
//! Each stock's last price follows a random walk pulled gently back towards
//! its reference price, so a long-running demo stays plausible. A quote moves
//! only while subscribed; on subscribe the current state goes out as the
//! snapshot, then changes every 100 ms to 1 s.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shoal_adapter::{AdapterError, DataProvider, ItemEvent, ItemEventListener};
use tokio::sync::Mutex as AsyncMutex;

use crate::clock;
use crate::generator::{Generators, StopToken};
use crate::listener::ListenerSlot;
use crate::stocks::{self, STOCKS};

/// The quote of one stock. Prices are whole cents, so the values sent are
/// exact and never show float noise.
#[derive(Debug, Clone)]
struct Quote {
    name: &'static str,
    reference: i64,
    open: i64,
    last: i64,
    min: i64,
    max: i64,
    bid: i64,
    ask: i64,
    bid_quantity: u32,
    ask_quantity: u32,
    time: String,
}

impl Quote {
    fn new(name: &'static str, reference: i64, rng: &mut impl Rng) -> Self {
        // Open within 2% of yesterday's close, as markets usually do.
        let open = ((reference as f64) * rng.random_range(0.98..=1.02)).round() as i64;
        let open = open.max(1);
        let mut quote = Self {
            name,
            reference,
            open,
            last: open,
            min: open,
            max: open,
            bid: 0,
            ask: 0,
            bid_quantity: 0,
            ask_quantity: 0,
            time: clock::hh_mm_ss(),
        };
        quote.requote(rng);
        quote
    }

    /// Sets bid and ask around the last price with fresh quantities.
    fn requote(&mut self, rng: &mut impl Rng) {
        let spread = (self.last / 1000).max(1);
        self.bid = (self.last - spread).max(1);
        self.ask = self.last + spread;
        self.bid_quantity = rng.random_range(1..=100) * 500;
        self.ask_quantity = rng.random_range(1..=100) * 500;
    }

    /// The whole state, all 12 fields.
    fn snapshot(&self) -> ItemEvent {
        ItemEvent::new()
            .with("stock_name", self.name)
            .with("last_price", cents(self.last))
            .with("time", self.time.clone())
            .with("pct_change", self.pct_change())
            .with("bid_quantity", self.bid_quantity.to_string())
            .with("bid", cents(self.bid))
            .with("ask", cents(self.ask))
            .with("ask_quantity", self.ask_quantity.to_string())
            .with("min", cents(self.min))
            .with("max", cents(self.max))
            .with("ref_price", cents(self.reference))
            .with("open_price", cents(self.open))
    }

    /// Moves the price one step; returns the fields that may have changed.
    fn step(&mut self, rng: &mut impl Rng) -> ItemEvent {
        // Triangular noise of up to +-0.8% plus a 3% pull towards reference.
        let noise = (rng.random::<f64>() + rng.random::<f64>() - 1.0) * 0.008;
        let pull = (self.reference - self.last) as f64 / self.reference as f64 * 0.03;
        self.last = (((self.last as f64) * (1.0 + noise + pull)).round() as i64).max(1);
        self.time = clock::hh_mm_ss();
        self.requote(rng);

        let mut event = ItemEvent::new()
            .with("last_price", cents(self.last))
            .with("time", self.time.clone())
            .with("pct_change", self.pct_change())
            .with("bid_quantity", self.bid_quantity.to_string())
            .with("bid", cents(self.bid))
            .with("ask", cents(self.ask))
            .with("ask_quantity", self.ask_quantity.to_string());
        if self.last < self.min {
            self.min = self.last;
            event.set("min", Some(cents(self.min).into()));
        }
        if self.last > self.max {
            self.max = self.last;
            event.set("max", Some(cents(self.max).into()));
        }
        event
    }

    /// Change from the reference price in percent, two decimals.
    fn pct_change(&self) -> String {
        let hundredths =
            ((self.last - self.reference) as f64 * 10_000.0 / self.reference as f64).round() as i64;
        let sign = if hundredths < 0 { "-" } else { "" };
        let abs = hundredths.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Formats whole cents as `units.cc`.
fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

pub(crate) struct QuoteAdapter {
    listener: ListenerSlot,
    generators: Generators,
    /// One quote per stock. The async lock is held by the item's generator
    /// for its whole life, so a generator started by a quick resubscribe
    /// waits for the previous one to finish: events never interleave.
    quotes: Vec<Arc<AsyncMutex<Quote>>>,
}

impl QuoteAdapter {
    pub(crate) fn new() -> Self {
        let mut rng = rand::rng();
        let quotes = STOCKS
            .iter()
            .map(|&(name, reference)| {
                Arc::new(AsyncMutex::new(Quote::new(name, reference, &mut rng)))
            })
            .collect();
        Self {
            listener: ListenerSlot::default(),
            generators: Generators::default(),
            quotes,
        }
    }
}

impl DataProvider for QuoteAdapter {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        let index = stocks::parse_item(item).ok_or_else(|| {
            AdapterError::bad_group(format!(
                "no such item: {item} (QUOTE_ADAPTER serves item1..item30)"
            ))
        })?;
        let listener = self.listener.get()?;
        let quote = Arc::clone(&self.quotes[index]);
        let name = item.to_owned();
        self.generators
            .start(item, move |stop| run(name, quote, listener, stop))
    }

    fn unsubscribe(&self, item: &str) {
        self.generators.stop(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }
}

async fn run(
    item: String,
    quote: Arc<AsyncMutex<Quote>>,
    listener: Arc<dyn ItemEventListener>,
    mut stop: StopToken,
) {
    let mut quote = tokio::select! {
        biased;
        () = stop.stopped() => return,
        quote = quote.lock_owned() => quote,
    };
    // Seeded from the thread-local generator, which itself is not `Send`.
    let mut rng = StdRng::from_rng(&mut rand::rng());

    listener.update(&item, quote.snapshot(), true);
    listener.end_of_snapshot(&item);
    loop {
        let pause = Duration::from_millis(rng.random_range(100..=1000));
        tokio::select! {
            biased;
            () = stop.stopped() => return,
            () = tokio::time::sleep(pause) => {}
        }
        let event = quote.step(&mut rng);
        listener.update(&item, event, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(cents(0), "0.00");
        assert_eq!(cents(5), "0.05");
        assert_eq!(cents(1234), "12.34");
        assert_eq!(cents(-7), "-0.07");
    }

    #[test]
    fn pct_change_is_signed_with_two_decimals() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut q = Quote::new("X", 10_000, &mut rng);
        q.last = 10_000;
        assert_eq!(q.pct_change(), "0.00");
        q.last = 10_123;
        assert_eq!(q.pct_change(), "1.23");
        q.last = 9_950;
        assert_eq!(q.pct_change(), "-0.50");
        q.last = 9_999; // -0.01%
        assert_eq!(q.pct_change(), "-0.01");
    }

    #[test]
    fn random_walk_stays_plausible() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut q = Quote::new("X", 2_000, &mut rng);
        for _ in 0..100_000 {
            q.step(&mut rng);
            assert!(q.min <= q.last && q.last <= q.max);
            assert!(q.bid < q.ask && q.bid <= q.last && q.last <= q.ask);
        }
        // The pull towards the reference keeps it within a sane band.
        assert!((1_000..=4_000).contains(&q.last), "{}", q.last);
    }

    #[test]
    fn snapshot_has_all_fields() {
        let mut rng = StdRng::seed_from_u64(1);
        let q = Quote::new("X", 2_000, &mut rng);
        assert_eq!(q.snapshot().fields().count(), 12);
    }
}
