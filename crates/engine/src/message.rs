//! Client messages (`msg` requests): ordering within a sequence, outcome
//! notifications.

use crate::session::Session;
use shoal_protocol::code;
use shoal_protocol::request::{Msg, RequestError};
use shoal_protocol::Line;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Messages a session may have accepted and not yet processed. Each holds at
/// most one request's text (`<request_limit>`), so a session's messages cost
/// at most this many times that.
pub(crate) const MAX_PENDING_MESSAGES: usize = 64;

/// Messages of one `LS_sequence` are processed one at a time, in progressive
/// order.
#[derive(Debug)]
pub(crate) struct Sequence {
    order: Mutex<Order>,
    turn: Notify,
}

#[derive(Debug)]
struct Order {
    /// The next progressive to process.
    next: u64,
    /// Progressives received and waiting for their turn.
    waiting: BTreeSet<u64>,
}

impl Session {
    fn sequence(&self, name: &str) -> Arc<Sequence> {
        self.sequences
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Sequence {
                    order: Mutex::new(Order {
                        next: 1,
                        waiting: BTreeSet::new(),
                    }),
                    turn: Notify::new(),
                })
            })
            .clone()
    }

    /// Accepts a message: errors that can be told at once are returned (for
    /// `REQERR`); processing and its `MSGDONE`/`MSGFAIL` happen in the background.
    pub async fn accept_message(self: &Arc<Self>, msg: Msg) -> Result<(), RequestError> {
        let seq = match (&msg.sequence, msg.prog) {
            (Some(name), Some(prog)) => {
                let seq = self.sequence(name);
                let mut order = seq.order.lock().await;
                let refusal = if prog < order.next {
                    Some((
                        code::MESSAGE_ALREADY_PROCESSED,
                        "was already processed or skipped",
                    ))
                } else if !order.waiting.insert(prog) {
                    Some((
                        code::MESSAGE_ALREADY_WAITING,
                        "is already waiting for its turn",
                    ))
                } else {
                    None
                };
                if let Some((code, why)) = refusal {
                    return Err(RequestError {
                        code,
                        message: format!("message {prog} of sequence {name} {why}"),
                        req_id: Some(msg.req_id.clone()),
                    });
                }
                drop(order);
                Some(seq)
            }
            _ => None,
        };
        // Room for one more message: waiting here holds the client's
        // connection back (its requests are executed in order) instead of
        // buffering without limit. The semaphore is never closed.
        let Ok(permit) = self.pending_messages.clone().acquire_owned().await else {
            return Ok(());
        };
        let session = self.clone();
        tokio::spawn(async move {
            session.process_message(msg, seq).await;
            drop(permit);
        });
        Ok(())
    }

    async fn process_message(self: Arc<Self>, msg: Msg, seq: Option<Arc<Sequence>>) {
        let max_wait = msg
            .max_wait
            .map(Duration::from_millis)
            .unwrap_or(self.config.message_max_wait)
            .min(self.config.message_max_wait);
        let prog = msg.prog.unwrap_or(0);
        // Wait for our turn in the sequence. After max_wait, the missing
        // progressives before the first one received are skipped.
        if let Some(seq) = &seq {
            let deadline = tokio::time::Instant::now() + max_wait;
            let mut timed_out = false;
            loop {
                let turn = seq.turn.notified();
                tokio::pin!(turn);
                turn.as_mut().enable();
                {
                    let mut order = seq.order.lock().await;
                    if timed_out && order.next < prog {
                        let first = order.waiting.first().copied().unwrap_or(prog);
                        if order.next < first {
                            tracing::info!(session = %self.id, sequence = ?msg.sequence, from = order.next, to = first - 1, "message progressives skipped by timeout");
                            order.next = first;
                            seq.turn.notify_waiters();
                        }
                    }
                    if order.next == prog {
                        order.waiting.remove(&prog);
                        break;
                    }
                }
                if timed_out {
                    turn.await;
                } else if tokio::time::timeout_at(deadline, &mut turn).await.is_err() {
                    timed_out = true;
                }
            }
        }
        let result = self
            .set
            .metadata
            .notify_user_message(&self.info, &msg.message)
            .await
            .map_err(|e| (e.code, e.message));
        self.outcome(&msg, result);
        if let Some(seq) = &seq {
            seq.order.lock().await.next = prog + 1;
            seq.turn.notify_waiters();
        }
    }

    fn outcome(&self, msg: &Msg, result: Result<Option<String>, (i32, String)>) {
        if !msg.outcome {
            return;
        }
        let Some(prog) = msg.prog else {
            return;
        };
        let sequence = msg.sequence.as_deref();
        let line = match &result {
            Ok(response) => Line::MsgDone {
                sequence,
                prog,
                response: response.as_deref().unwrap_or(""),
            },
            Err((code, message)) => Line::MsgFail {
                sequence,
                prog,
                code: *code,
                message,
            },
        };
        if let Err((code, message)) = &result {
            tracing::info!(session = %self.id, code, "message refused: {message}");
        }
        let text = line.to_line();
        self.push_counted(text.clone(), shoal_handoff::LineKind::Resend { text });
    }
}
