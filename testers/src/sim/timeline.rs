//! The frame counter and producer resets (contract `cv-mmap-ipc.md` §5).
//!
//! A reset sends the frame counter back to 0; the timestamps are the wall
//! clock (§6, live sources) and keep going forward. Resets come every
//! `--reset-every` frames or from a `source.reset` request (§4); both at once
//! are one reset.

/// Decides the `frame_count` of each frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    next_count: u32,
    since_reset: u64,
    /// 0 = never by itself.
    reset_every: u64,
    /// Resets so far.
    pub resets: u64,
}

impl Timeline {
    pub fn new(reset_every: u64) -> Self {
        Self {
            reset_every,
            ..Self::default()
        }
    }

    /// What [`Timeline::next_frame`]`(false)` would return, without
    /// advancing: lets a producer prepare the next frame ahead of time.
    pub fn peek(&self) -> (u32, bool) {
        let due = self.reset_every > 0 && self.since_reset >= self.reset_every;
        (if due { 0 } else { self.next_count }, due)
    }

    /// The next frame's counter, and whether a reset starts a new timeline
    /// with it (then STREAM_RESET goes out before the frame is written).
    pub fn next_frame(&mut self, reset_requested: bool) -> (u32, bool) {
        let due = self.reset_every > 0 && self.since_reset >= self.reset_every;
        let reset = due || reset_requested;
        if reset {
            self.next_count = 0;
            self.since_reset = 0;
            self.resets += 1;
        }
        let fc = self.next_count;
        // u32 on the wire; wraps like upstream.
        self.next_count = self.next_count.wrapping_add(1);
        self.since_reset += 1;
        (fc, reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_every_ten() {
        let mut t = Timeline::new(10);
        let frames: Vec<(u32, bool)> = (0..30).map(|_| t.next_frame(false)).collect();
        let counts: Vec<u32> = frames.iter().map(|f| f.0).collect();
        let expected: Vec<u32> = (0..3).flat_map(|_| 0..10).collect();
        assert_eq!(counts, expected);
        let resets: Vec<usize> = (0..30).filter(|&i| frames[i].1).collect();
        assert_eq!(resets, [10, 20]);
        assert_eq!(t.resets, 2);
    }

    #[test]
    fn peek_predicts_next_frame() {
        let mut t = Timeline::new(3);
        for _ in 0..10 {
            let p = t.peek();
            assert_eq!(t.next_frame(false), p);
        }
    }

    #[test]
    fn requested_reset_restarts_the_period() {
        let mut t = Timeline::new(4);
        let mut counts = Vec::new();
        for i in 0..10 {
            counts.push(t.next_frame(i == 2).0);
        }
        assert_eq!(counts, [0, 1, 0, 1, 2, 3, 0, 1, 2, 3]);
        assert_eq!(t.resets, 2);
        let mut t = Timeline::new(0);
        assert!((0..100).all(|i| t.next_frame(false) == (i, false)));
    }
}
