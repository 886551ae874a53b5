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

impl ResetTracker {
    pub(crate) fn on_frame(&mut self, frame_count: u32, stream_reset_event: bool) -> bool {
        self.frames += 1;
        if self.last_count.is_some_and(|l| frame_count < l) {
            self.last_counter_reset = Some(self.frames);
            self.last_count = Some(frame_count);
            return true;
        }
        self.last_count = Some(frame_count);
        stream_reset_event
            && self
                .last_counter_reset
                .is_none_or(|at| self.frames - at > SAME_RESET_FRAMES)
    }
}

#[cfg(test)]
mod tests {
    use super::ResetTracker;

    #[test]
    fn counter_and_event_for_one_reset_force_one_keyframe() {
        let mut t = ResetTracker::default();
        assert!(!t.on_frame(10, false));
        assert!(t.on_frame(0, false));
        assert!(!t.on_frame(1, true), "event right after the counter reset");
        // Counter and event on the same frame.
        assert!(t.on_frame(0, true));
        // An event alone, far from any counter reset.
        for c in 1..10 {
            assert!(!t.on_frame(c, false));
        }
        assert!(t.on_frame(10, true));
    }
}
