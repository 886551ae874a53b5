//! Frame buffers that go back to their pool when dropped.
//!
//! A fresh `vec![0; n]` per frame costs a zeroing pass (or, for large sizes,
//! one page fault per 4 KiB as the copy touches freshly mapped pages: about
//! 1500 per 1080p BGR frame) on top of the copy out of shared memory. The
//! encoder drops a frame's buffer once it has converted it, and the queue
//! drops the frames it replaces; either way the buffer returns here and the
//! next copy lands in memory that is already mapped and warm.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};

/// Buffers kept for reuse: the ingest copy in progress, one in the queue,
/// one being converted, with one spare. More are allocated when needed and
/// freed on return when the pool already holds this many.
const KEEP: usize = 4;

/// A pool of byte buffers of one size at a time.
#[derive(Debug, Default)]
pub struct FramePool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl FramePool {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A buffer of exactly `len` bytes. Its contents are whatever the last
    /// user left (zeroes when newly allocated): callers overwrite all of it.
    pub fn take(self: &Arc<Self>, len: usize) -> FrameBuf {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut data = reused.unwrap_or_default();
        if data.len() != len {
            // A geometry change (or the first use): the only zeroing pass.
            data.clear();
            data.shrink_to(len);
            data.resize(len, 0);
        }
        FrameBuf {
            data,
            home: Arc::downgrade(self),
        }
    }

    fn give_back(&self, data: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < KEEP {
            free.push(data);
        }
    }

    /// Buffers waiting for reuse (tests, telemetry).
    pub fn idle(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A frame's bytes; returned to the pool it came from when dropped.
#[derive(Debug, Default)]
pub struct FrameBuf {
    data: Vec<u8>,
    home: Weak<FramePool>,
}

impl FrameBuf {
    /// The bytes, leaving the pool out (they are freed when dropped).
    pub fn into_vec(mut self) -> Vec<u8> {
        self.home = Weak::new();
        std::mem::take(&mut self.data)
    }
}

impl From<Vec<u8>> for FrameBuf {
    /// Bytes owned outright (tests, producers' encoded units): no pool.
    fn from(data: Vec<u8>) -> Self {
        Self {
            data,
            home: Weak::new(),
        }
    }
}

impl AsRef<[u8]> for FrameBuf {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl AsMut<[u8]> for FrameBuf {
    /// For handing the buffer to GStreamer without a copy (it drops it,
    /// and so returns it, when done).
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl Deref for FrameBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.home.upgrade()
            && !self.data.is_empty()
        {
            pool.give_back(std::mem::take(&mut self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_without_reallocation() {
        let pool = FramePool::new();
        let mut a = pool.take(1000);
        a[0] = 7;
        let ptr = a.as_ptr();
        drop(a);
        assert_eq!(pool.idle(), 1);
        let b = pool.take(1000);
        assert_eq!(b.as_ptr(), ptr, "the same allocation comes back");
        assert_eq!(b[0], 7, "no zeroing pass on reuse");
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn a_size_change_resizes_and_the_pool_stays_bounded() {
        let pool = FramePool::new();
        let bufs: Vec<_> = (0..10).map(|_| pool.take(64)).collect();
        drop(bufs);
        assert_eq!(pool.idle(), KEEP, "extra buffers are freed, not kept");
        let big = pool.take(128);
        assert_eq!(big.len(), 128);
        assert!(big.iter().all(|&b| b == 0));
    }

    #[test]
    fn buffers_outliving_their_pool_are_simply_freed() {
        let pool = FramePool::new();
        let a = pool.take(16);
        drop(pool);
        drop(a);
        let v: FrameBuf = vec![1, 2, 3].into();
        assert_eq!(v.into_vec(), vec![1, 2, 3]);
    }
}
