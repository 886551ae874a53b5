//! The top of the house: wires the stages and is imported by nothing but
//! the binaries.
//!
//! ingest thread -> latest-frame queue -> encode loop -> encoder (GStreamer
//! streaming thread) -> body SEI -> fan-out -> one thread per sink.

mod cadence;
mod encode_loop;
mod passthrough;
mod reset;
mod stream_clock;
mod timeline;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use tracing::info;

use crate::config::{Config, Source};
use crate::encode::{AccessUnitSink, EncodeError, EncoderReport, select};
use crate::ingest::dummy::run_dummy;
use crate::ingest::{AuxPlanes, Frame, IngestEnd, IngestError, LatestQueue, WantI420, run_ingest};
use crate::nats::{BodyStore, NatsContext, NatsLink, NatsSummary};
use crate::ops::metrics::{MetricsServer, ScrapeSource};
use crate::output::{ExtraSink, Fanout, OutputError, open_sinks};
pub use crate::signals::KeyframeRequests;
use crate::signals::ProducerSignals;
use crate::telemetry::prometheus::Scrape;
use crate::telemetry::{Counters, Events, LatencySummary, StageSummary, StatsSnapshot, add};
use encode_loop::{LoopContext, encode_loop};
use passthrough::Passthrough;

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
    #[error("cannot open the events file {path}: {source}")]
    Events {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] crate::ops::metrics::MetricsError),
}

impl PipelineError {
    /// The documented exit code (README "Exit codes"): every binary that
    /// runs a pipeline maps its errors here.
    pub fn exit_code(&self) -> u8 {
        use crate::record::RecordError;
        match self {
            PipelineError::Encode(
                EncodeError::MissingElement { .. }
                | EncodeError::Init(_)
                | EncodeError::Build { .. }
                | EncodeError::NvencUnavailable { .. },
            ) => 5,
            PipelineError::Output(
                OutputError::Bind { .. }
                | OutputError::Config { .. }
                | OutputError::Record(RecordError::Create { .. }),
            ) => 2,
            PipelineError::Events { .. } | PipelineError::Metrics(_) => 2,
            PipelineError::Output(OutputError::RtmpRejected { .. }) => 7,
            _ => 1,
        }
    }
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
    /// Each frame pushed into the encoder -> its access unit out, in ms
    /// (null when no unit came out of a GStreamer encoder).
    pub encode_latency_ms: Option<LatencySummary>,
    /// Capture stamp -> leaving each stage, in ms (wall-clock stamps only):
    /// where the time around the encoder goes.
    pub stage_latency_ms: StageSummary,
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
    keyframes: KeyframeRequests,
) -> Result<RunSummary, PipelineError> {
    run_with_extras(config, stop, keyframes, Extras::default())
}

/// Where a frame's DEPTH and CONFIDENCE planes go (with its capture time),
/// on the encode loop's thread before the frame is encoded: must not block.
pub type AuxSink = Arc<dyn Fn(u64, Box<AuxPlanes>) + Send + Sync>;

/// What a caller adds to a pipeline (the recorder: one pipeline per camera,
/// each forwarding to one file writer).
#[derive(Default)]
pub struct Extras {
    /// More sinks for the access units, each on its own thread.
    pub sinks: Vec<ExtraSink>,
    /// The frames' aux planes (the ingest copies them only when its config
    /// says `aux_planes`).
    pub aux: Option<AuxSink>,
    /// Valid body-tracking messages from NATS (with their frame's time).
    pub body: Option<crate::nats::BodySink>,
}

