//! Control requests: subscribe, unsubscribe, reconfigure, constrain,
//! force a rebind, destroy, and client messages.

use crate::item::Attach;
use crate::subscription::{Dispatch, SubItem, Subscription};
use crate::{release, trace_request, unknown_session, Engine, Refusal};
use shoal_adapter::{ItemData, Mode as AdapterMode, TableInfo};
use shoal_protocol::code;
use shoal_protocol::request::{
    BufferSize, Control, ControlOp, MaxFrequency, Mode, Msg, Snapshot, Subscribe,
};
use shoal_protocol::Line;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn adapter_mode(m: Mode) -> AdapterMode {
    match m {
        Mode::Raw => AdapterMode::Raw,
        Mode::Merge => AdapterMode::Merge,
        Mode::Distinct => AdapterMode::Distinct,
        Mode::Command => AdapterMode::Command,
    }
}

impl Engine {
    /// Runs one control request. `Ok` means `REQOK`; notifications it causes
    /// go to the session's stream.
    pub async fn control(&self, session_id: &str, req: Control) -> Result<(), Refusal> {
        let session = self
            .session(session_id)
            .ok_or_else(|| unknown_session(session_id, "control"))?;
        trace_request("control", session_id);
        let _turn = session.turn.lock().await;
        let subscription = matches!(
            req.op,
            ControlOp::Add(_) | ControlOp::Delete { .. } | ControlOp::Reconf { .. }
        );
        // A constraint is journaled too (a node taking the session over
        // enforces it), but is no backlog to refuse.
        let journaled = subscription || matches!(req.op, ControlOp::Constrain { .. });
        if subscription {
            session.check_backlog()?;
        }
        let done = self.control_op(&session, req).await;
        if journaled && done.is_ok() {
            // Still in the session's turn: the answers keep their order.
            session.journal_settled().await;
        }
        done
    }

    async fn control_op(&self, session: &Arc<crate::Session>, req: Control) -> Result<(), Refusal> {
        match req.op {
            ControlOp::Add(sub) => self.subscribe(session, sub).await,
            ControlOp::Delete { sub_id, .. } => {
                let sub = session.state.lock().remove_sub(sub_id);
                let Some(sub) = sub else {
                    return Err((
                        code::UNKNOWN_SUBSCRIPTION,
                        format!("subscription {sub_id} not found"),
                    ));
                };
                let line = Line::Unsub(sub_id).to_line();
                session.push_counted(
                    line.clone(),
                    shoal_handoff::LineKind::Unsub { sub: sub_id, line },
                );
                release(session, sub);
                Ok(())
            }
            ControlOp::Reconf {
                sub_id,
                max_frequency,
            } => {
                let mut st = session.state.lock();
                let Some(sub) = st.subs.get_mut(&sub_id) else {
                    return Err((
                        code::UNKNOWN_SUBSCRIPTION,
                        format!("subscription {sub_id} not found"),
                    ));
                };
                if !sub.dispatch.filtered {
                    return Err((
                        code::RECONF_UNFILTERED,
                        "the subscription is unfiltered: its frequency cannot change".into(),
                    ));
                }
                if let Some(f) = max_frequency {
                    // The metadata's per-item limit still applies.
                    let asked = match f {
                        MaxFrequency::PerSecond(f) => Some(f),
                        _ => None,
                    };
                    let freq = stricter(asked, sub.dispatch.metadata_max_frequency);
                    sub.dispatch.min_interval =
                        freq.and_then(|f| min_interval(MaxFrequency::PerSecond(f)));
                }
                let line = Line::Conf {
                    sub_id,
                    max_frequency: sub.dispatch.max_frequency(),
                    filtered: true,
                }
                .to_line();
                drop(st);
                session.push_counted(line.clone(), shoal_handoff::LineKind::Resend { text: line });
                Ok(())
            }
            ControlOp::Constrain { max_bandwidth } => {
                // Absent: no change, and the limit is announced again.
                if let Some(asked) = max_bandwidth {
                    let now = tokio::time::Instant::now();
                    let mut st = session.state.lock();
                    st.bandwidth.request(asked, now);
                    let prog = st.log.prog;
                    if let Some(j) = st.journal.as_mut() {
                        j.bandwidth_requested(asked, prog, now.into_std());
                        session.ask_flush(&mut st);
                    }
                }
                session.push_cons();
                Ok(())
            }
            ControlOp::ForceRebind { close_socket, .. } => {
                let mut st = session.state.lock();
                st.force_loop = true;
                st.close_socket = close_socket;
                crate::session::unlock_and_wake(st);
                Ok(())
            }
            ControlOp::Destroy {
                cause_code,
                cause_message,
                close_socket,
            } => {
                session.state.lock().close_socket = close_socket;
                let (code, msg) = match cause_code {
                    Some(c) => (c, cause_message.unwrap_or_else(|| "null".into())),
                    None => (code::DESTROYED_BY_CLIENT, "destroyed by the client".into()),
                };
                self.close(session, code, &msg);
                Ok(())
            }
        }
    }

