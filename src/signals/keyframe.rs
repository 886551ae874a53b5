//! The keyframe policy: every reason to force a keyframe goes through one
//! limiter.
//!
//! Forced keyframes cost every viewer of the shared encoder several times a
//! P-frame's bytes, so whoever asks (a producer reset, a capture clock jump,
//! the NATS `keyframe` endpoint, a sink resuming after drops, an RTMP
//! reconnect) gets at most one forced keyframe per `min_spacing` frames.
//! A request inside that window is not lost: it is coalesced into one
//! pending keyframe, forced as soon as the window ends, and counted as
//! deferred. One source bypasses the window: the producer restarting
//! itself (its frame counter in shared memory going backwards), which only
//! the local producer can cause and after which a receiver that joined the
//! new timeline needs a keyframe at once. Pure frame counting: no clocks, so
//! it is tested exactly.

/// The default spacing's ceiling, in frames (a second at 30 fps).
pub const MAX_DEFAULT_SPACING: u64 = 30;

/// Why a keyframe is forced. Ordered by priority: when several reasons are
/// pending, the pending keyframe reports the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyframeReason {
    /// Somebody asked: NATS `keyframe`, a sink resuming, an RTMP reconnect.
    Request,
    /// The capture clock jumped: a new timeline segment.
    Discontinuity,
    /// The producer reset (counter back, or STREAM_RESET): a new timeline.
    Reset,
    /// A recording starts here (`KeyframeRequests::request_from`).
    RecordStart,
}

impl KeyframeReason {
    /// The name used in the `keyframe_forced` event.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyframeReason::Request => "request",
            KeyframeReason::Discontinuity => "discontinuity",
            KeyframeReason::Reset => "reset",
            KeyframeReason::RecordStart => "record_start",
        }
    }
}

/// What the policy decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Force this frame to be a keyframe, for this reason.
    pub force: Option<KeyframeReason>,
    /// A reason arrived with this frame but the window is still closed: it
    /// waits (coalesced with anything else pending).
    pub deferred: bool,
}

/// The limiter. Frame 0 of a session is a keyframe by itself (the encoder
/// starts with one), so the first window opens `min_spacing` frames in.
#[derive(Debug, Clone)]
pub struct KeyframePolicy {
    /// Frames between two forced keyframes, at least; 0: no limit.
    min_spacing: u64,
    /// Frames seen so far.
    frames: u64,
    /// The frame index of the last keyframe we know of (forced or start).
    last_keyframe: u64,
    pending: Option<KeyframeReason>,
}

impl KeyframePolicy {
    pub fn new(min_spacing: u64) -> Self {
        Self {
            min_spacing,
            frames: 0,
            last_keyframe: 0,
            pending: None,
        }
    }

    /// The default spacing: half a GOP (at least one frame), at most
    /// [`MAX_DEFAULT_SPACING`] frames: a long GOP (a recording at GOP 1000)
    /// must not make a viewer wait half a minute for the keyframe of a reset.
    pub fn half_gop(gop: u32) -> u64 {
        u64::from(gop / 2).clamp(1, MAX_DEFAULT_SPACING)
    }

    /// A keyframe went out `frames_ago` frames before the next one (the
    /// GOP's own, seen at the output): it opens a new window like a forced
    /// one, so a request right after it waits instead of doubling it.
    pub fn keyframe_seen(&mut self, frames_ago: u64) {
        let at = self.frames.saturating_sub(frames_ago);
        self.last_keyframe = self.last_keyframe.max(at);
    }

    /// The next frame is a keyframe whatever the window says (a producer
    /// restart); it answers anything pending and opens a new window.
    pub fn force_now(&mut self, reason: KeyframeReason) -> Decision {
        let index = self.frames;
        self.frames += 1;
        self.pending = None;
        self.last_keyframe = index;
        Decision {
            force: Some(reason),
            deferred: false,
        }
    }

