//! Wires the stages: source thread -> latest-frame queue -> encoder ->
//! outputs (called on the encoder's streaming thread; they never block).

pub mod body;
pub mod control;
pub mod stats;
pub mod timeline;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

pub use control::{KeyframeRequests, ProducerSignals, ProducerState};
pub use stats::{Stats, StatsSnapshot};
pub use timeline::{Stamp, Timeline};

use crate::config::{Config, Source};
use crate::encode::{
    AccessUnitSink, EncodeError, EncodeInput, EncoderReport, VideoEncoder, select,
};
use crate::ingest::dummy::run_dummy;
use crate::ingest::{IngestEnd, IngestError, LatestQueue, Pop, run_ingest};
use crate::nats::{NatsContext, NatsLink, NatsSummary};
use crate::output::{OutputError, Outputs};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot write the summary {path}: {source}")]
    Summary {
        path: String,
        source: std::io::Error,
    },
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `--ingest-max-frames` (or `--dummy-frames`) reached.
    MaxFrames,
    /// `--ingest-idle-timeout-ms` elapsed without a frame.
    IdleTimeout,
    /// SIGINT or SIGTERM.
    Stopped,
}

impl From<IngestEnd> for EndReason {
    fn from(e: IngestEnd) -> Self {
        match e {
            IngestEnd::MaxFrames => EndReason::MaxFrames,
            IngestEnd::IdleTimeout => EndReason::IdleTimeout,
            IngestEnd::Stopped => EndReason::Stopped,
        }
    }
}

/// What a run did: written as `--summary-json` and logged at exit.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub end: EndReason,
    /// The encoder that ran, and why (a fallback updates it).
    pub encoder: EncoderReport,
    pub codec: String,
    pub elapsed_ms: u64,
    pub stats: StatsSnapshot,
    /// Whether NATS took part, and what the producer said of itself.
    pub nats: NatsSummary,
}

