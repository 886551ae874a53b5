//! The encode loop: takes frames from the latest-frame queue, places them
//! on the output timeline, decides forced keyframes, and hands them to the
//! encoder (or publishes the producer's own units with `--passthrough`).

use std::time::{Duration, Instant};

use serde_json::json;
use tracing::{info, warn};

use super::cadence::Cadence;
use super::passthrough::Passthrough;
use super::reset::{Reset, ResetTracker};
use super::timeline::Timeline;
use crate::encode::{EncodeError, EncodeInput, VideoEncoder};
use crate::ingest::{Frame, LatestQueue, Pop};
use crate::signals::{KeyframePolicy, KeyframeReason, KeyframeRequests, ProducerSignals};
use crate::telemetry::{Counters, Events, incr};

/// What the loop reads and signals besides the queue and the encoder.
pub(crate) struct LoopContext<'a> {
    pub counters: &'a Counters,
    pub keyframes: &'a KeyframeRequests,
    pub producer: &'a ProducerSignals,
    pub events: &'a Events,
    /// Interval of the periodic status log line (zero: none).
    pub status_interval: Duration,
    /// Fewest frames between two forced keyframes (the limiter's window).
    pub keyframe_min_spacing: u64,
    /// Where the frames' aux planes go (the recorder), if anywhere.
    pub aux: Option<&'a super::AuxSink>,
}

/// Runs until the queue closes (ingest ended) or the encoder fails.
pub(crate) fn encode_loop(
    queue: &LatestQueue<Frame>,
    encoder: &mut dyn VideoEncoder,
    passthrough: &mut Passthrough,
    ctx: &LoopContext,
) -> Result<(), EncodeError> {
    let mut placer = Placer::new(ctx.keyframe_min_spacing);
    let mut last_status = Instant::now();
    loop {
        match queue.pop_timeout(Duration::from_millis(200)) {
            Pop::Item(mut frame) => {
                if let Some(aux) = frame.aux.take()
                    && let Some(sink) = ctx.aux
                {
                    sink(frame.capture_ts_ns, aux);
                }
                let placed = placer.place(&frame, ctx);
                if frame.encoded.is_some() {
                    passthrough.publish(frame, placed.pts_ns, &ctx.counters.encode);
                } else {
                    // Switching the outputs to our stream needs our keyframe
                    // now, whatever the limiter says.
                    let switch = passthrough.on_raw_frame();
                    encoder.encode(EncodeInput {
                        frame,
                        pts_ns: placed.pts_ns,
                        force_keyframe: placed.force_keyframe || switch,
                        frame_rate: placed.frame_rate,
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

/// Where a frame goes on the output timeline, and how to encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placed {
    pts_ns: u64,
    force_keyframe: bool,
    /// The producer's stated rate, else the measured cadence.
    frame_rate: Option<(u32, u32)>,
}

/// Places frames on the output timeline and decides forced keyframes.
struct Placer {
    timeline: Timeline,
    resets: ResetTracker,
    keyframes: KeyframePolicy,
    cadence: Cadence,
}

impl Placer {
    fn new(keyframe_min_spacing: u64) -> Self {
        Self {
            timeline: Timeline::default(),
            resets: ResetTracker::default(),
            keyframes: KeyframePolicy::new(keyframe_min_spacing),
            cadence: Cadence::default(),
        }
    }

    /// The frame's presentation time, whether it must be a keyframe, and
    /// the source's frame rate.
    fn place(&mut self, frame: &Frame, ctx: &LoopContext) -> Placed {
        ctx.producer.frame_seen();
        let reset = self
            .resets
            .on_frame(frame.frame_count, ctx.producer.take_reset());
        if let Some(kind) = reset {
            incr(&ctx.counters.encode.resets_applied);
            // A new timeline: the next output follows the last one by one
            // frame interval, wherever the producer's new clock starts.
            self.timeline.restart();
            info!(
                frame = frame.frame_count,
                ?kind,
                "producer reset: new timeline, keyframe with parameter sets"
            );
        }
        let reset_kind = reset;
        let reset = reset.is_some();
        let stamp = self.timeline.map(frame.capture_ts_ns);
        if stamp.discontinuity && !reset {
            warn!(
                pts_ns = stamp.pts_ns,
                "capture clock jumped: new timeline segment, forcing a keyframe"
            );
        }
        self.cadence.observe(
            frame.capture_ts_ns,
            frame.frame_count,
            reset || stamp.discontinuity,
        );
        let mut placed = Placed {
            pts_ns: stamp.pts_ns,
            force_keyframe: false,
            frame_rate: frame.frame_rate.or_else(|| self.cadence.rate()),
        };
        if frame.encoded.is_some() {
            // The producer's own units: we cannot force anything.
            return placed;
        }
        if let Some(sent) = ctx.keyframes.last_keyframe_pts()
            && stamp.pts_ns >= sent
        {
            let ago = (stamp.pts_ns - sent) / self.timeline.interval_ns().max(1);
            self.keyframes.keyframe_seen(ago);
        }
        let wanted = keyframe_reason(ctx, reset, stamp.discontinuity);
        let decision = if reset_kind == Some(Reset::Counter) {
            // The producer restarted itself: a keyframe now (see the policy).
            self.keyframes.force_now(KeyframeReason::Reset)
        } else if ctx.keyframes.take_urgent(frame.capture_ts_ns) {
            self.keyframes.force_now(KeyframeReason::RecordStart)
        } else {
            self.keyframes.on_frame(wanted)
        };
        if decision.deferred {
            incr(&ctx.counters.encode.keyframes_deferred);
        }
        if let Some(reason) = decision.force {
            incr(&ctx.counters.encode.keyframes_forced);
            ctx.events.emit(
                "keyframe_forced",
                json!({"reason": reason.as_str(), "frame": frame.frame_count}),
            );
        }
        placed.force_keyframe = decision.force.is_some();
        placed
    }
}

/// The strongest reason this frame brings to force a keyframe. A pending
/// request is taken whatever else applies (the policy coalesces them).
fn keyframe_reason(ctx: &LoopContext, reset: bool, discontinuity: bool) -> Option<KeyframeReason> {
    let requested = ctx.keyframes.take();
    if reset {
        Some(KeyframeReason::Reset)
    } else if discontinuity {
        Some(KeyframeReason::Discontinuity)
    } else if requested {
        Some(KeyframeReason::Request)
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
        rtmp_units = s.rtmp.rtmp_units_sent,
        rtmp_dropped = s.rtmp.rtmp_units_dropped,
        rtcp_pli = s.rtcp.rtcp_pli_received,
        rtcp_fir = s.rtcp.rtcp_fir_received,
        rtcp_rtt_ms = ?s.rtcp.rtt_ms(),
        rtcp_jitter_ms = ?s.rtcp.jitter_ms(),
        "status"
    );
}

#[cfg(test)]
#[path = "encode_loop_tests.rs"]
mod tests;