    /// Decides for the next frame; `wanted` is the strongest reason that
    /// arrived since the previous frame, if any.
    pub fn on_frame(&mut self, wanted: Option<KeyframeReason>) -> Decision {
        let index = self.frames;
        self.frames += 1;
        if index == 0 {
            // The session's first frame is a keyframe whatever was asked.
            self.pending = None;
            return Decision {
                force: wanted,
                deferred: false,
            };
        }
        self.pending = self.pending.max(wanted);
        let Some(reason) = self.pending else {
            return Decision::default();
        };
        if index - self.last_keyframe >= self.min_spacing {
            self.pending = None;
            self.last_keyframe = index;
            Decision {
                force: Some(reason),
                deferred: false,
            }
        } else {
            Decision {
                force: None,
                deferred: wanted.is_some(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyframeReason::*;

    fn run(
        policy: &mut KeyframePolicy,
        asks: impl Fn(u64) -> Option<KeyframeReason>,
        n: u64,
    ) -> Vec<u64> {
        (0..n)
            .filter(|&i| policy.on_frame(asks(i)).force.is_some())
            .collect()
    }

    fn run_from(
        policy: &mut KeyframePolicy,
        first: u64,
        asks: impl Fn(u64) -> Option<KeyframeReason>,
        n: u64,
    ) -> Vec<u64> {
        (first..n)
            .filter(|&i| policy.on_frame(asks(i)).force.is_some())
            .collect()
    }

    #[test]
    fn a_flood_yields_one_keyframe_per_window() {
        // A request with every frame for 150 frames, GOP 30: forced at
        // 15, 30, 45, ... (frame 0 is the session's own keyframe).
        let mut p = KeyframePolicy::new(KeyframePolicy::half_gop(30));
        let forced = run(&mut p, |_| Some(Request), 150);
        assert_eq!(forced, (0..150).step_by(15).collect::<Vec<_>>());
    }

    #[test]
    fn a_request_inside_the_window_waits_and_is_not_lost() {
        let mut p = KeyframePolicy::new(10);
        assert_eq!(p.on_frame(None), Decision::default());
        for _ in 1..3 {
            p.on_frame(None);
        }
        // Frame 3 asks: deferred until frame 10.
        assert_eq!(
            p.on_frame(Some(Request)),
            Decision {
                force: None,
                deferred: true
            }
        );
        for i in 4..10 {
            assert_eq!(p.on_frame(None), Decision::default(), "frame {i}");
        }
        assert_eq!(p.on_frame(None).force, Some(Request), "frame 10");
        assert_eq!(p.on_frame(None).force, None, "answered once");
    }

    #[test]
    fn pending_reasons_coalesce_to_the_strongest() {
        let mut p = KeyframePolicy::new(5);
        p.on_frame(None);
        p.on_frame(Some(Request));
        p.on_frame(Some(Reset));
        p.on_frame(Some(Discontinuity));
        p.on_frame(None);
        assert_eq!(p.on_frame(None).force, Some(Reset));
    }

    /// A request just after the GOP's own keyframe waits a window too.
    #[test]
    fn a_natural_keyframe_opens_a_window() {
        let mut p = KeyframePolicy::new(15);
        for _ in 0..30 {
            p.on_frame(None);
        }
        p.keyframe_seen(0); // frame 30 is the GOP's keyframe
        let forced = run_from(&mut p, 30, |i| (i == 33).then_some(Request), 60);
        assert_eq!(forced, [45]);
    }

    #[test]
    fn a_producer_restart_is_forced_at_once_and_opens_a_window() {
        let mut p = KeyframePolicy::new(15);
        p.on_frame(None);
        p.on_frame(Some(Request));
        assert_eq!(p.force_now(Reset).force, Some(Reset), "frame 2");
        let forced = run_from(&mut p, 3, |_| Some(Request), 20);
        assert_eq!(forced, [17], "the pending request was answered by it");
    }

    #[test]
    fn spacing_zero_forces_every_asked_frame() {
        let mut p = KeyframePolicy::new(0);
        let forced = run(&mut p, |i| (i % 2 == 1).then_some(Request), 6);
        assert_eq!(forced, [1, 3, 5]);
    }

    #[test]
    fn a_request_after_a_quiet_window_is_answered_at_once() {
        let mut p = KeyframePolicy::new(15);
        let forced = run(
            &mut p,
            |i| (i == 40 || i == 41 || i == 70).then_some(Request),
            80,
        );
        // 41 comes inside 40's window: deferred to 55, not dropped.
        assert_eq!(forced, [40, 55, 70]);
    }
}
