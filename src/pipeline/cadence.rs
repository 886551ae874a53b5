//! The source's frame rate, measured from capture timestamps.
//!
//! The encoder's rate control budgets bits per frame from the caps'
//! framerate: a 60 fps camera announced as 30 fps gets about twice the
//! requested bitrate. A producer that states its rate (v2.1) is believed;
//! otherwise the rate is the median of the recent capture steps per
//! producer frame: a step over frames the latest-frame queue dropped is
//! divided by the frames the counter advanced, so drops under load never
//! look like a slower camera (a false rate change would cost a keyframe).

/// Steps kept for the median.
const WINDOW: usize = 15;
/// Steps needed before a rate is reported.
const MIN_STEPS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Cadence {
    steps: Vec<u64>,
    next: usize,
    last: Option<(u64, u32)>,
}

impl Cadence {
    /// Records a frame's capture time and counter; `new_segment` (reset,
    /// clock jump) breaks the chain so the jump is not taken for a step.
    pub(crate) fn observe(&mut self, capture_ns: u64, frame_count: u32, new_segment: bool) {
        if let Some((last, last_count)) = self.last
            && !new_segment
            && frame_count > last_count
            && capture_ns > last
        {
            let step = (capture_ns - last) / u64::from(frame_count - last_count);
            // Sane steps only: 1000 fps .. 1 fps.
            if (1_000_000..=1_000_000_000).contains(&step) {
                if self.steps.len() < WINDOW {
                    self.steps.push(step);
                } else {
                    self.steps[self.next] = step;
                }
                self.next = (self.next + 1) % WINDOW;
            }
        }
        self.last = Some((capture_ns, frame_count));
    }

    /// The measured rate as (num, den) with den 1000 (milli-fps), once
    /// enough steps were seen.
    pub(crate) fn rate(&self) -> Option<(u32, u32)> {
        if self.steps.len() < MIN_STEPS {
            return None;
        }
        let mut sorted = self.steps.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        let milli_fps = (1_000_000_000_000u64 + median / 2) / median;
        Some((u32::try_from(milli_fps).ok()?, 1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds frames `counts` at `interval` ns per producer frame.
    fn feed(c: &mut Cadence, counts: impl IntoIterator<Item = u32>, interval: u64) {
        for n in counts {
            c.observe(1_000_000_000 + u64::from(n) * interval, n, false);
        }
    }

    #[test]
    fn sixty_fps_is_measured() {
        let mut c = Cadence::default();
        feed(&mut c, 0..6, 16_666_667);
        assert_eq!(c.rate(), None, "too few steps yet");
        feed(&mut c, 6..12, 16_666_667);
        assert_eq!(c.rate(), Some((60_000, 1000)));
    }

    /// Under load the latest-frame queue drops most frames: the steps
    /// between the frames that remain are per producer frame, so 30 fps
    /// stays 30 fps (a false change would cost a keyframe).
    #[test]
    fn dropped_frames_do_not_look_like_a_slower_camera() {
        let mut c = Cadence::default();
        feed(&mut c, (0..60).step_by(3), 33_333_333);
        assert_eq!(c.rate(), Some((30_000, 1000)));
    }

    #[test]
    fn a_new_segment_is_not_a_step() {
        let mut c = Cadence::default();
        feed(&mut c, 0..10, 40_000_000);
        c.observe(99_000_000_000, 0, true);
        c.observe(99_040_000_000, 1, false);
        assert_eq!(c.rate(), Some((25_000, 1000)));
    }
}
