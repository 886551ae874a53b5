//! Timing of the complete access units, for the fault suite: RTP timestamps
//! that do not move forward, arrival gaps between units, and when keyframes
//! arrived (so that recovery after a producer reset or restart can be
//! measured against the producer's own wall-clock record).
//!
//! RTP timestamps are 32-bit and wrap (RFC 3550 §5.1): a unit is "after" the
//! previous one when the modular difference, read as a signed 32-bit number,
//! is positive. Equal timestamps count as not after (two access units must
//! not share a capture instant).

use serde::Serialize;

/// Gaps longer than this are listed one by one in the report.
pub const GAP_REPORT_MS: f64 = 100.0;
/// At most this many gaps are listed (the largest is always in `max_gap_ms`).
pub const MAX_LISTED_GAPS: usize = 64;
/// At most this many keyframe arrival times are kept.
pub const MAX_KEYFRAME_ARRIVALS: usize = 1024;

/// An arrival gap between two consecutive complete access units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// Arrival (Unix ns) of the unit that ended the gap.
    pub end_unix_ns: i64,
    pub gap_ms: f64,
    /// Whether the unit that ended it holds a keyframe.
    pub keyframe_after: bool,
}

#[derive(Clone, Debug, Default)]
pub struct UnitTiming {
    last_ts: Option<u32>,
    last_arrival_ns: Option<i64>,
    /// Units whose RTP timestamp is not after the previous unit's.
    pub backwards: u64,
    pub max_gap_ms: Option<f64>,
    pub gaps: Vec<Gap>,
    /// Gaps over [`GAP_REPORT_MS`] not listed because the list was full.
    pub gaps_not_listed: u64,
    pub keyframe_arrivals_unix_ns: Vec<i64>,
    pub first_unit_unix_ns: Option<i64>,
}

impl UnitTiming {
    /// One complete access unit, in arrival order.
    pub fn observe(&mut self, rtp_ts: u32, arrival_unix_ns: i64, keyframe: bool) {
        if let Some(prev) = self.last_ts
            && (rtp_ts.wrapping_sub(prev) as i32) <= 0
        {
            self.backwards += 1;
        }
        if let Some(prev) = self.last_arrival_ns {
            let gap_ms = (arrival_unix_ns - prev) as f64 / 1e6;
            self.max_gap_ms = Some(self.max_gap_ms.map_or(gap_ms, |m| m.max(gap_ms)));
            if gap_ms > GAP_REPORT_MS {
                if self.gaps.len() < MAX_LISTED_GAPS {
                    self.gaps.push(Gap {
                        end_unix_ns: arrival_unix_ns,
                        gap_ms,
                        keyframe_after: keyframe,
                    });
                } else {
                    self.gaps_not_listed += 1;
                }
            }
        }
        if keyframe && self.keyframe_arrivals_unix_ns.len() < MAX_KEYFRAME_ARRIVALS {
            self.keyframe_arrivals_unix_ns.push(arrival_unix_ns);
        }
        self.first_unit_unix_ns.get_or_insert(arrival_unix_ns);
        self.last_ts = Some(rtp_ts);
        self.last_arrival_ns = Some(arrival_unix_ns);
    }

    pub fn last_unit_unix_ns(&self) -> Option<i64> {
        self.last_arrival_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn counts_timestamps_that_do_not_advance_across_the_wrap() {
        let mut t = UnitTiming::default();
        for (i, ts) in [u32::MAX - 3000, u32::MAX, 2999, 2999, 1000, 6000]
            .into_iter()
            .enumerate()
        {
            t.observe(ts, i as i64 * 33 * MS, false);
        }
        // The wrap is forward; the repeat and the step back are not.
        assert_eq!(t.backwards, 2);
    }

    #[test]
    fn a_huge_forward_step_is_still_forward_but_half_the_circle_is_not() {
        let mut t = UnitTiming::default();
        t.observe(0, 0, false);
        t.observe(0x7FFF_FFFF, MS, false);
        assert_eq!(t.backwards, 0);
        t.observe(0xFFFF_FFFF, 2 * MS, false); // +2^31: ambiguous, not after
        assert_eq!(t.backwards, 1);
    }

    #[test]
    fn gaps_and_keyframes() {
        let mut t = UnitTiming::default();
        assert_eq!(t.max_gap_ms, None);
        t.observe(0, 1000 * MS, true);
        t.observe(3000, 1033 * MS, false);
        t.observe(6000, 1533 * MS, true);
        t.observe(9000, 1566 * MS, false);
        assert_eq!(t.max_gap_ms, Some(500.0));
        assert_eq!(
            t.gaps,
            [Gap {
                end_unix_ns: 1533 * MS,
                gap_ms: 500.0,
                keyframe_after: true
            }]
        );
        assert_eq!(t.keyframe_arrivals_unix_ns, [1000 * MS, 1533 * MS]);
        assert_eq!(t.first_unit_unix_ns, Some(1000 * MS));
        assert_eq!(t.last_unit_unix_ns(), Some(1566 * MS));
    }

    #[test]
    fn the_gap_list_is_bounded() {
        let mut t = UnitTiming::default();
        for i in 0..(MAX_LISTED_GAPS as i64 + 10) {
            t.observe(i as u32 * 3000, i * 200 * MS, false);
        }
        assert_eq!(t.gaps.len(), MAX_LISTED_GAPS);
        assert_eq!(t.gaps_not_listed, 9);
    }
}
