//! Where a data provider keeps the listener the server hands it.

use std::sync::Arc;

use parking_lot::RwLock;
use shoal_adapter::{AdapterError, ItemEventListener};

#[derive(Default)]
pub(crate) struct ListenerSlot(RwLock<Option<Arc<dyn ItemEventListener>>>);

impl ListenerSlot {
    pub(crate) fn set(&self, listener: Arc<dyn ItemEventListener>) {
        *self.0.write() = Some(listener);
    }

    /// A clone of the listener, so callers never hold the lock while calling
    /// into the server.
    pub(crate) fn get(&self) -> Result<Arc<dyn ItemEventListener>, AdapterError> {
        self.0.read().clone().ok_or_else(|| {
            AdapterError::new(-1, "data adapter not ready: set_listener was not called")
        })
    }
}