impl RunSummary {
    pub fn write_json(&self, path: &Path) -> Result<(), PipelineError> {
        let text = serde_json::to_string(self).expect("summary serialises");
        std::fs::write(path, text + "\n").map_err(|source| PipelineError::Summary {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Runs the pipeline until the source ends or `stop` is set.
pub fn run(config: &Config, stop: Arc<AtomicBool>) -> Result<RunSummary, PipelineError> {
    run_with(config, stop, KeyframeRequests::default())
}

/// [`run`], with a handle through which others can force keyframes.
pub fn run_with(
    config: &Config,
    stop: Arc<AtomicBool>,
    keyframe_requests: KeyframeRequests,
) -> Result<RunSummary, PipelineError> {
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let producer = Arc::new(ProducerSignals::default());
    let body = config
        .nats
        .as_ref()
        .is_some_and(|n| n.body_sei)
        .then(|| Arc::new(body::BodyStore::default()));
    let outputs = Arc::new(Mutex::new(Outputs::open(
        config,
        stats.clone(),
        keyframe_requests.clone(),
        stop.clone(),
    )?));
    let sink: AccessUnitSink = {
        let (outputs, stats, body) = (outputs.clone(), stats.clone(), body.clone());
        Arc::new(move |au| {
            let au = match &body {
                Some(store) => store.attach(au, &stats),
                None => au,
            };
            Stats::add(&stats.access_unit_bytes, au.data.len() as u64);
            outputs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .publish(&au)
        })
    };
    let (mut encoder, report) = select::open(
        &config.encoder,
        config.encoder_device,
        config.test_hw_encoder,
        sink.clone(),
        stats.clone(),
    )?;
    let nats = match &config.nats {
        Some(cfg) => Some(NatsLink::start(
            cfg.clone(),
            NatsContext {
                stats: stats.clone(),
                keyframes: keyframe_requests.clone(),
                producer: producer.clone(),
                body,
                encoder: report.clone(),
                codec: config.encoder.codec,
            },
        )),
        None => {
            info!("NATS disabled (--no-nats): no producer status, body tracking or control");
            None
        }
    };
    let mut passthrough = Passthrough {
        sink,
        codec: config.encoder.codec,
        started: false,
        logged_raw: false,
        last_frame: None,
    };

    let queue = Arc::new(LatestQueue::new(config.queue_size));
    let source = {
        let (queue, stats, stop, source) = (
            queue.clone(),
            stats.clone(),
            stop.clone(),
            config.source.clone(),
        );
        std::thread::Builder::new()
            .name("ingest".into())
            .spawn(move || {
                let end = match &source {
                    Source::Cvmmap(cfg) => run_ingest(cfg, &queue, &stats, &stop),
                    Source::Dummy(cfg) => {
                        run_dummy(cfg, &queue, &stats, &stop);
                        Ok(if stop.load(Ordering::Relaxed) {
                            IngestEnd::Stopped
                        } else {
                            IngestEnd::MaxFrames
                        })
                    }
                };
                queue.close();
                end
            })
            .expect("spawn ingest thread")
    };

    let encode_result = encode_loop(
        config,
        &queue,
        encoder.as_mut(),
        &mut passthrough,
        &stats,
        &keyframe_requests,
        &producer,
    );
    if encode_result.is_err() {
        // Stop the source so that the join below returns.
        stop.store(true, Ordering::Relaxed);
        queue.close();
    }
    let end = source.join().expect("ingest thread panicked");
    let finished = encode_result.and_then(|()| encoder.finish());
    // The last NATS status says "stopped" with the final counters.
    let nats = nats.map_or_else(NatsSummary::disabled, NatsLink::finish);
    finished?;
    let end: EndReason = end?.into();
    let fatal = {
        let mut outputs = outputs.lock().unwrap_or_else(|p| p.into_inner());
        outputs.finish();
        outputs.take_fatal()
    };
    if let Some(e) = fatal {
        return Err(e.into());
    }

    let summary = RunSummary {
        end,
        encoder: report.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        codec: config.encoder.codec.to_string(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        stats: stats.snapshot(),
        nats,
    };
    info!(?end, stats = ?summary.stats, "pipeline finished");
    if let Some(path) = &config.summary_json {
        summary.write_json(path)?;
    }
    Ok(summary)
}

fn encode_loop(
    config: &Config,
    queue: &LatestQueue<crate::ingest::Frame>,
    encoder: &mut dyn VideoEncoder,
    passthrough: &mut Passthrough,
    stats: &Stats,
    keyframe_requests: &KeyframeRequests,
    producer: &ProducerSignals,
) -> Result<(), EncodeError> {
    let mut timeline = Timeline::new();
    let mut last_status = Instant::now();
    let mut resets = ResetTracker::default();
    loop {
        match queue.pop_timeout(Duration::from_millis(200)) {
            Pop::Item(frame) => {
                producer.frame_seen();
                let reset = resets.on_frame(frame.frame_count, producer.take_reset());
                if reset {
                    Stats::incr(&stats.resets_applied);
                    info!(
                        frame = frame.frame_count,
                        "producer reset: new timeline, keyframe with parameter sets"
                    );
                }
                let stamp = timeline.map(frame.capture_ts_ns);
                if stamp.discontinuity {
                    warn!(
                        pts_ns = stamp.pts_ns,
                        "capture clock jumped: new timeline segment, forcing a keyframe"
                    );
                }
                if frame.encoded.is_some() {
                    passthrough.publish(frame, stamp.pts_ns, stats);
                } else {
                    if passthrough.started && !passthrough.logged_raw {
                        passthrough.logged_raw = true;
                        warn!("a frame came without a matching encoded access unit: encoding it");
                    }
                    let force_keyframe = keyframe_requests.take() || stamp.discontinuity || reset;
                    if force_keyframe {
                        Stats::incr(&stats.keyframes_forced);
                    }
                    encoder.encode(EncodeInput {
                        frame,
                        pts_ns: stamp.pts_ns,
                        force_keyframe,
                    })?;
                }
            }
            Pop::TimedOut => {}
            Pop::Closed => return Ok(()),
        }
        if !config.status_interval.is_zero() && last_status.elapsed() >= config.status_interval {
            last_status = Instant::now();
            let s = stats.snapshot();
            info!(
                ingested = s.frames_ingested,
                encoded = s.frames_encoded,
                torn = s.frames_torn,
                dropped = s.frames_dropped_queue,
                access_units = s.access_units,
                rtp_packets = s.rtp_packets_sent,
                "status"
            );
        }
    }
}

/// Decides when a producer reset starts a new timeline (contract §5): the
/// frame counter going backwards always does (it marks the exact frame); a
/// STREAM_RESET event does unless a counter reset was just applied, since a
/// producer usually sends both for one reset.
#[derive(Debug, Default)]
struct ResetTracker {
    last_count: Option<u32>,
    frames: u64,
    last_counter_reset: Option<u64>,
}

/// A STREAM_RESET within this many frames of a counter reset is the same reset.
const SAME_RESET_FRAMES: u64 = 3;

impl ResetTracker {
    fn on_frame(&mut self, frame_count: u32, stream_reset_event: bool) -> bool {
        self.frames += 1;
        if self.last_count.is_some_and(|l| frame_count < l) {
            self.last_counter_reset = Some(self.frames);
            self.last_count = Some(frame_count);
            return true;
        }
        self.last_count = Some(frame_count);
        stream_reset_event
            && self
                .last_counter_reset
                .is_none_or(|at| self.frames - at > SAME_RESET_FRAMES)
    }
}

/// Publishes the producer's own access units (`--passthrough`), starting at
/// the first keyframe: a decoder cannot start mid-GOP.
struct Passthrough {
    sink: AccessUnitSink,
    codec: crate::encode::Codec,
    started: bool,
    logged_raw: bool,
    last_frame: Option<u32>,
}

impl Passthrough {
    fn publish(&mut self, frame: crate::ingest::Frame, pts_ns: u64, stats: &Stats) {
        let Some(unit) = frame.encoded else { return };
        // A unit lost before this one (queue drop, torn read) breaks the
        // reference chain: wait for the next keyframe again.
        let contiguous = self
            .last_frame
            .is_some_and(|l| frame.frame_count == l.wrapping_add(1));
        self.last_frame = Some(frame.frame_count);
        if self.started && !contiguous && !unit.keyframe {
            warn!(
                frame = frame.frame_count,
                "passthrough: a unit was lost; waiting for the next keyframe"
            );
            self.started = false;
        }
        if !self.started && !unit.keyframe {
            Stats::incr(&stats.passthrough_skipped);
            return;
        }
        if !self.started {
            info!("passthrough: publishing the producer's access units without re-encoding");
        }
        self.started = true;
        Stats::incr(&stats.frames_passthrough);
        (self.sink)(crate::encode::AccessUnit {
            codec: self.codec,
            data: unit.data,
            pts_ns,
            dts_ns: pts_ns as i64,
            keyframe: unit.keyframe,
            capture_ts_ns: frame.capture_ts_ns,
            width: frame.geometry.width,
            height: frame.geometry.height,
        });
    }
}

#[cfg(test)]
mod reset_tests {
    use super::ResetTracker;

    #[test]
    fn counter_and_event_for_one_reset_force_one_keyframe() {
        let mut t = ResetTracker::default();
        assert!(!t.on_frame(10, false));
        assert!(t.on_frame(0, false));
        assert!(!t.on_frame(1, true), "event right after the counter reset");
        // Counter and event on the same frame.
        assert!(t.on_frame(0, true));
        // An event alone, far from any counter reset.
        for c in 1..10 {
            assert!(!t.on_frame(c, false));
        }
        assert!(t.on_frame(10, true));
    }
}
