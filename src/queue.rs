//! The bounded queue between stages.
//!
//! Between ingest and encode it is the latest-frame queue (capacity 1 by
//! default, `--queue-size N`): [`push`](LatestQueue::push) drops the *oldest*
//! frame when full, so latency never accumulates behind a slow encoder (seed
//! README, "Latest-Frame Semantics"). In front of each output sink,
//! [`try_push`](LatestQueue::try_push) refuses the *newest* instead: a sink
//! that falls behind drops whole units until the next keyframe, since a
//! decoder cannot skip a unit in the middle of a GOP.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What [`LatestQueue::pop_timeout`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pop<T> {
    Item(T),
    /// Nothing arrived within the timeout; the producer side is still open.
    TimedOut,
    /// The producer side closed and the queue is drained.
    Closed,
}

struct State<T> {
    items: VecDeque<T>,
    dropped: u64,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue that drops the oldest item.
pub struct LatestQueue<T> {
    capacity: usize,
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> LatestQueue<T> {
    /// `capacity` is clamped to at least 1.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                dropped: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the deque inconsistent,
        // so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pushes `item`; returns the item that was dropped to make room, if any.
    /// After [`close`](Self::close) the item is handed back unqueued.
    pub fn push(&self, item: T) -> Option<T> {
        let mut st = self.lock();
        if st.closed {
            return Some(item);
        }
        let dropped = if st.items.len() >= self.capacity {
            st.dropped += 1;
            st.items.pop_front()
        } else {
            None
        };
        st.items.push_back(item);
        drop(st);
        self.ready.notify_one();
        dropped
    }

    /// Queues `item` unless the queue is full or closed; hands it back then.
    pub fn try_push(&self, item: T) -> Result<(), T> {
        let mut st = self.lock();
        if st.closed || st.items.len() >= self.capacity {
            return Err(item);
        }
        st.items.push_back(item);
        drop(st);
        self.ready.notify_one();
        Ok(())
    }

    /// Whether [`try_push`](Self::try_push) would take an item now.
    pub fn has_room(&self) -> bool {
        let st = self.lock();
        !st.closed && st.items.len() < self.capacity
    }

    /// Discards everything queued; returns how many items that was.
    pub fn clear(&self) -> usize {
        let mut st = self.lock();
        let n = st.items.len();
        st.items.clear();
        n
    }

    /// Waits up to `timeout` for the oldest queued item.
    pub fn pop_timeout(&self, timeout: Duration) -> Pop<T> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if let Some(item) = st.items.pop_front() {
                return Pop::Item(item);
            }
            if st.closed {
                return Pop::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Pop::TimedOut;
            }
            st = self
                .ready
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Marks the producer side finished; queued items can still be popped.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Items dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn size_one_keeps_only_the_newest() {
        let q = LatestQueue::new(1);
        assert_eq!(q.push(1), None);
        assert_eq!(q.push(2), Some(1));
        assert_eq!(q.push(3), Some(2));
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item(3));
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::TimedOut);
    }

    #[test]
    fn larger_queue_drops_oldest_in_order() {
        let q = LatestQueue::new(3);
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 2);
        let got: Vec<_> = std::iter::from_fn(|| match q.pop_timeout(Duration::ZERO) {
            Pop::Item(i) => Some(i),
            _ => None,
        })
        .collect();
        assert_eq!(got, vec![2, 3, 4]);
    }

    #[test]
    fn zero_capacity_is_clamped_to_one() {
        assert_eq!(LatestQueue::<u8>::new(0).capacity(), 1);
    }

    #[test]
    fn close_drains_then_reports_closed_and_rejects_pushes() {
        let q = LatestQueue::new(2);
        q.push(7);
        q.close();
        assert_eq!(q.push(8), Some(8));
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item(7));
        assert_eq!(q.pop_timeout(Duration::from_secs(5)), Pop::Closed);
    }

    #[test]
    fn try_push_refuses_the_newest_when_full() {
        let q = LatestQueue::new(2);
        assert_eq!(q.try_push(1), Ok(()));
        assert!(q.has_room());
        assert_eq!(q.try_push(2), Ok(()));
        assert!(!q.has_room());
        assert_eq!(q.try_push(3), Err(3));
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item(1));
        assert_eq!(q.clear(), 1);
        q.close();
        assert_eq!(q.try_push(4), Err(4));
        assert!(!q.has_room());
    }

    #[test]
    fn a_waiting_consumer_wakes_on_push() {
        let q = Arc::new(LatestQueue::new(1));
        let consumer = {
            let q = q.clone();
            std::thread::spawn(move || q.pop_timeout(Duration::from_secs(10)))
        };
        q.push(42u32);
        assert_eq!(consumer.join().unwrap(), Pop::Item(42));
    }
}
