//! Whether a JetStream stream still holds every message of an item after
//! the item's last position, so that reading on from there leaves no gap.
//!
//! A stream forgets messages in a few ways: it is deleted and made anew
//! (sequences start again from 1, or its creation time changes, which the
//! control task watches), its limits remove the oldest messages (by count,
//! size or age, for the whole stream or per subject), or someone purges or
//! deletes messages. All but explicit deletes remove the *oldest* messages
//! first, of the stream or of one subject.
//!
//! After an item's last position `p`, the check asks, in order:
//!
//! 1. Is the stream's last sequence below `p`? It was made anew: lost.
//! 2. Is the subject's next message right at `p + 1`? Nothing between:
//!    kept.
//! 3. Is the message at `p` itself still there? Retention removes oldest
//!    first, so everything of the subject after it is there too: kept.
//! 4. Otherwise the subject's next message `n` (or the stream's end) is
//!    further on and `p` is gone. A message of the subject could only have
//!    been in between, so the check counts the stream's messages still
//!    retained between `p` and `n`: if each sequence there is still held
//!    (by other subjects), nothing of the item was removed: kept. A normal
//!    per-subject trim of messages the item had already delivered is not a
//!    loss. If some sequence there is gone, a message of the item may have
//!    been among them, and the item is resynchronised rather than risk a
//!    gap (a message of another subject removed there makes a needless,
//!    harmless resync).

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::{RawMessageErrorKind, Stream};
use async_nats::jetstream::ErrorCode;
use std::time::Duration;

/// How long a counting consumer lives on the server if it is not deleted.
const COUNTER_INACTIVE: Duration = Duration::from_secs(10);

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Continuity {
    /// Every message of the item after its position is still there.
    Kept,
    /// Messages of the item after its position may be gone.
    Lost,
}

/// A query of the check that failed.
#[derive(Debug)]
pub(super) struct CheckError {
    pub what: &'static str,
    pub error: String,
    /// The stream may not be there: the control task checks it again.
    pub recheck_stream: bool,
}

impl CheckError {
    fn new(what: &'static str, e: impl std::fmt::Display, recheck_stream: bool) -> Self {
        Self {
            what,
            error: e.to_string(),
            recheck_stream,
        }
    }
}

fn stream_gone(kind: &RawMessageErrorKind) -> bool {
    matches!(kind, RawMessageErrorKind::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// Whether some sequence strictly between `p` and `end` is no longer in
/// the stream, given how many messages the stream still holds there.
pub(super) fn removed_between(p: u64, end: u64, retained: u64) -> bool {
    let span = end.saturating_sub(p).saturating_sub(1);
    retained < span
}

/// Checks the messages of `subject` after the position `p`.
pub(super) async fn check(
    stream: &Stream<()>,
    subject: &str,
    p: u64,
) -> Result<Continuity, CheckError> {
    let info = stream
        .get_info()
        .await
        // Whatever the failure (the stream deleted among them), the
        // stream is checked again before the item is.
        .map_err(|e| CheckError::new("STREAM.INFO", e, true))?;
    let last = info.state.last_sequence;
    if last < p {
        return Ok(Continuity::Lost);
    }
    let next = match stream
        .get_first_raw_message_by_subject(subject, p + 1)
        .await
    {
        Ok(m) => Some(m.sequence),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => None,
        Err(e) => {
            let gone = stream_gone(&e.kind());
            return Err(CheckError::new("STREAM.MSG.GET", e, gone));
        }
    };
    if next == Some(p + 1) {
        return Ok(Continuity::Kept);
    }
    match stream.get_raw_message(p).await {
        Ok(m) if m.subject.as_str() == subject => return Ok(Continuity::Kept),
        // Another subject at our position: not the stream we read.
        Ok(_) => return Ok(Continuity::Lost),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {}
        Err(e) => {
            let gone = stream_gone(&e.kind());
            return Err(CheckError::new("STREAM.MSG.GET", e, gone));
        }
    }
    let end = next.unwrap_or(last + 1);
    // Counted from p + 1 first: a message added between the two counts
    // can only make a loss appear, never hide one.
    let from_p = retained_from(stream, p + 1).await?;
    let from_end = retained_from(stream, end).await?;
    let retained = from_p.saturating_sub(from_end);
    Ok(if removed_between(p, end, retained) {
        Continuity::Lost
    } else {
        Continuity::Kept
    })
}

/// How many messages the stream holds from sequence `from` on: the
/// pending count of a consumer made to start there, then deleted.
async fn retained_from(stream: &Stream<()>, from: u64) -> Result<u64, CheckError> {
    let config = pull::Config {
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: from,
        },
        ack_policy: AckPolicy::None,
        inactive_threshold: COUNTER_INACTIVE,
        memory_storage: true,
        num_replicas: 1,
        description: Some("shoal: counts retained messages".into()),
        ..Default::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| CheckError::new("CONSUMER.CREATE", e, false))?;
    let info = consumer.cached_info();
    let pending = info.num_pending;
    let _ = stream.delete_consumer(&info.name).await;
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_a_sequence_between_that_the_stream_no_longer_holds() {
        // p = 10, the subject's next message at 14: 11, 12, 13 between.
        assert!(!removed_between(10, 14, 3), "all held by other subjects");
        assert!(removed_between(10, 14, 2), "one of them is gone");
        assert!(!removed_between(10, 11, 0), "nothing between");
        assert!(!removed_between(10, 10, 0));
    }
}
