//! `cvmmap_record`: several live cv-mmap cameras into one MCAP file.
//!
//! One streamer pipeline per camera (the same ingest, NVENC/software
//! selection, keyframe policy and NATS link as `cvmmap_streamer`), each
//! with one extra sink that forwards its access units ([`forward`]) over a
//! bounded channel to a single writer thread ([`writer`]) that owns the
//! file: it merges the cameras by capture time and trims them to the
//! window asked for (`record::merge`), bundles them (`record::bundle`) and
//! writes (`record::McapRecording`).
//!
//! A slow disk fills the channel; each camera's forwarding sink then
//! blocks on its own thread and its lane in the fan-out drops to the next
//! keyframe (counted per camera), never the encoder. The writer stops
//! every camera when the window is complete; the run ends when every
//! camera has ended (idle, frame limit, signal).

mod aux;
mod forward;
mod progress;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use crate::config::Config;
use crate::encode::{EncoderDevice, EncoderReport};
use crate::nats::NatsSummary;
use crate::output::ExtraSink;
use crate::pipeline::{self, EndReason, KeyframeRequests, PipelineError};
use crate::record::bundle::{BundleStats, Policy};
use crate::record::merge::{Range, Trimmed};
use crate::record::{ChannelStats, RecordError, RecordOptions};
use crate::telemetry::StatsSnapshot;

pub use aux::DepthFormat;
pub use progress::ProgressMode;

/// Units queued between the cameras and the writer (all cameras).
const WRITER_QUEUE: usize = 64;
/// Units a camera may hold while the merge waits for the others: about
/// 8 s at 30 fps (a camera that stalls without ending).
const MAX_HOLD: usize = 256;
/// Sources whose first capture times are further apart than this are on
/// different clocks (contract §6: live producers stamp Unix-epoch ns).
pub const MAX_START_SPREAD_NS: u64 = 600_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("camera {label}: {source}")]
    Pipeline {
        label: String,
        #[source]
        source: PipelineError,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Mp4(#[from] crate::output::OutputError),
    #[error(
        "cameras {first} and {other} started {spread_s:.0} s apart: their timestamps are not on one clock (contract §6 wants Unix-epoch ns); record them separately"
    )]
    TimestampDomains {
        first: String,
        other: String,
        spread_s: f64,
    },
    #[error("cannot write the summary {path}: {source}")]
    Summary {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RecorderError {
    /// The documented exit code (the streamer's for a camera's pipeline).
    pub fn exit_code(&self) -> u8 {
        match self {
            RecorderError::Pipeline { source, .. } => source.exit_code(),
            RecorderError::Record(RecordError::Create { .. }) => 2,
            RecorderError::Mp4(crate::output::OutputError::Record(RecordError::Create {
                ..
            })) => 2,
            RecorderError::Record(_) | RecorderError::Mp4(_) | RecorderError::Summary { .. } => 1,
            RecorderError::TimestampDomains { .. } => 1,
        }
    }
}

/// `--bundle-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "policy")]
pub enum BundlePolicy {
    Nearest,
    Strict { tolerance_ns: u64 },
    Copy { range: CopyRange },
}

/// `--copy-range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CopyRange {
    /// Trim every camera to the window they all cover.
    Common,
    /// Keep each camera's whole range.
    Full,
}

/// One camera: its label (topic `/<label>/...`) and the pipeline that
/// encodes it (no outputs of its own).
#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub label: String,
    pub pipeline: Config,
    /// Why its encoder device is what it is (`--max-nvenc-sessions`).
    pub device_reason: String,
    /// `--mp4`: its video as MP4 too.
    pub mp4: Option<PathBuf>,
}

/// Everything `cvmmap_record` runs, validated.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub cameras: Vec<CameraConfig>,
    pub output: PathBuf,
    pub options: RecordOptions,
    pub policy: BundlePolicy,
    /// `--start-frame` / `--end-frame` (bundle indices, inclusive).
    pub start_frame: u64,
    pub end_frame: Option<u64>,
    pub duration: Option<Duration>,
    /// `--max-frames`: bundles (nearest, strict) or units per camera (copy).
    pub max_frames: Option<u64>,
    pub summary_json: Option<PathBuf>,
    pub status_interval: Duration,
    pub progress: ProgressMode,
    pub depth_format: DepthFormat,
}