    /// Accepts a client message (`msg`); its outcome follows on the stream.
    pub async fn message(&self, session_id: &str, msg: Msg) -> Result<(), Refusal> {
        let session = self
            .session(session_id)
            .ok_or_else(|| unknown_session(session_id, "msg"))?;
        trace_request("msg", session_id);
        let _turn = session.turn.lock().await;
        session.check_backlog()?;
        session
            .accept_message(msg)
            .await
            .map_err(|e| (e.code, e.message))
    }

    /// A heartbeat keeps nothing alive by itself beyond proving the client is
    /// there; unknown sessions are not an error (as the protocol says).
    pub fn heartbeat(&self, _session_id: Option<&str>) {}

    async fn subscribe(&self, session: &Arc<crate::Session>, s: Subscribe) -> Result<(), Refusal> {
        {
            let st = session.state.lock();
            if let Some(held) = st.subs.get(&s.sub_id) {
                // A session taken over from another node: its client sends
                // again the subscriptions it had no answer for, which the
                // other node may have made already. The same one again is
                // accepted as it stands.
                let t = &held.table;
                let adapter = s.data_adapter.as_deref().unwrap_or("DEFAULT");
                if st.adopted
                    && t.group == s.group
                    && t.schema == s.schema
                    && t.data_adapter == adapter
                    && t.mode == adapter_mode(s.mode)
                {
                    return Ok(());
                }
                return Err((
                    code::BAD_PARAMETER,
                    format!("LS_subId {} is already in use", s.sub_id),
                ));
            }
            self.check_subscription_count(st.subs.len())?;
        }
        let set = session.set.clone();
        let adapter = s.data_adapter.as_deref().unwrap_or("DEFAULT");
        let hub = set.hubs.get(adapter).cloned().ok_or_else(|| {
            (
                code::UNKNOWN_DATA_ADAPTER,
                format!("no data adapter '{adapter}' in adapter set '{}'", set.name),
            )
        })?;
        let md = &set.metadata;
        let err = |e: shoal_adapter::AdapterError| (e.code, e.message);
        // A group the metadata adapter resolves to no items is a table of
        // none: `SUBOK,<id>,0,<fields>`, as Lightstreamer answers (the
        // official clients then report their own error 61, the count not
        // being the one they expected).
        let items = md.get_items(&session.info, &s.group).await.map_err(err)?;
        let fields = md
            .get_schema(&session.info, &s.group, &s.schema)
            .await
            .map_err(err)?;
        if fields.is_empty() {
            return Err((
                code::BAD_SCHEMA,
                format!("schema '{}' has no fields", s.schema),
            ));
        }
        if s.mode == Mode::Command {
            let has = |name: &str| fields.iter().any(|f| f == name);
            if !has("key") {
                return Err((
                    code::COMMAND_NO_KEY,
                    "COMMAND mode needs a 'key' field in the schema".to_owned(),
                ));
            }
            if !has("command") {
                return Err((
                    code::COMMAND_NO_COMMAND,
                    "COMMAND mode needs a 'command' field in the schema".to_owned(),
                ));
            }
        }
        let mode = adapter_mode(s.mode);
        let data = md
            .item_data(&session.info, adapter, &items)
            .await
            .map_err(err)?;
        if data.len() != items.len() {
            tracing::warn!(adapter_set = %set.name, items = items.len(), answers = data.len(), "metadata adapter: item data do not match the items asked for");
            return Err((
                code::BAD_GROUP,
                "the metadata adapter gave no data for some items of the group".to_owned(),
            ));
        }
        if let Some((item, _)) = items
            .iter()
            .zip(&data)
            .find(|(_, d)| !d.allowed_modes.contains(mode))
        {
            // The official clients show the message as it is: the same
            // words as Lightstreamer's; the log names the item.
            tracing::debug!(session = %session.id, item = %item, mode = s.mode.as_str(), "subscription refused: mode not allowed for the item");
            return Err((
                code::MODE_NOT_ALLOWED,
                "Invalid mode for these items".to_owned(),
            ));
        }
        let table = table_info(&s, adapter, &items);
        md.notify_new_tables(&session.info, std::slice::from_ref(&*table))
            .await
            .map_err(err)?;
        let dispatch = self.dispatch_for(&s, &data);

        // One upstream subscription per item, shared by all sessions.
        let acquired = match acquire_all(&hub, &items) {
            Ok(a) => a,
            Err(e) => {
                md.notify_tables_close(&session.id, std::slice::from_ref(&*table));
                return Err(e);
            }
        };
        let sub_items: Vec<SubItem> = acquired
            .iter()
            .map(|item| SubItem::new(item.clone(), item.schema(&fields)))
            .collect();
        let (head, conf) = confirmation(&s, items.len(), &fields, &dispatch);
        {
            let mut st = session.state.lock();
            let refused = if st.closed.is_some() || st.subs.contains_key(&s.sub_id) {
                Some((
                    code::BAD_PARAMETER,
                    format!("LS_subId {} is already in use", s.sub_id),
                ))
            } else {
                // Subscriptions requested together may all have passed the
                // first check.
                self.check_subscription_count(st.subs.len()).err()
            };
            if let Some(refusal) = refused {
                drop(st);
                for item in &acquired {
                    hub.release(item);
                }
                md.notify_tables_close(&session.id, std::slice::from_ref(&*table));
                return Err(refusal);
            }
            // Not confirmed yet: its items may queue updates from now on,
            // and the stream sends none of them before SUBOK (below).
            st.add_sub(Subscription {
                sub_id: s.sub_id,
                dispatch,
                items: sub_items,
                hub: hub.clone(),
                table,
                confirmed: false,
            });
        }
        let (snapshot, asked_len) = match s.snapshot {
            Snapshot::No => (false, 0),
            Snapshot::Yes => (true, usize::MAX),
            Snapshot::Length(n) => (true, usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let mut starts = Vec::with_capacity(acquired.len());
        for (i, (item, d)) in acquired.iter().zip(&data).enumerate() {
            let snapshot_len = snapshot_length(asked_len, d, item);
            starts.push(item.attach(
                session,
                Attach {
                    sub_id: s.sub_id,
                    item_index: i + 1,
                    mode,
                    snapshot,
                    snapshot_len,
                },
            ));
        }
        // SUBOK once every item has its subscriber: an update the client
        // may expect after SUBOK (its adapter sent it after seeing the
        // subscribe) cannot come before the item knows the subscription.
        {
            let mut st = session.state.lock();
            // The session may have ended meanwhile (its subscriptions were
            // released with it).
            if let Some(sub) = st.subs.get_mut(&s.sub_id) {
                sub.confirmed = true;
                let now = tokio::time::Instant::now();
                st.log.push(&head, now);
                st.log.push(&conf, now);
                let prog = st.log.prog - 1;
                if let Some(j) = st.journal.as_mut() {
                    j.note(
                        prog,
                        shoal_handoff::LineKind::Sub {
                            def: Box::new(shoal_handoff::SubDef::new(&s, &items, &fields)),
                            head,
                            conf,
                            starts,
                        },
                    );
                }
                session.ask_flush(&mut st);
            }
        }
        session.wake_stream();
        tracing::debug!(session = %session.id, sub = s.sub_id, mode = s.mode.as_str(), items = items.len(), "subscribed");
        Ok(())
    }

    fn check_subscription_count(&self, held: usize) -> Result<(), Refusal> {
        let max = self.config.max_subscriptions;
        if held >= max {
            return Err((
                code::INTERNAL_LIMIT,
                format!("this session already holds the most subscriptions allowed ({max})"),
            ));
        }
        Ok(())
    }

    pub(crate) fn dispatch_for(&self, s: &Subscribe, limits: &[ItemData]) -> Dispatch {
        let filtered = s.max_frequency != MaxFrequency::Unfiltered && s.mode != Mode::Raw;
        // The strictest per-item frequency limit of the metadata applies.
        let md_freq = limits
            .iter()
            .filter_map(|l| l.max_frequency)
            .fold(None, |acc: Option<f64>, f| {
                Some(acc.map_or(f, |a| a.min(f)))
            });
        let asked = match s.max_frequency {
            MaxFrequency::PerSecond(f) => Some(f),
            _ => None,
        };
        let freq = stricter(asked, md_freq);
        let cap = self.config.max_buffer;
        let md_buffer = limits.iter().filter_map(|l| l.max_buffer_size).min();
        let asked_buffer = match (s.mode, s.buffer_size) {
            (_, Some(BufferSize::Events(n))) if filtered => usize::try_from(n).unwrap_or(cap),
            (Mode::Merge, None) if filtered => 1,
            _ => cap,
        };
        // Not clamp(): it panics when a configuration gives a cap of 0.
        let mut buffer = asked_buffer.min(cap).max(1);
        if let Some(m) = md_buffer {
            buffer = buffer.min(usize::try_from(m).unwrap_or(cap).max(1));
        }
        Dispatch {
            mode: adapter_mode(s.mode),
            filtered,
            min_interval: if filtered {
                freq.and_then(|f| min_interval(MaxFrequency::PerSecond(f)))
            } else {
                None
            },
            buffer,
            // Per-key coalescing bounds a COMMAND queue by the item's keys;
            // this bounds it whatever their number.
            hard_cap: cap.saturating_mul(2).max(buffer),
            metadata_max_frequency: md_freq,
        }
    }
}

/// The subscription as the metadata adapter is told of it.
pub(crate) fn table_info(s: &Subscribe, adapter: &str, items: &[String]) -> Arc<TableInfo> {
    Arc::new(TableInfo {
        win_index: s.sub_id,
        mode: adapter_mode(s.mode),
        group: s.group.clone(),
        data_adapter: adapter.to_owned(),
        schema: s.schema.clone(),
        first: 1,
        last: items.len(),
        selector: s.selector.clone(),
        items: items.to_vec(),
    })
}

/// A reference on each item of `items` (subscribing upstream the first
/// time); on a refusal, those taken are released.
pub(crate) fn acquire_all(
    hub: &crate::hub::Hub,
    items: &[String],
) -> Result<Vec<Arc<crate::item::Item>>, Refusal> {
    let mut acquired = Vec::with_capacity(items.len());
    for name in items {
        match hub.acquire(name) {
            Ok(item) => acquired.push(item),
            Err(e) => {
                for item in &acquired {
                    hub.release(item);
                }
                return Err((e.code, e.message));
            }
        }
    }
    Ok(acquired)
}

/// The DISTINCT snapshot length of an item: the shortest of the client's
/// (`asked`), the metadata adapter's and the item's (the server's, or more
/// if its data provider asked to keep more).
pub(crate) fn snapshot_length(asked: usize, data: &ItemData, item: &crate::item::Item) -> usize {
    let md_len = data
        .distinct_snapshot_length
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    asked.min(md_len).min(item.history_max())
}

/// The `SUBOK` (or `SUBCMD`) and `CONF` lines of a subscription.
pub(crate) fn confirmation(
    s: &Subscribe,
    items: usize,
    fields: &[String],
    dispatch: &Dispatch,
) -> (String, String) {
    let pos = |name: &str| fields.iter().position(|f| f == name).map(|p| p + 1);
    let head = match (s.mode, pos("key"), pos("command")) {
        (Mode::Command, Some(key_pos), Some(command_pos)) => Line::SubCmd {
            sub_id: s.sub_id,
            items,
            fields: fields.len(),
            key_pos,
            command_pos,
        },
        _ => Line::SubOk {
            sub_id: s.sub_id,
            items,
            fields: fields.len(),
        },
    }
    .to_line();
    let conf = Line::Conf {
        sub_id: s.sub_id,
        max_frequency: dispatch.max_frequency(),
        filtered: dispatch.filtered,
    }
    .to_line();
    (head, conf)
}

fn stricter(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The longest wait between two updates of a frequency-limited item: the
/// interval of [`shoal_protocol::request::MIN_MAX_FREQUENCY`] (1000 s).
const MAX_INTERVAL: Duration = Duration::from_secs(1000);

/// The interval between updates at frequency `f`, `None` for no limit.
///
/// Total: every positive frequency, however small (a client's is raised to
/// `MIN_MAX_FREQUENCY` by the parser, a metadata adapter's is not), gives
/// an interval of at most [`MAX_INTERVAL`], so the dispatch may add it to
/// an `Instant` without overflow; a huge one gives zero. A frequency that is
/// not positive (or NaN, from an adapter) sets no limit.
fn min_interval(f: MaxFrequency) -> Option<Duration> {
    match f {
        MaxFrequency::PerSecond(f) if f > 0.0 => {
            Some(Duration::try_from_secs_f64(1.0 / f).map_or(MAX_INTERVAL, |d| d.min(MAX_INTERVAL)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_protocol::request::MIN_MAX_FREQUENCY;

    #[test]
    fn min_interval_is_total_and_bounded() {
        let at = |f: f64| min_interval(MaxFrequency::PerSecond(f));
        assert_eq!(at(2.0), Some(Duration::from_millis(500)));
        assert_eq!(at(MIN_MAX_FREQUENCY), Some(MAX_INTERVAL));
        assert_eq!(at(1e-19), Some(MAX_INTERVAL));
        assert_eq!(at(f64::MIN_POSITIVE), Some(MAX_INTERVAL));
        assert_eq!(at(1e300), Some(Duration::ZERO));
        assert_eq!(at(f64::INFINITY), Some(Duration::ZERO));
        assert_eq!(at(0.0), None);
        assert_eq!(at(-1.0), None);
        assert_eq!(at(f64::NAN), None);
        assert_eq!(min_interval(MaxFrequency::Unlimited), None);
    }
}
