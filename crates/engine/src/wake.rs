//! Waiting for a session's wake.
//!
//! A stream leaves its task's waker in the session's state when it finds
//! nothing to send (`State::waker`), under the same lock as that look, and
//! whoever makes something ready takes the waker and wakes it. One stream
//! at a time is bound, so one waker is enough: producing an update costs a
//! `take()` and one wake, and updates that come while the stream is already
//! awake cost nothing more.

use std::future::Future;
use std::task::Poll;

/// Pending on its first poll, ready on the next: what a task that left its
/// waker in a session awaits (it is polled again once woken, and may be
/// polled early by a neighbour in a `select!`; the caller looks at the
/// session again either way).
pub(crate) fn woken() -> impl Future<Output = ()> {
    let mut first = true;
    std::future::poll_fn(move |_| {
        if std::mem::take(&mut first) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
}
