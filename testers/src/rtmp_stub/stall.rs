//! What the publisher sent after a sink stall (`--stall-after-ms`), for the
//! fault suite's "the stream resumes at a keyframe within one GOP".
//!
//! Right after the stall the stub first reads the backlog: frames that sat
//! in the socket buffers (and the publisher's queue) since before or during
//! the stall, with continuous DTS. Where the publisher dropped units, the
//! DTS then jumps (more than [`RESUME_GAP_MS`]): that frame is the resume
//! point, and it must be a keyframe. Both views are reported: the first
//! frame and first keyframe after the stall by arrival, and the resume point
//! by DTS.

use serde::Serialize;

/// A DTS step larger than this marks units the publisher dropped (the same
/// rule as the report's `dts_gaps`).
pub const RESUME_GAP_MS: u32 = 200;

/// Measurements from the end of the stall on (times in ms since it ended).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AfterStall {
    /// Coded video frames that arrived after the stall ended.
    pub frames: u64,
    /// Arrival of the first coded frame after the stall, and whether it is
    /// a keyframe.
    pub first_frame_ms: Option<f64>,
    pub first_frame_keyframe: Option<bool>,
    /// Frames that arrived after the stall before the first keyframe (0 when
    /// the first one is a keyframe), and when that keyframe arrived.
    pub frames_before_keyframe: Option<u64>,
    pub first_keyframe_ms: Option<f64>,
    /// The resume point: the first frame after the stall whose DTS jumps by
    /// more than 200 ms over the previous frame's (units were dropped).
    pub resume_dts_gap_ms: Option<u32>,
    pub resume_keyframe: Option<bool>,
    pub resume_ms: Option<f64>,
    /// Frames read after the stall before the resume point (the backlog).
    pub backlog_frames: Option<u64>,
    /// Frames that arrived after the resume point, the resume frame included.
    pub frames_after_resume: u64,
}

impl AfterStall {
    /// One coded frame, `since_end_ms` after the stall ended; `dts_step_ms`
    /// is its DTS minus the previous frame's on the same connection.
    pub fn observe(&mut self, since_end_ms: f64, keyframe: bool, dts_step_ms: Option<u32>) {
        if self.first_frame_ms.is_none() {
            self.first_frame_ms = Some(since_end_ms);
            self.first_frame_keyframe = Some(keyframe);
        }
        if keyframe && self.first_keyframe_ms.is_none() {
            self.first_keyframe_ms = Some(since_end_ms);
            self.frames_before_keyframe = Some(self.frames);
        }
        if self.resume_ms.is_none()
            && let Some(step) = dts_step_ms.filter(|&s| s > RESUME_GAP_MS)
        {
            self.resume_dts_gap_ms = Some(step);
            self.resume_keyframe = Some(keyframe);
            self.resume_ms = Some(since_end_ms);
            self.backlog_frames = Some(self.frames);
        }
        if self.resume_ms.is_some() {
            self.frames_after_resume += 1;
        }
        self.frames += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_then_a_gap_then_a_keyframe() {
        let mut a = AfterStall::default();
        // Backlog: continuous DTS, one stale keyframe among them.
        a.observe(0.2, false, Some(33));
        a.observe(0.3, true, Some(33));
        a.observe(0.4, false, Some(34));
        // Units were dropped: DTS jumps 4.2 s, on a keyframe.
        a.observe(310.0, true, Some(4200));
        a.observe(343.0, false, Some(33));
        assert_eq!(a.frames, 5);
        assert_eq!(
            (a.first_frame_ms, a.first_frame_keyframe),
            (Some(0.2), Some(false))
        );
        assert_eq!(
            (a.frames_before_keyframe, a.first_keyframe_ms),
            (Some(1), Some(0.3))
        );
        assert_eq!(a.resume_dts_gap_ms, Some(4200));
        assert_eq!((a.resume_keyframe, a.resume_ms), (Some(true), Some(310.0)));
        assert_eq!((a.backlog_frames, a.frames_after_resume), (Some(3), 2));
    }

    #[test]
    fn a_resume_on_a_delta_frame_is_recorded_as_such() {
        let mut a = AfterStall::default();
        a.observe(1.0, false, None);
        a.observe(2.0, false, Some(900));
        a.observe(3.0, false, Some(2000));
        assert_eq!(a.resume_keyframe, Some(false));
        assert_eq!(a.resume_dts_gap_ms, Some(900), "the first gap only");
        assert_eq!(a.frames_before_keyframe, None);
    }
}