/// What one camera did.
#[derive(Debug, Clone, Serialize)]
pub struct CameraSummary {
    pub label: String,
    pub end: Option<EndReason>,
    pub error: Option<String>,
    pub device_requested: EncoderDevice,
    pub device_reason: String,
    pub encoder: Option<EncoderReport>,
    /// Video messages written.
    pub written: u64,
    /// Depth and confidence images written.
    pub aux_written: u64,
    /// Body-tracking messages written (`/<label>/body`).
    pub bodies_written: u64,
    pub trimmed: Trimmed,
    /// Units its lane dropped because the writer was behind.
    pub units_dropped: u64,
    /// Depth/confidence frames and body messages dropped because the
    /// writer's queue was full (they never wait: the encode loop and the
    /// NATS task must not block).
    pub side_dropped: u64,
    pub stats: Option<StatsSnapshot>,
    pub nats: Option<NatsSummary>,
}

/// Written as `--summary-json`.
#[derive(Debug, Clone, Serialize)]
pub struct RecordSummary {
    pub output: PathBuf,
    pub policy: BundlePolicy,
    pub common_start_ns: Option<u64>,
    pub elapsed_ms: u64,
    pub finished: bool,
    pub cameras: Vec<CameraSummary>,
    pub channels: Vec<ChannelStats>,
    pub bundles: Option<BundleStats>,
}

/// Records until every camera has ended or the window is complete.
pub fn run(cfg: &RecorderConfig, stop: Arc<AtomicBool>) -> Result<RecordSummary, RecorderError> {
    let started = Instant::now();
    let labels: Vec<String> = cfg.cameras.iter().map(|c| c.label.clone()).collect();
    let keyframes: Vec<KeyframeRequests> = cfg
        .cameras
        .iter()
        .map(|_| KeyframeRequests::default())
        .collect();
    let (tx, rx) = sync_channel(WRITER_QUEUE);
    let mut file = writer::open(cfg, &labels)?;
    file.write_metadata("cvmmap.recording", recording_metadata(cfg))?;
    let progress = progress::Progress::new(cfg.progress, &labels, cfg.status_interval);
    let writer = writer::spawn(
        file,
        writer::Plan {
            labels: labels.clone(),
            range: range_of(cfg.policy),
            bundle: bundle_policy(cfg.policy),
            start_frame: cfg.start_frame,
            end_frame: cfg.end_frame,
            duration_ns: cfg.duration.map(|d| d.as_nanos() as u64),
            max_frames: cfg.max_frames,
            max_hold: MAX_HOLD,
            max_start_spread_ns: (cfg.cameras.len() > 1).then_some(MAX_START_SPREAD_NS),
            depth_format: cfg.depth_format,
        },
        rx,
        keyframes.clone(),
        stop.clone(),
        progress.clone(),
    );

    let dropped: Vec<Arc<AtomicU64>> = cfg.cameras.iter().map(|_| Arc::default()).collect();
    let side_dropped: Vec<Arc<AtomicU64>> = cfg.cameras.iter().map(|_| Arc::default()).collect();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = cfg
            .cameras
            .iter()
            .enumerate()
            .map(|(i, cam)| {
                let (tx, stop, kf, dropped, progress) = (
                    tx.clone(),
                    stop.clone(),
                    keyframes[i].clone(),
                    dropped[i].clone(),
                    progress.clone(),
                );
                let (aux_dropped, body_dropped) =
                    (side_dropped[i].clone(), side_dropped[i].clone());
                std::thread::Builder::new()
                    .name(format!("camera-{i}"))
                    .spawn_scoped(scope, move || {
                        let sink = ExtraSink {
                            sink: Box::new(forward::Forward::new(i, tx.clone())),
                            dropped: Arc::new(move |n| {
                                dropped.fetch_add(n, Ordering::Relaxed);
                                progress.dropped(i, n);
                            }),
                        };
                        let aux_tx = tx.clone();
                        let aux: pipeline::AuxSink = Arc::new(move |ts_ns, planes| {
                            // On the encode loop's thread: never block it;
                            // a full queue drops the planes (counted).
                            let sent = aux_tx.try_send(writer::Msg::Aux {
                                source: i,
                                ts_ns,
                                planes,
                            });
                            if matches!(sent, Err(TrySendError::Full(_))) {
                                aux_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        });
                        let body_tx = tx.clone();
                        let body: crate::nats::BodySink = Arc::new(move |ts_ns, message| {
                            // On the NATS task: never block it (counted).
                            let sent = body_tx.try_send(writer::Msg::Body {
                                source: i,
                                ts_ns,
                                message: message.to_vec(),
                            });
                            if matches!(sent, Err(TrySendError::Full(_))) {
                                body_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        });
                        let extras = pipeline::Extras {
                            sinks: vec![sink],
                            aux: Some(aux),
                            body: Some(body),
                        };
                        let result =
                            pipeline::run_with_extras(&cam.pipeline, stop.clone(), kf, extras);
                        if result.is_err() {
                            // One camera failing ends the recording: the
                            // others stop and the file is finished.
                            stop.store(true, Ordering::Relaxed);
                        }
                        if let Ok(s) = &result
                            && let Some(info) = &s.nats.source_info
                        {
                            let _ = tx.send(writer::Msg::Metadata {
                                name: format!("source.info/{}", cam.label),
                                values: flatten_json(info),
                            });
                        }
                        let _ = tx.send(writer::Msg::End { source: i });
                        result
                    })
                    .expect("spawn camera thread")
            })
            .collect();
        drop(tx);
        handles
            .into_iter()
            .map(|h| h.join().expect("camera thread panicked"))
            .collect()
    });
    let report = writer.join().expect("writer thread panicked");
    progress.finish();

    let mut first_error = None;
    let cameras: Vec<CameraSummary> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let cam = &cfg.cameras[i];
            let (end, error, encoder, stats, nats) = match r {
                Ok(s) => (
                    Some(s.end),
                    None,
                    Some(s.encoder),
                    Some(s.stats),
                    Some(s.nats),
                ),
                Err(e) => {
                    let text = e.to_string();
                    first_error.get_or_insert(RecorderError::Pipeline {
                        label: cam.label.clone(),
                        source: e,
                    });
                    (None, Some(text), None, None, None)
                }
            };
            CameraSummary {
                label: cam.label.clone(),
                end,
                error,
                device_requested: cam.pipeline.encoder_device,
                device_reason: cam.device_reason.clone(),
                encoder,
                written: report.written.get(i).copied().unwrap_or(0),
                aux_written: report.aux_written.get(i).copied().unwrap_or(0),
                bodies_written: report.bodies_written.get(i).copied().unwrap_or(0),
                trimmed: report.trimmed.get(i).copied().unwrap_or_default(),
                units_dropped: dropped[i].load(Ordering::Relaxed),
                side_dropped: side_dropped[i].load(Ordering::Relaxed),
                stats,
                nats,
            }
        })
        .collect();
    let summary = RecordSummary {
        output: cfg.output.clone(),
        policy: cfg.policy,
        common_start_ns: report.common_start_ns,
        elapsed_ms: started.elapsed().as_millis() as u64,
        finished: report.error.is_none(),
        cameras,
        channels: report.channels,
        bundles: report.bundles,
    };
    for c in &summary.cameras {
        info!(camera = %c.label, written = c.written, dropped = c.units_dropped,
            trimmed = ?c.trimmed, end = ?c.end, "camera recorded");
    }
    if let Some(path) = &cfg.summary_json {
        write_summary(path, &summary)?;
    }
    if let Some(e) = report.error {
        return Err(e);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if summary.channels.iter().all(|c| c.messages == 0) {
        warn!(path = %cfg.output.display(), "nothing was recorded");
    }
    Ok(summary)
}

