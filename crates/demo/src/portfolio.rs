//! `PORTFOLIO_ADAPTER`: the COMMAND-mode item `portfolio1`, one row per
//! held stock with fields `key` (the stock's item name), `command`, `qty`.
//!
//! The holdings live here for the life of the adapter, subscribed or not;
//! BUY and SELL messages change them and, while subscribed, push ADD, UPDATE
//! or DELETE. The portfolio starts empty, so what a client sees depends only
//! on what clients bought.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use shoal_adapter::{AdapterError, DataProvider, ItemEvent, ItemEventListener};

use crate::emitter::{Emission, Emitter};
use crate::listener::ListenerSlot;
use crate::stocks;

/// The one portfolio.
pub(crate) const ITEM: &str = "portfolio1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Buy,
    Sell,
}

/// Why an order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OrderError {
    #[error("unknown portfolio '{0}': only portfolio1 exists")]
    UnknownPortfolio(String),
    #[error("unknown stock '{0}': expected item1..item30")]
    UnknownStock(String),
    #[error("cannot sell {requested} of {stock}: the portfolio holds {held}")]
    Oversold {
        stock: String,
        held: u64,
        requested: u64,
    },
    #[error("cannot buy {requested} of {stock}: the holding would overflow")]
    Overflow { stock: String, requested: u64 },
    #[error("quantity must be positive")]
    ZeroQuantity,
}

#[derive(Default)]
pub(crate) struct Portfolio {
    listener: ListenerSlot,
    emitter: Emitter,
    /// Quantity held by stock index; no zero entries. A BTreeMap so the
    /// snapshot lists stocks in item order.
    holdings: Mutex<BTreeMap<usize, u64>>,
}

impl Portfolio {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits for room in the portfolio's outbox (see [`Emitter::room`]).
    pub(crate) async fn room(&self) {
        self.emitter.room().await;
    }

    /// Executes an order, pushing the resulting command if subscribed.
    pub(crate) fn order(
        &self,
        portfolio: &str,
        side: Side,
        stock: &str,
        qty: u64,
    ) -> Result<(), OrderError> {
        if portfolio != ITEM {
            return Err(OrderError::UnknownPortfolio(portfolio.to_owned()));
        }
        let index =
            stocks::parse_item(stock).ok_or_else(|| OrderError::UnknownStock(stock.to_owned()))?;
        if qty == 0 {
            return Err(OrderError::ZeroQuantity);
        }
        // The lock covers both the change and the queueing, so events leave
        // in the order the holdings changed.
        let mut holdings = self.holdings.lock();
        let held = holdings.get(&index).copied().unwrap_or(0);
        let now = match side {
            Side::Buy => held.checked_add(qty).ok_or_else(|| OrderError::Overflow {
                stock: stock.to_owned(),
                requested: qty,
            })?,
            Side::Sell => held.checked_sub(qty).ok_or_else(|| OrderError::Oversold {
                stock: stock.to_owned(),
                held,
                requested: qty,
            })?,
        };
        let command = if now == 0 {
            holdings.remove(&index);
            "DELETE"
        } else {
            holdings.insert(index, now);
            if held == 0 {
                "ADD"
            } else {
                "UPDATE"
            }
        };
        let mut event = ItemEvent::new().with("key", stock).with("command", command);
        if now > 0 {
            event.set("qty", Some(now.to_string().into()));
        }
        self.emitter.push(
            ITEM,
            Emission::Update {
                event,
                snapshot: false,
            },
        );
        Ok(())
    }
}

impl DataProvider for Portfolio {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        if item != ITEM {
            return Err(AdapterError::bad_group(format!(
                "no such item: {item} (PORTFOLIO_ADAPTER serves portfolio1)"
            )));
        }
        let listener = self.listener.get()?;
        // Under the holdings lock, so no order slips between the snapshot
        // and the live events that follow it.
        let holdings = self.holdings.lock();
        self.emitter.open(item, listener)?;
        for (&index, &qty) in holdings.iter() {
            let event = ItemEvent::new()
                .with("key", stocks::item_name(index))
                .with("command", "ADD")
                .with("qty", qty.to_string());
            self.emitter.push(
                item,
                Emission::Update {
                    event,
                    snapshot: true,
                },
            );
        }
        self.emitter.push(item, Emission::EndOfSnapshot);
        Ok(())
    }

    fn unsubscribe(&self, item: &str) {
        self.emitter.close(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_change_holdings_without_subscribers() {
        let p = Portfolio::new();
        p.order(ITEM, Side::Buy, "item3", 10).expect("buy");
        p.order(ITEM, Side::Buy, "item3", 5).expect("buy more");
        assert_eq!(
            p.order(ITEM, Side::Sell, "item3", 16),
            Err(OrderError::Oversold {
                stock: "item3".into(),
                held: 15,
                requested: 16
            })
        );
        p.order(ITEM, Side::Sell, "item3", 15).expect("sell all");
        assert!(p.holdings.lock().is_empty());
        assert_eq!(
            p.order("portfolio2", Side::Buy, "item3", 1),
            Err(OrderError::UnknownPortfolio("portfolio2".into()))
        );
        assert_eq!(
            p.order(ITEM, Side::Buy, "item31", 1),
            Err(OrderError::UnknownStock("item31".into()))
        );
        assert_eq!(
            p.order(ITEM, Side::Buy, "item1", 0),
            Err(OrderError::ZeroQuantity)
        );
        p.order(ITEM, Side::Buy, "item1", u64::MAX)
            .expect("buy max");
        assert!(matches!(
            p.order(ITEM, Side::Buy, "item1", 1),
            Err(OrderError::Overflow { .. })
        ));
    }
}
