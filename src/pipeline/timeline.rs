//! Output timeline: producer capture timestamps in, monotonic presentation
//! timestamps (ns since the first frame) out.
//!
//! Producers reset (the frame counter and often the clock restart, contract
//! §5) and re-initialise with another timestamp domain; receivers must never
//! see time go backwards. So the timeline follows the capture clock while it
//! moves forward sanely, and re-bases one frame interval after the last
//! output whenever it jumps backwards or implausibly far forward.

/// Forward jumps larger than this start a new timeline segment.
pub const MAX_FORWARD_JUMP_NS: u64 = 10_000_000_000;
/// Frame interval assumed until two frames have been seen (30 fps).
pub const DEFAULT_INTERVAL_NS: u64 = 33_333_333;

/// One mapped timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Presentation time in ns since the first frame; strictly increasing.
    pub pts_ns: u64,
    /// True when the capture clock jumped and the timeline was re-based.
    pub discontinuity: bool,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    /// `pts = capture + offset` on the current segment.
    offset: Option<i128>,
    last_pts: u64,
    last_capture: u64,
    interval_ns: u64,
    /// The next frame starts a new segment whatever its timestamp says.
    restart: bool,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            offset: None,
            last_pts: 0,
            last_capture: 0,
            interval_ns: DEFAULT_INTERVAL_NS,
            restart: false,
        }
    }
}

impl Timeline {
    /// The frame interval currently assumed (learned from the clock).
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// A producer reset: the next frame is placed one frame interval after
    /// the last output, however far its capture clock moved (contract §5:
    /// a reset starts a new timeline; a clock 3 s ahead must not become a
    /// 3 s gap for viewers).
    pub fn restart(&mut self) {
        self.restart = true;
    }

    /// Maps one capture timestamp.
    pub fn map(&mut self, capture_ns: u64) -> Stamp {
        let restart = std::mem::take(&mut self.restart);
        let capture = i128::from(capture_ns);
        let Some(offset) = self.offset else {
            self.offset = Some(-capture);
            self.last_capture = capture_ns;
            self.last_pts = 0;
            return Stamp {
                pts_ns: 0,
                discontinuity: false,
            };
        };
        let pts = capture + offset;
        let last = i128::from(self.last_pts);
        let jump = pts - last;
        let (pts, discontinuity) = if restart || jump <= 0 || jump > i128::from(MAX_FORWARD_JUMP_NS)
        {
            let rebased = last + i128::from(self.interval_ns);
            self.offset = Some(rebased - capture);
            (rebased, true)
        } else {
            // Learn the cadence from sane steps only (0.5 ms .. 1 s).
            let step = capture_ns.wrapping_sub(self.last_capture);
            if (500_000..=1_000_000_000).contains(&step) {
                self.interval_ns = step;
            }
            (pts, false)
        };
        self.last_capture = capture_ns;
        // `pts` is > last_pts >= 0 and bounded by last_pts + 10 s here.
        self.last_pts = u64::try_from(pts).unwrap_or(u64::MAX);
        Stamp {
            pts_ns: self.last_pts,
            discontinuity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn follows_the_capture_clock_from_zero() {
        let mut t = Timeline::default();
        let base = 1_700_000_000_000_000_000u64;
        assert_eq!(t.map(base).pts_ns, 0);
        assert_eq!(
            t.map(base + 33_000_000),
            Stamp {
                pts_ns: 33_000_000,
                discontinuity: false
            }
        );
        assert_eq!(t.map(base + 66_000_000).pts_ns, 66_000_000);
        assert_eq!(t.interval_ns(), 33_000_000);
    }

    #[test]
    fn a_backwards_reset_continues_one_interval_later() {
        let mut t = Timeline::default();
        t.map(5_000_000_000);
        t.map(5_040_000_000);
        let s = t.map(0); // producer restarted its clock
        assert_eq!(
            s,
            Stamp {
                pts_ns: 80_000_000,
                discontinuity: true
            }
        );
        // ... and then follows the new clock.
        assert_eq!(t.map(40_000_000).pts_ns, 120_000_000);
    }

    /// Issue 13, defect 7: a reset into a clock 3 s ahead left a 3 s gap.
    #[test]
    fn a_reset_rebases_even_a_small_forward_jump() {
        let mut t = Timeline::default();
        t.map(1_000_000_000);
        t.map(1_040_000_000);
        t.restart();
        let s = t.map(4_040_000_000);
        assert_eq!(s.pts_ns, 80_000_000, "one interval after the last output");
        assert_eq!(t.map(4_080_000_000).pts_ns, 120_000_000, "then follows");
    }

    #[test]
    fn a_huge_forward_jump_is_a_discontinuity() {
        let mut t = Timeline::default();
        t.map(1_000);
        let s = t.map(1_000 + 3_600_000_000_000);
        assert!(s.discontinuity);
        assert_eq!(s.pts_ns, DEFAULT_INTERVAL_NS);
    }

    #[test]
    fn duplicate_timestamps_still_advance() {
        let mut t = Timeline::default();
        t.map(100);
        let s = t.map(100);
        assert!(s.discontinuity);
        assert!(s.pts_ns > 0);
    }

    proptest! {
        #[test]
        fn output_is_strictly_increasing(caps in proptest::collection::vec(any::<u64>(), 1..200)) {
            let mut t = Timeline::default();
            let mut last = None;
            for c in caps {
                let s = t.map(c);
                if let Some(l) = last { prop_assert!(s.pts_ns > l); }
                last = Some(s.pts_ns);
            }
        }
    }
}