fn range_of(policy: BundlePolicy) -> Range {
    match policy {
        BundlePolicy::Copy {
            range: CopyRange::Full,
        } => Range::Full,
        _ => Range::Common,
    }
}

fn bundle_policy(policy: BundlePolicy) -> Option<Policy> {
    match policy {
        BundlePolicy::Nearest => Some(Policy::Nearest),
        BundlePolicy::Strict { tolerance_ns } => Some(Policy::Strict { tolerance_ns }),
        BundlePolicy::Copy { .. } => None,
    }
}

/// The `cvmmap.recording` metadata record: how the file was made.
fn recording_metadata(cfg: &RecorderConfig) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let labels: Vec<&str> = cfg.cameras.iter().map(|c| c.label.as_str()).collect();
    m.insert("cameras".into(), labels.join(","));
    m.insert(
        "bundle_policy".into(),
        serde_json::to_string(&cfg.policy).unwrap_or_default(),
    );
    if let Some(c) = cfg.cameras.first() {
        m.insert("codec".into(), c.pipeline.encoder.codec.to_string());
    }
    m.insert("start_frame".into(), cfg.start_frame.to_string());
    if let Some(e) = cfg.end_frame {
        m.insert("end_frame".into(), e.to_string());
    }
    m.insert(
        "writer".into(),
        concat!("cvmmap_record ", env!("CARGO_PKG_VERSION")).into(),
    );
    m
}

/// A serialisable value's top-level fields as strings (MCAP metadata is a
/// string map).
fn flatten_json<T: Serialize>(value: &T) -> BTreeMap<String, String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(o)) => o
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, s)
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn write_summary(path: &Path, summary: &RecordSummary) -> Result<(), RecorderError> {
    let text = serde_json::to_string(summary).expect("summary serialises");
    std::fs::write(path, text + "\n").map_err(|source| RecorderError::Summary {
        path: path.to_owned(),
        source,
    })
}
