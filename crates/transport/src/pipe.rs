//! A small bounded queue between the tasks of one connection (reader ->
//! worker -> writer), for many thousands of mostly idle connections.
//!
//! tokio's `mpsc` channel keeps a block of 32 slots from its creation to its
//! end: with two channels per WebSocket that is about 2 KiB per idle client.
//! This queue holds no buffer while it is empty, and a receiver that finds
//! it empty touches one counter and leaves its waker (no list, no lock).

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use tokio::sync::Notify;

struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    /// Items in `queue`, readable without the lock.
    len: AtomicUsize,
    cap: usize,
    senders: AtomicUsize,
    receiver_gone: AtomicBool,
    /// Wakes the receiver (one task): an item came, or the last sender left.
    to_receiver: AtomicWaker,
    /// Wakes senders: room was made, or the receiver left.
    to_senders: Notify,
}

/// A queue of at most `cap` items; senders wait for room.
pub(crate) fn pipe<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        len: AtomicUsize::new(0),
        cap: cap.max(1),
        senders: AtomicUsize::new(1),
        receiver_gone: AtomicBool::new(false),
        to_receiver: AtomicWaker::new(),
        to_senders: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiver is gone: the item comes back.
#[derive(Debug)]
pub(crate) struct Closed<T>(pub T);

impl<T> Sender<T> {
    /// Queues `item`, waiting while the queue is full.
    pub async fn send(&self, item: T) -> Result<(), Closed<T>> {
        let s = &self.shared;
        loop {
            let room = s.to_senders.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if s.receiver_gone.load(Ordering::Acquire) {
                return Err(Closed(item));
            }
            {
                let mut q = s.queue.lock();
                if q.len() < s.cap {
                    q.push_back(item);
                    s.len.store(q.len(), Ordering::Release);
                    drop(q);
                    s.to_receiver.wake();
                    return Ok(());
                }
            }
            room.await;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::AcqRel);
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.to_receiver.wake();
        }
    }
}

pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item; `None` once the queue is empty and every sender is
    /// gone. Cancel-safe: an item is taken only when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| {
            if let Some(item) = self.try_pop() {
                return Poll::Ready(Some(item));
            }
            // Registered, then checked again: an item queued in between
            // is seen now, one queued after wakes this task.
            self.shared.to_receiver.register(cx.waker());
            if let Some(item) = self.try_pop() {
                return Poll::Ready(Some(item));
            }
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return Poll::Ready(self.try_pop());
            }
            Poll::Pending
        })
        .await
    }

    fn try_pop(&mut self) -> Option<T> {
        let s = &self.shared;
        if s.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = s.queue.lock();
        let item = q.pop_front();
        s.len.store(q.len(), Ordering::Release);
        if q.is_empty() && q.capacity() > 0 {
            // Nothing kept while idle.
            *q = VecDeque::new();
        }
        drop(q);
        if item.is_some() {
            s.to_senders.notify_waiters();
        }
        item
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_gone.store(true, Ordering::Release);
        self.shared.to_senders.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn keeps_order_and_bounds_and_ends() {
        let (tx, mut rx) = pipe::<u32>(2);
        let tx2 = tx.clone();
        let producer = tokio::spawn(async move {
            for i in 0..100 {
                tx2.send(i).await.map_err(|_| "closed")?;
            }
            Ok::<_, &str>(())
        });
        // The producer fills the queue and waits: never more than 2 queued.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(rx.shared.len.load(Ordering::Acquire), 2);
        drop(tx);
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(producer.await.ok(), Some(Ok(())));
    }

    #[tokio::test]
    async fn a_sender_learns_that_the_receiver_left() {
        let (tx, rx) = pipe::<u32>(1);
        tx.send(1).await.map_err(|_| ()).unwrap();
        let waiting = tokio::spawn(async move { tx.send(2).await.map_err(|Closed(i)| i) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(waiting.await.ok(), Some(Err(2)));
    }
}
