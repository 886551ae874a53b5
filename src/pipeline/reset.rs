//! When a producer reset starts a new timeline (contract §5).

/// The frame counter going backwards always starts one (it marks the exact
/// frame); a STREAM_RESET event does unless a counter reset was just
/// applied, since a producer usually sends both for one reset.
#[derive(Debug, Default)]
pub(crate) struct ResetTracker {
    last_count: Option<u32>,
    frames: u64,
    last_counter_reset: Option<u64>,
}

/// A STREAM_RESET within this many frames of a counter reset is the same reset.
const SAME_RESET_FRAMES: u64 = 3;

/// How a reset showed itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reset {
    /// The frame counter in shared memory went backwards: the producer
    /// itself restarted (local, trusted).
    Counter,
    /// A STREAM_RESET status event over NATS (anyone allowed on the
    /// subject can send one).
    Event,
}

impl ResetTracker {
    pub(crate) fn on_frame(&mut self, frame_count: u32, stream_reset_event: bool) -> Option<Reset> {
        self.frames += 1;
        if self.last_count.is_some_and(|l| frame_count < l) {
            self.last_counter_reset = Some(self.frames);
            self.last_count = Some(frame_count);
            return Some(Reset::Counter);
        }
        self.last_count = Some(frame_count);
        (stream_reset_event
            && self
                .last_counter_reset
                .is_none_or(|at| self.frames - at > SAME_RESET_FRAMES))
        .then_some(Reset::Event)
    }
}

#[cfg(test)]
mod tests {
    use super::{Reset, ResetTracker};

    #[test]
    fn counter_and_event_for_one_reset_force_one_keyframe() {
        let mut t = ResetTracker::default();
        assert_eq!(t.on_frame(10, false), None);
        assert_eq!(t.on_frame(0, false), Some(Reset::Counter));
        assert_eq!(
            t.on_frame(1, true),
            None,
            "event right after the counter reset"
        );
        // Counter and event on the same frame.
        assert_eq!(t.on_frame(0, true), Some(Reset::Counter));
        // An event alone, far from any counter reset.
        for c in 1..10 {
            assert_eq!(t.on_frame(c, false), None);
        }
        assert_eq!(t.on_frame(10, true), Some(Reset::Event));
    }
}
