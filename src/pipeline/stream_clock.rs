//! Presentation and decode times for the producer's access units in
//! `--passthrough`.
//!
//! The producer writes its units in decode order, each with the
//! `stream_pts_ns` of its picture (contract §2, v2.1 extension at 0x2D).
//! With B-frames that order is not presentation order: a unit published at
//! the capture time of the frame that carried it would be shown out of
//! order, and DTS = PTS would make RTMP's composition offsets (and a
//! recording's ctts) all zero.
//!
//! - PTS: the stream time, anchored where the stream (re)starts: the
//!   keyframe that starts it gets the timeline's time of its frame, every
//!   later unit that plus its stream-time distance. A keyframe whose mapped
//!   time strays more than [`MAX_DRIFT_NS`] from the timeline (a producer
//!   that restarted its stream clock) is anchored again.
//! - DTS: with a reorder depth `D` (the SPS's `max_num_reorder_frames`,
//!   H.264 §E.2.1, or `sps_max_num_reorder_pics`, H.265 §7.4.3.2.1) no
//!   picture is output later than `D` places after its decode position, so
//!   the i-th unit's DTS is the (i−D)-th smallest PTS, which is already
//!   known when unit i arrives (no look-ahead, no added latency); the first
//!   `D` units get the first PTS minus (D−i) frame intervals. DTS then
//!   rises strictly and never passes PTS. This is the rule ISO/IEC 14496-12
//!   composition offsets describe and the one ffmpeg uses to guess DTS.
//!
//! A producer that does not fill `stream_pts_ns` (two units with the same
//! value) gets the timeline's time with DTS = PTS, as before.

/// A keyframe's mapped PTS further than this from the timeline re-anchors.
pub(crate) const MAX_DRIFT_NS: u64 = 1_000_000_000;
/// Frame interval for the first `D` DTS when the producer gives no rate.
const DEFAULT_FRAME_NS: u64 = 33_333_333;
/// `MaxDpbFrames` is at most 16 in both codecs.
const MAX_DEPTH: usize = 16;

/// The times of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    pub pts_ns: u64,
    pub dts_ns: i64,
    /// DTS had to be moved to keep DTS rising and at most PTS: the stream
    /// reorders deeper than its SPS says.
    pub adjusted: bool,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    stream_ns: u64,
    out_ns: u64,
}

/// See the module doc.
#[derive(Debug, Default)]
pub(crate) struct StreamClock {
    anchor: Option<Anchor>,
    depth: usize,
    frame_ns: u64,
    /// Units placed since the anchor.
    index: usize,
    /// PTS values not yet used as a DTS, ascending; at most `depth + 1`.
    pending: Vec<u64>,
    first_pts: u64,
    last_dts: Option<i64>,
    last_stream: Option<u64>,
    /// The producer's stream times are unusable until the next restart.
    unusable: bool,
}

impl StreamClock {
    /// Forgets the stream: the next keyframe anchors. DTS keep rising
    /// across it (outputs and recordings never see them go back).
    pub(crate) fn reset(&mut self) {
        *self = Self {
            last_dts: self.last_dts,
            ..Self::default()
        };
    }

    /// Times for the next unit in decode order. `timeline_ns` is the
    /// timeline's time of the frame that carried it; `depth` the reorder
    /// depth of the stream's SPS (`None`: unknown, taken as 0 until an SPS
    /// says). Units before the first keyframe are not placed by the
    /// stream: callers drop them.
    pub(crate) fn place(
        &mut self,
        stream_ns: u64,
        timeline_ns: u64,
        keyframe: bool,
        depth: Option<u32>,
        frame_ns: Option<u64>,
    ) -> Times {
        let repeated = self.last_stream == Some(stream_ns);
        self.last_stream = Some(stream_ns);
        if repeated {
            self.unusable = true;
        }
        if self.unusable {
            return self.fallback(timeline_ns);
        }
        let drifted = self
            .anchor
            .is_some_and(|a| map(a, stream_ns).abs_diff(timeline_ns) > MAX_DRIFT_NS);
        if keyframe && (self.anchor.is_none() || drifted) {
            self.anchor(stream_ns, timeline_ns, depth, frame_ns);
        }
        let Some(anchor) = self.anchor else {
            return self.fallback(timeline_ns);
        };
        let pts_ns = map(anchor, stream_ns);
        let candidate = self.decode_time(pts_ns);
        let mut dts_ns = candidate.min(clamp_i64(pts_ns));
        if let Some(last) = self.last_dts {
            dts_ns = dts_ns.max(last.saturating_add(1));
        }
        self.last_dts = Some(dts_ns);
        Times {
            pts_ns,
            dts_ns,
            adjusted: dts_ns != candidate,
        }
    }

    fn anchor(&mut self, stream_ns: u64, out_ns: u64, depth: Option<u32>, frame_ns: Option<u64>) {
        self.anchor = Some(Anchor { stream_ns, out_ns });
        self.depth = depth.map_or(0, |d| d as usize).min(MAX_DEPTH);
        self.frame_ns = frame_ns.filter(|&f| f > 0).unwrap_or(DEFAULT_FRAME_NS);
        self.index = 0;
        self.pending.clear();
        self.first_pts = out_ns;
    }

    /// The (index − depth)-th smallest PTS so far (see the module doc).
    fn decode_time(&mut self, pts_ns: u64) -> i64 {
        let at = self.pending.partition_point(|&p| p <= pts_ns);
        self.pending.insert(at, pts_ns);
        let index = self.index;
        self.index += 1;
        if index < self.depth {
            let lead = ((self.depth - index) as u64).saturating_mul(self.frame_ns);
            return clamp_i64(self.first_pts).saturating_sub(clamp_i64(lead));
        }
        // `pending` holds depth + 1 values here; the smallest is next.
        clamp_i64(self.pending.remove(0))
    }

    fn fallback(&mut self, timeline_ns: u64) -> Times {
        let mut dts_ns = clamp_i64(timeline_ns);
        if let Some(last) = self.last_dts {
            dts_ns = dts_ns.max(last.saturating_add(1));
        }
        self.last_dts = Some(dts_ns);
        Times {
            pts_ns: timeline_ns.max(dts_ns.max(0) as u64),
            dts_ns,
            adjusted: false,
        }
    }
}

/// The anchor's output time plus the stream-time distance, in 0..=i64::MAX
/// (DTS are signed).
fn map(anchor: Anchor, stream_ns: u64) -> u64 {
    let out = i128::from(anchor.out_ns) + i128::from(stream_ns) - i128::from(anchor.stream_ns);
    out.clamp(0, i128::from(i64::MAX)) as u64
}

fn clamp_i64(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "stream_clock_tests.rs"]
mod tests;
