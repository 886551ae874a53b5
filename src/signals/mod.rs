//! Cross-stage signals, below every stage: keyframe requests (NATS
//! `keyframe` endpoint, sinks resuming after drops, RTMP reconnects) and the
//! producer's NATS status (contract §4, §5). Lock-free; any thread may set
//! them; the encode loop takes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

mod keyframe;
pub use keyframe::{KeyframePolicy, KeyframeReason};

/// Asks the encoder for a keyframe (with parameter sets) at the next frame:
/// for resets, reconnects and late joiners; and remembers when the last
/// keyframe went out, so the keyframe policy can count natural keyframes
/// too. Cheap to clone and to call from any thread.
#[derive(Debug, Clone)]
pub struct KeyframeRequests(Arc<KeyframeState>);

#[derive(Debug)]
struct KeyframeState {
    requested: AtomicBool,
    /// [`KeyframeRequests::request_from`]: past the limiter, at the first
    /// frame captured at or after this time; `u64::MAX`: none.
    urgent_from: AtomicU64,
    /// PTS of the last keyframe handed to the outputs; `u64::MAX`: none.
    last_pts: AtomicU64,
}

impl Default for KeyframeRequests {
    fn default() -> Self {
        Self(Arc::new(KeyframeState {
            requested: AtomicBool::new(false),
            urgent_from: AtomicU64::new(u64::MAX),
            last_pts: AtomicU64::new(u64::MAX),
        }))
    }
}

impl KeyframeRequests {
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::Relaxed);
    }

    pub(crate) fn take(&self) -> bool {
        self.0.requested.swap(false, Ordering::Relaxed)
    }

    /// A keyframe at the first frame captured at or after `capture_ts_ns`,
    /// whatever the limiter says: for one rare need of our own (a
    /// recording's common start, where each camera must begin), never for
    /// anything a peer or producer can trigger. The time, not "the next
    /// frame": the encoder may still be behind the moment the recorder
    /// learns the start (a camera's frames before it in flight), and a
    /// keyframe there would be trimmed with them.
    pub fn request_from(&self, capture_ts_ns: u64) {
        self.0.urgent_from.store(capture_ts_ns, Ordering::Relaxed);
    }

    /// Whether the frame captured at `capture_ts_ns` is the one
    /// [`Self::request_from`] asked for (the request is then spent).
    pub(crate) fn take_urgent(&self, capture_ts_ns: u64) -> bool {
        let from = self.0.urgent_from.load(Ordering::Relaxed);
        from != u64::MAX
            && capture_ts_ns >= from
            && self
                .0
                .urgent_from
                .compare_exchange(from, u64::MAX, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// A keyframe (forced or the GOP's own) with this PTS went out.
    pub(crate) fn keyframe_sent(&self, pts_ns: u64) {
        self.0.last_pts.store(pts_ns, Ordering::Relaxed);
    }

    /// The PTS of the last keyframe that went out.
    pub(crate) fn last_keyframe_pts(&self) -> Option<u64> {
        match self.0.last_pts.load(Ordering::Relaxed) {
            u64::MAX => None,
            pts => Some(pts),
        }
    }
}

/// What the producer last said about itself on `cvmmap.<key>.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProducerState {
    /// No status seen (NATS off, or the producer has not spoken yet).
    Unknown,
    Online,
    /// The producer is gone: idle, not an error; outputs stay connected.
    Offline,
}

/// Producer status and stream activity, shared by NATS and the pipeline.
#[derive(Debug)]
pub struct ProducerSignals {
    state: AtomicU8,
    reset_pending: AtomicBool,
    started: Instant,
    /// ms since `started` of the last frame handed to the encoder, + 1 (0: none yet).
    last_frame_ms: AtomicU64,
}

impl Default for ProducerSignals {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(0),
            reset_pending: AtomicBool::new(false),
            started: Instant::now(),
            last_frame_ms: AtomicU64::new(0),
        }
    }
}

impl ProducerSignals {
    pub fn set_state(&self, state: ProducerState) {
        let v = match state {
            ProducerState::Unknown => 0,
            ProducerState::Online => 1,
            ProducerState::Offline => 2,
        };
        self.state.store(v, Ordering::Relaxed);
    }

    pub fn state(&self) -> ProducerState {
        match self.state.load(Ordering::Relaxed) {
            1 => ProducerState::Online,
            2 => ProducerState::Offline,
            _ => ProducerState::Unknown,
        }
    }

    /// A STREAM_RESET: the next frame starts a new timeline with a keyframe.
    pub fn signal_reset(&self) {
        self.reset_pending.store(true, Ordering::Relaxed);
    }

    pub(crate) fn take_reset(&self) -> bool {
        self.reset_pending.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn frame_seen(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_frame_ms.store(ms + 1, Ordering::Relaxed);
    }

    /// Milliseconds since the last frame, `None` before the first.
    pub fn since_last_frame_ms(&self) -> Option<u64> {
        match self.last_frame_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some((self.started.elapsed().as_millis() as u64).saturating_sub(t - 1)),
        }
    }

    /// Milliseconds since the pipeline started.
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_asked_from_a_time_waits_for_a_frame_captured_then() {
        let k = KeyframeRequests::default();
        assert!(!k.take_urgent(5), "nothing asked");
        k.request_from(100);
        // Frames still in flight from before the start do not take it.
        assert!(!k.take_urgent(99));
        assert!(k.take_urgent(100));
        // Spent.
        assert!(!k.take_urgent(101));
        k.request_from(0);
        assert!(k.take_urgent(7));
    }

    #[test]
    fn reset_is_taken_once_and_state_round_trips() {
        let p = ProducerSignals::default();
        assert!(!p.take_reset());
        p.signal_reset();
        assert!(p.take_reset());
        assert!(!p.take_reset());
        for s in [
            ProducerState::Online,
            ProducerState::Offline,
            ProducerState::Unknown,
        ] {
            p.set_state(s);
            assert_eq!(p.state(), s);
        }
        assert_eq!(p.since_last_frame_ms(), None);
        p.frame_seen();
        assert!(p.since_last_frame_ms().unwrap() < 1000);
    }
}
