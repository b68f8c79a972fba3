//! What metadata adapters may ask of the engine: end a session, end one of
//! its subscriptions (ARI's FST and FUS from a remote adapter).

use crate::{release, Engine};
use shoal_adapter::{AdapterError, ServerControl};
use shoal_protocol::code;
use shoal_protocol::Line;
use std::sync::Weak;

/// The engine as one adapter set's metadata provider sees it: it only
/// reaches sessions of that set.
pub(crate) struct SetControl {
    pub engine: Weak<Engine>,
    pub adapter_set: String,
}

impl SetControl {
    fn session(
        &self,
        session_id: &str,
    ) -> Option<(std::sync::Arc<Engine>, std::sync::Arc<crate::Session>)> {
        let engine = self.engine.upgrade()?;
        let session = engine.session(session_id)?;
        (session.set.name == self.adapter_set).then_some((engine, session))
    }
}

impl ServerControl for SetControl {
    fn force_session_termination(&self, session_id: &str, cause: Option<AdapterError>) -> bool {
        let Some((engine, session)) = self.session(session_id) else {
            return false;
        };
        let (code, message) = match cause {
            Some(e) => (e.code, e.message),
            None => (
                code::CLOSED_BY_SERVER,
                "session closed by the metadata adapter".to_owned(),
            ),
        };
        tracing::info!(adapter_set = %self.adapter_set, session = %session_id, code, "metadata adapter ends a session");
        engine.close(&session, code, &message);
        true
    }

    fn force_unsubscription(&self, session_id: &str, win_index: u32) -> bool {
        let Some((_, session)) = self.session(session_id) else {
            return false;
        };
        let Some(sub) = session.state.lock().remove_sub(win_index) else {
            return false;
        };
        tracing::info!(adapter_set = %self.adapter_set, session = %session_id, sub = win_index, "metadata adapter ends a subscription");
        let line = Line::Unsub(win_index).to_line();
        session.push_counted(
            line.clone(),
            shoal_handoff::LineKind::Unsub {
                sub: win_index,
                line,
            },
        );
        release(&session, sub);
        true
    }
}
