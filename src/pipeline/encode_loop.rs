//! The encode loop: takes frames from the latest-frame queue, places them
//! on the output timeline, decides forced keyframes, and hands them to the
//! encoder (or publishes the producer's own units with `--passthrough`).

use std::time::{Duration, Instant};

use serde_json::json;
use tracing::{info, warn};

use super::passthrough::Passthrough;
use super::reset::ResetTracker;
use super::timeline::Timeline;
use crate::encode::{EncodeError, EncodeInput, VideoEncoder};
use crate::ingest::{Frame, LatestQueue, Pop};
use crate::signals::{KeyframeRequests, ProducerSignals};
use crate::telemetry::{Counters, Events, incr};

/// What the loop reads and signals besides the queue and the encoder.
pub(crate) struct LoopContext<'a> {
    pub counters: &'a Counters,
    pub keyframes: &'a KeyframeRequests,
    pub producer: &'a ProducerSignals,
    pub events: &'a Events,
    /// Interval of the periodic status log line (zero: none).
    pub status_interval: Duration,
}

/// Runs until the queue closes (ingest ended) or the encoder fails.
pub(crate) fn encode_loop(
    queue: &LatestQueue<Frame>,
    encoder: &mut dyn VideoEncoder,
    passthrough: &mut Passthrough,
    ctx: &LoopContext,
) -> Result<(), EncodeError> {
    let mut placer = Placer::default();
    let mut last_status = Instant::now();
    loop {
        match queue.pop_timeout(Duration::from_millis(200)) {
            Pop::Item(frame) => {
                let (pts_ns, force) = placer.place(&frame, ctx);
                if frame.encoded.is_some() {
                    passthrough.publish(frame, pts_ns, &ctx.counters.encode);
                } else {
                    if passthrough.started && !passthrough.logged_raw {
                        passthrough.logged_raw = true;
                        warn!("a frame came without a matching encoded access unit: encoding it");
                    }
                    encoder.encode(EncodeInput {
                        frame,
                        pts_ns,
                        force_keyframe: force,
                    })?;
                }
            }
            Pop::TimedOut => {}
            Pop::Closed => return Ok(()),
        }
        if !ctx.status_interval.is_zero() && last_status.elapsed() >= ctx.status_interval {
            last_status = Instant::now();
            log_status(ctx.counters);
        }
    }
}

/// Places frames on the output timeline and decides forced keyframes.
#[derive(Default)]
struct Placer {
    timeline: Timeline,
    resets: ResetTracker,
}

impl Placer {
    /// The frame's presentation time, and whether it must be a keyframe.
    fn place(&mut self, frame: &Frame, ctx: &LoopContext) -> (u64, bool) {
        ctx.producer.frame_seen();
        let reset = self
            .resets
            .on_frame(frame.frame_count, ctx.producer.take_reset());
        if reset {
            incr(&ctx.counters.encode.resets_applied);
            info!(
                frame = frame.frame_count,
                "producer reset: new timeline, keyframe with parameter sets"
            );
        }
        let stamp = self.timeline.map(frame.capture_ts_ns);
        if stamp.discontinuity {
            warn!(
                pts_ns = stamp.pts_ns,
                "capture clock jumped: new timeline segment, forcing a keyframe"
            );
        }
        if frame.encoded.is_some() {
            // The producer's own units: we cannot force anything.
            return (stamp.pts_ns, false);
        }
        let reason = keyframe_reason(ctx, reset, stamp.discontinuity);
        if let Some(reason) = reason {
            incr(&ctx.counters.encode.keyframes_forced);
            ctx.events.emit(
                "keyframe_forced",
                json!({"reason": reason, "frame": frame.frame_count}),
            );
        }
        (stamp.pts_ns, reason.is_some())
    }
}

/// Why this frame must be a keyframe, if it must. A pending request is
/// taken (and so answered) whatever else applies.
fn keyframe_reason(ctx: &LoopContext, reset: bool, discontinuity: bool) -> Option<&'static str> {
    let requested = ctx.keyframes.take();
    if reset {
        Some("reset")
    } else if discontinuity {
        Some("discontinuity")
    } else if requested {
        Some("request")
    } else {
        None
    }
}

fn log_status(counters: &Counters) {
    let s = counters.snapshot();
    info!(
        ingested = s.ingest.frames_ingested,
        encoded = s.encode.frames_encoded,
        torn = s.ingest.frames_torn,
        dropped = s.ingest.frames_dropped_queue,
        access_units = s.encode.access_units,
        rtp_packets = s.rtp.rtp_packets_sent,
        "status"
    );
}