/// [`run_with`], with the caller's [`Extras`].
pub fn run_with_extras(
    config: &Config,
    stop: Arc<AtomicBool>,
    keyframes: KeyframeRequests,
    extras: Extras,
) -> Result<RunSummary, PipelineError> {
    let Extras {
        sinks: extra,
        aux,
        body: body_sink,
    } = extras;
    let started = Instant::now();
    let events = open_events(config)?;
    let counters = Counters::default();
    let producer = Arc::new(ProducerSignals::default());
    let body = config
        .nats
        .as_ref()
        .is_some_and(|n| n.body_sei)
        .then(|| Arc::new(BodyStore::default()));
    let fanout = Arc::new(Mutex::new(open_sinks(
        config,
        &counters,
        keyframes.clone(),
        events.clone(),
        stop.clone(),
        extra,
    )?));
    let sink = unit_sink(
        fanout.clone(),
        body.clone(),
        &counters,
        &events,
        keyframes.clone(),
    );
    // The producer's units and ours meet at the passthrough gate.
    let mut passthrough = Passthrough::new(sink, config.encoder.codec, counters.encode.clone());
    // The software encoder says when it wants I420; the ingest then converts
    // on its way out of shared memory.
    let want_i420 = Arc::new(WantI420::default());
    let (mut encoder, report) = select::open(
        &config.encoder,
        config.encoder_device,
        &config.test_hooks,
        passthrough.encoder_sink(),
        counters.encode.clone(),
        events.clone(),
        want_i420.clone(),
        counters.latency.clone(),
    )?;
    emit_encoder_selected(&events, &report);
    // Serves while the pipeline runs; stops when dropped at the end.
    let _metrics = match config.metrics_addr {
        Some(addr) => Some(MetricsServer::start(
            addr,
            scrape_source(config, &counters, &report, started),
        )?),
        None => None,
    };
    let nats = config.nats.as_ref().map(|cfg| {
        let ctx = NatsContext {
            counters: counters.clone(),
            events: events.clone(),
            keyframes: keyframes.clone(),
            producer: producer.clone(),
            body,
            body_sink,
            encoder: report.clone(),
            codec: config.encoder.codec,
        };
        NatsLink::start(cfg.clone(), ctx)
    });
    if nats.is_none() {
        info!("NATS disabled (--no-nats): no producer status, body tracking or control");
    }

    let queue = Arc::new(LatestQueue::new(config.queue_size));
    let source = spawn_source(config, &queue, &counters, &events, &stop, &want_i420);
    let ctx = LoopContext {
        counters: &counters,
        keyframes: &keyframes,
        producer: &producer,
        events: &events,
        status_interval: config.status_interval,
        keyframe_min_spacing: config.keyframe_min_spacing,
        aux: aux.as_ref(),
    };
    let encode_result = encode_loop(&queue, encoder.as_mut(), &mut passthrough, &ctx);
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
    events.emit("ingest_ended", json!({"reason": end}));
    let fatal = fanout.lock().unwrap_or_else(|p| p.into_inner()).finish();
    if let Some(e) = fatal {
        return Err(e.into());
    }

    let summary = RunSummary {
        end,
        encoder: report.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        codec: config.encoder.codec.to_string(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        stats: counters.snapshot(),
        encode_latency_ms: counters.latency.encode.summary(),
        stage_latency_ms: counters.latency.stages(),
        nats,
    };
    info!(?end, stats = ?summary.stats, "pipeline finished");
    if let Some(path) = &config.summary_json {
        summary.write_json(path)?;
    }
    Ok(summary)
}

/// What `/metrics` and `/readyz` show, read at each request.
fn scrape_source(
    config: &Config,
    counters: &Counters,
    report: &Arc<Mutex<EncoderReport>>,
    started: Instant,
) -> ScrapeSource {
    let (counters, report) = (counters.clone(), report.clone());
    let (codec, bitrate) = (
        config.encoder.codec.to_string(),
        config.encoder.bitrate_kbps,
    );
    Arc::new(move || {
        let stats = counters.snapshot();
        let ready = stats.encode.frames_encoded + stats.encode.frames_passthrough > 0;
        Scrape {
            stats,
            encoder: report.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            codec: codec.clone(),
            target_bitrate_kbps: bitrate,
            encode_latency_ms: counters.latency.encode.summary(),
            uptime_s: started.elapsed().as_secs_f64(),
            ready,
        }
    })
}

fn open_events(config: &Config) -> Result<Events, PipelineError> {
    match &config.events {
        Some(path) => Events::open(path).map_err(|source| PipelineError::Events {
            path: path.display().to_string(),
            source,
        }),
        None => Ok(Events::none()),
    }
}

fn emit_encoder_selected(events: &Events, report: &Mutex<EncoderReport>) {
    let r = report.lock().unwrap_or_else(|p| p.into_inner());
    events.emit(
        "encoder_selected",
        json!({"element": r.element, "backend": r.backend, "reason": r.reason}),
    );
}

/// Where the encoder's units go (on its streaming thread): body SEI, the
/// byte count, then the fan-out, which never blocks.
fn unit_sink(
    fanout: Arc<Mutex<Fanout>>,
    body: Option<Arc<BodyStore>>,
    counters: &Counters,
    events: &Events,
    keyframes: KeyframeRequests,
) -> AccessUnitSink {
    let (encode, nats, events) = (
        counters.encode.clone(),
        counters.nats.clone(),
        events.clone(),
    );
    // The picture size of the last keyframe sent: a change is an event.
    let size = std::sync::atomic::AtomicU64::new(0);
    Arc::new(move |au| {
        let au = match &body {
            Some(store) => store.attach(au, &nats),
            None => au,
        };
        if au.keyframe {
            keyframes.keyframe_sent(au.pts_ns);
            let now = u64::from(au.width) << 32 | u64::from(au.height);
            if size.swap(now, Ordering::Relaxed) != now {
                events.emit(
                    "stream_size",
                    serde_json::json!({"width": au.width, "height": au.height}),
                );
            }
        }
        add(&encode.access_unit_bytes, au.data.len() as u64);
        fanout.lock().unwrap_or_else(|p| p.into_inner()).publish(au);
    })
}

/// Starts the source thread; it closes the queue when it ends.
fn spawn_source(
    config: &Config,
    queue: &Arc<LatestQueue<Frame>>,
    counters: &Counters,
    events: &Events,
    stop: &Arc<AtomicBool>,
    want_i420: &Arc<WantI420>,
) -> JoinHandle<Result<IngestEnd, IngestError>> {
    let (queue, stats, latency, events, stop, source, want_i420) = (
        queue.clone(),
        counters.ingest.clone(),
        counters.latency.clone(),
        events.clone(),
        stop.clone(),
        config.source.clone(),
        want_i420.clone(),
    );
    std::thread::Builder::new()
        .name("ingest".into())
        .spawn(move || {
            let end = match &source {
                Source::Cvmmap(cfg) => {
                    run_ingest(cfg, &queue, &stats, &latency, &events, &stop, &want_i420)
                }
                Source::Dummy(cfg) => {
                    events.emit("ingest_started", json!({"source": "dummy"}));
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
}
