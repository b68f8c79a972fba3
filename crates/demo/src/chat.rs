//! `CHAT_ROOM`: the item `chat_room`, one update per `CHAT|<text>` message.
//!
//! Like the classic chat demo there is no snapshot: a client joining sees
//! messages from then on. Messages sent while nobody subscribes are accepted
//! and dropped.

use std::sync::Arc;

use shoal_adapter::{AdapterError, DataProvider, ItemEvent, ItemEventListener, SessionInfo};

use crate::clock;
use crate::emitter::{Emission, Emitter};
use crate::listener::ListenerSlot;

/// The one item of the chat.
pub(crate) const ITEM: &str = "chat_room";

#[derive(Default)]
pub(crate) struct ChatRoom {
    listener: ListenerSlot,
    emitter: Emitter,
}

impl ChatRoom {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits for room in the room's outbox (see [`Emitter::room`]).
    pub(crate) async fn room(&self) {
        self.emitter.room().await;
    }

    /// Broadcasts `text` from `session`; returns whether it was pushed (that
    /// is, whether the room is subscribed).
    pub(crate) fn post(&self, session: &SessionInfo, text: &str) -> bool {
        let event = ItemEvent::new()
            .with("message", text)
            .with("timestamp", clock::hh_mm_ss())
            .with("IP", session.client_ip.clone())
            .with("nick", session.user.as_deref().unwrap_or("anonymous"));
        let pushed = self.emitter.push(
            ITEM,
            Emission::Update {
                event,
                snapshot: false,
            },
        );
        if !pushed {
            tracing::trace!("chat message with nobody subscribed: dropped");
        }
        pushed
    }
}

impl DataProvider for ChatRoom {
    fn set_listener(&self, listener: Arc<dyn ItemEventListener>) {
        self.listener.set(listener);
    }

    fn subscribe(&self, item: &str) -> Result<(), AdapterError> {
        if item != ITEM {
            return Err(AdapterError::bad_group(format!(
                "no such item: {item} (CHAT_ROOM serves chat_room)"
            )));
        }
        self.emitter.open(item, self.listener.get()?)
    }

    fn unsubscribe(&self, item: &str) {
        self.emitter.close(item);
    }

    fn is_snapshot_available(&self, _item: &str) -> bool {
        false
    }
}
