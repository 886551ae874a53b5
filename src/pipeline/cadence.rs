//! The source's frame rate, measured from capture timestamps.
//!
//! The encoder's rate control budgets bits per frame from the caps'
//! framerate: a 60 fps camera announced as 30 fps gets about twice the
//! requested bitrate. A producer that states its rate (v2.1) is believed;
//! otherwise the rate is the median of the recent capture steps, which
//! ignores the odd long step of a frame dropped by the latest-frame queue.

/// Steps kept for the median.
const WINDOW: usize = 15;
/// Steps needed before a rate is reported.
const MIN_STEPS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Cadence {
    steps: Vec<u64>,
    next: usize,
    last_capture: Option<u64>,
}

impl Cadence {
    /// Records a frame's capture time; `new_segment` (reset, clock jump)
    /// breaks the chain so the jump is not taken for a step.
    pub(crate) fn observe(&mut self, capture_ns: u64, new_segment: bool) {
        if let Some(last) = self.last_capture
            && !new_segment
        {
            let step = capture_ns.wrapping_sub(last);
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
        self.last_capture = Some(capture_ns);
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

    fn feed(c: &mut Cadence, steps: &[u64]) {
        let mut t = 1_000_000_000;
        c.observe(t, false);
        for s in steps {
            t += s;
            c.observe(t, false);
        }
    }

    #[test]
    fn sixty_fps_is_measured_and_a_dropped_frame_does_not_move_it() {
        let mut c = Cadence::default();
        feed(&mut c, &[16_666_667; 5]);
        assert_eq!(c.rate(), None, "too few steps yet");
        feed(
            &mut c,
            &[16_666_667, 33_333_333, 16_666_667, 16_666_667, 16_000_000],
        );
        assert_eq!(c.rate(), Some((60_000, 1000)));
    }

    #[test]
    fn a_new_segment_is_not_a_step() {
        let mut c = Cadence::default();
        feed(&mut c, &[40_000_000; 9]);
        c.observe(99_000_000_000, true);
        c.observe(99_040_000_000, false);
        assert_eq!(c.rate(), Some((25_000, 1000)));
    }
}
