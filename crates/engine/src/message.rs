//! Client messages (`msg` requests): ordering within a sequence, outcome
//! notifications.

use crate::session::Session;
use shoal_protocol::request::{Msg, RequestError};
use shoal_protocol::Line;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Messages of one `LS_sequence` are processed one at a time, in progressive
/// order.
#[derive(Debug)]
pub(crate) struct Sequence {
    /// The next progressive to process.
    next: Mutex<u64>,
    turn: Notify,
}

impl Session {
    fn sequence(&self, name: &str) -> Arc<Sequence> {
        self.sequences
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Sequence {
                    next: Mutex::new(1),
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
                if prog < *seq.next.lock().await {
                    return Err(RequestError {
                        code: 32,
                        message: format!(
                            "message {prog} of sequence {name} was already processed or skipped"
                        ),
                        req_id: Some(msg.req_id.clone()),
                    });
                }
                Some(seq)
            }
            _ => None,
        };
        let session = self.clone();
        tokio::spawn(async move { session.process_message(msg, seq).await });
        Ok(())
    }

    async fn process_message(self: Arc<Self>, msg: Msg, seq: Option<Arc<Sequence>>) {
        let max_wait = msg
            .max_wait
            .map(Duration::from_millis)
            .unwrap_or(self.config.message_max_wait)
            .min(self.config.message_max_wait);
        let prog = msg.prog.unwrap_or(0);
        // Wait for our turn in the sequence; a gap is skipped after max_wait.
        let mut guard = None;
        if let Some(seq) = &seq {
            let deadline = tokio::time::Instant::now() + max_wait;
            loop {
                let turn = seq.turn.notified();
                tokio::pin!(turn);
                turn.as_mut().enable();
                let next = seq.next.lock().await;
                if *next == prog {
                    guard = Some(next);
                    break;
                }
                if *next > prog {
                    self.outcome(
                        &msg,
                        Err((32, "progressive already processed or skipped".into())),
                    );
                    return;
                }
                drop(next);
                if tokio::time::timeout_at(deadline, &mut turn).await.is_err() {
                    let mut next = seq.next.lock().await;
                    if *next < prog {
                        tracing::info!(session = %self.id, sequence = ?msg.sequence, from = *next, to = prog - 1, "message progressives skipped by timeout");
                        *next = prog;
                    }
                    if *next == prog {
                        guard = Some(next);
                        break;
                    }
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
        if let (Some(seq), Some(mut next)) = (&seq, guard) {
            *next = prog + 1;
            drop(next);
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
        self.push_counted(line.to_line());
    }
}
