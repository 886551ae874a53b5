//! The one thread that owns the recording: units from every camera in,
//! merged by capture time (`record::merge`), bundled (`record::bundle`),
//! written (`record::McapRecording`). It stops the cameras when the window
//! is complete, and finishes the file (summary, footer) when every camera
//! has ended.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use tracing::{info, warn};

use super::aux::{AuxWriter, DepthFormat};
use super::progress::Progress;
use super::{RecorderConfig, RecorderError};
use crate::encode::AccessUnit;
use crate::ingest::AuxPlanes;
use crate::output::mp4::Mp4Sink;
use crate::pipeline::KeyframeRequests;
use crate::record::bundle::{
    BUNDLE_JSON_SCHEMA, BUNDLE_SCHEMA_NAME, Bundle, BundleStats, Bundler, Frame, Policy,
};
use crate::record::merge::{Item, Merger, Out, Range, Trimmed};
use crate::record::{ChannelStats, JsonChannel, McapRecording, RecordError, VideoChannel};

/// What the cameras send.
pub(crate) enum Msg {
    Unit {
        source: usize,
        unit: AccessUnit,
    },
    /// A frame's DEPTH/CONFIDENCE planes, with its capture time.
    Aux {
        source: usize,
        ts_ns: u64,
        planes: Box<AuxPlanes>,
    },
    /// A validated body-tracking message of the frame captured at `ts_ns`.
    Body {
        source: usize,
        ts_ns: u64,
        message: Vec<u8>,
    },
    /// The producer's `source.info`, as an MCAP metadata record.
    Metadata {
        name: String,
        values: BTreeMap<String, String>,
    },
    /// The camera's pipeline has ended; all its units were sent before.
    End {
        source: usize,
    },
}

/// How the writer merges, trims and bundles.
pub(super) struct Plan {
    pub labels: Vec<String>,
    pub range: Range,
    pub bundle: Option<Policy>,
    pub start_frame: u64,
    pub end_frame: Option<u64>,
    pub duration_ns: Option<u64>,
    pub max_frames: Option<u64>,
    pub max_hold: usize,
    /// Refuse cameras whose first capture times are further apart.
    pub max_start_spread_ns: Option<u64>,
    pub depth_format: DepthFormat,
}

/// What the merger carries.
enum Payload {
    Video(AccessUnit),
    Aux(Box<AuxPlanes>),
    Body(Vec<u8>),
}

/// What the writer did.
pub(super) struct Report {
    pub channels: Vec<ChannelStats>,
    /// Depth/confidence images written, per camera.
    pub aux_written: Vec<u64>,
    /// Body messages written, per camera.
    pub bodies_written: Vec<u64>,
    pub bundles: Option<BundleStats>,
    pub written: Vec<u64>,
    pub trimmed: Vec<Trimmed>,
    pub common_start_ns: Option<u64>,
    pub error: Option<RecorderError>,
}

/// The file with its channels, before the thread starts (so a path that
/// cannot be written fails before any camera starts).
pub(super) struct File {
    mcap: McapRecording,
    /// `--mp4`, per camera.
    mp4: Vec<Option<Mp4Sink>>,
    video: Vec<VideoChannel>,
    bundle: Option<JsonChannel>,
}

impl File {
    /// Finishes every file: the MCAP summary, each MP4's final `moov`.
    fn finish(self) -> Result<Vec<ChannelStats>, RecorderError> {
        let mut first_error = None;
        for mut m in self.mp4.into_iter().flatten() {
            if let Err(e) = m.close() {
                first_error.get_or_insert(RecorderError::from(e));
            }
        }
        let channels = self.mcap.finish()?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(channels),
        }
    }

    pub fn write_metadata(
        &mut self,
        name: &str,
        values: BTreeMap<String, String>,
    ) -> Result<(), RecordError> {
        self.mcap.write_metadata(name, values)
    }
}

pub(super) fn open(cfg: &RecorderConfig, labels: &[String]) -> Result<File, RecorderError> {
    let mut mcap = McapRecording::create(&cfg.output, cfg.options)?;
    let mut video = Vec::with_capacity(labels.len());
    for (label, cam) in labels.iter().zip(&cfg.cameras) {
        video.push(mcap.add_video(label, cam.pipeline.encoder.codec)?);
    }
    let bundle = match cfg.policy {
        super::BundlePolicy::Copy { .. } => None,
        _ => Some(mcap.add_json("/bundle", BUNDLE_SCHEMA_NAME, BUNDLE_JSON_SCHEMA)?),
    };
    let mut mp4 = Vec::with_capacity(labels.len());
    for cam in &cfg.cameras {
        mp4.push(match &cam.mp4 {
            Some(path) => Some(Mp4Sink::open(path, cam.pipeline.encoder.codec, None)?),
            None => None,
        });
    }
    Ok(File {
        mcap,
        mp4,
        video,
        bundle,
    })
}

pub(super) fn spawn(
    file: File,
    plan: Plan,
    rx: Receiver<Msg>,
    keyframes: Vec<KeyframeRequests>,
    stop: Arc<AtomicBool>,
    progress: Progress,
) -> JoinHandle<Report> {
    std::thread::Builder::new()
        .name("record-writer".into())
        .spawn(move || Writer::new(file, plan, keyframes, stop, progress).run(rx))
        .expect("spawn writer thread")
}

struct Writer {
    file: Option<File>,
    labels: Vec<String>,
    merger: Merger<Payload>,
    aux: AuxWriter,
    bundler: Option<Bundler>,
    keyframes: Vec<KeyframeRequests>,
    stop: Arc<AtomicBool>,
    progress: Progress,
    max_start_spread_ns: Option<u64>,
    error: Option<RecorderError>,
    /// The cameras were told to stop (window complete).
    stopped: bool,
}

impl Writer {
    fn new(
        file: File,
        plan: Plan,
        keyframes: Vec<KeyframeRequests>,
        stop: Arc<AtomicBool>,
        progress: Progress,
    ) -> Self {
        let n = plan.labels.len();
        // `--max-frames` counts bundles where there are bundles, units of
        // each camera otherwise.
        let (max_units, end_frame) = match (plan.bundle, plan.max_frames) {
            (Some(_), Some(m)) => {
                let last = plan.start_frame + m.saturating_sub(1);
                (None, Some(plan.end_frame.map_or(last, |e| e.min(last))))
            }
            (None, m) => (m, plan.end_frame),
            (Some(_), None) => (None, plan.end_frame),
        };
        Self {
            file: Some(file),
            merger: Merger::new(plan.range, n, plan.duration_ns, max_units, plan.max_hold),
            bundler: plan
                .bundle
                .map(|p| Bundler::new(p, n, plan.start_frame, end_frame)),
            aux: AuxWriter::new(n, plan.depth_format),
            labels: plan.labels,
            keyframes,
            stop,
            progress,
            max_start_spread_ns: plan.max_start_spread_ns,
            error: None,
            stopped: false,
        }
    }

    fn run(mut self, rx: Receiver<Msg>) -> Report {
        // Until every camera has hung up: after an error too, so that no
        // camera blocks on a full queue.
        for msg in rx {
            let outs = match msg {
                Msg::Unit { source, unit } => {
                    let item = Item {
                        ts_ns: unit.capture_ts_ns,
                        keyframe: unit.keyframe,
                        side: false,
                        payload: Payload::Video(unit),
                    };
                    self.merger.push(source, item)
                }
                Msg::Body {
                    source,
                    ts_ns,
                    message,
                } => self.merger.push(
                    source,
                    Item {
                        ts_ns,
                        keyframe: false,
                        side: true,
                        payload: Payload::Body(message),
                    },
                ),
                Msg::Aux {
                    source,
                    ts_ns,
                    planes,
                } => self.merger.push(
                    source,
                    Item {
                        ts_ns,
                        keyframe: false,
                        side: true,
                        payload: Payload::Aux(planes),
                    },
                ),
                Msg::Metadata { name, values } => {
                    if let Some(f) = self.file.as_mut()
                        && let Err(e) = f.mcap.write_metadata(&name, values)
                    {
                        self.fail(e.into());
                    }
                    continue;
                }
                Msg::End { source } => self.merger.end(source),
            };
            for out in outs {
                if let Err(e) = self.apply(out) {
                    self.fail(e);
                }
            }
            if !self.stopped
                && (self.merger.is_done() || self.bundler.as_ref().is_some_and(Bundler::is_done))
            {
                self.stopped = true;
                info!("the recording window is complete: stopping the cameras");
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        self.finish()
    }

    fn apply(&mut self, out: Out<Payload>) -> Result<(), RecorderError> {
        match out {
            Out::CommonStart(ts) => {
                info!(common_start_ns = ts, "common start");
                self.check_clocks()?;
            }
            // Past the limiter: each camera's recording begins at it.
            Out::NeedKeyframe(source, from_ns) => self.keyframes[source].request_from(from_ns),
            Out::Write { source, item } => {
                let Some(file) = self.file.as_mut() else {
                    return Ok(());
                };
                let (label, ts) = (&self.labels[source], item.ts_ns);
                let unit = match item.payload {
                    Payload::Video(unit) => unit,
                    Payload::Body(m) => {
                        return Ok(self.aux.write_body(&mut file.mcap, source, label, ts, &m)?);
                    }
                    Payload::Aux(p) => {
                        return Ok(self.aux.write(&mut file.mcap, source, label, ts, &p)?);
                    }
                };
                if let Some(mp4) = file.mp4.get_mut(source).and_then(Option::as_mut) {
                    mp4.push(&unit)?;
                }
                let sequence = file.mcap.next_sequence(file.video[source]);
                let log_ns = file
                    .mcap
                    .write_video(file.video[source], item.ts_ns, &unit.data)?;
                self.progress.written(source, unit.data.len());
                if let Some(b) = self.bundler.as_mut() {
                    let bundles = b.push(
                        source,
                        Frame {
                            ts_ns: log_ns,
                            sequence,
                        },
                    );
                    self.write_bundles(bundles)?;
                }
            }
            Out::Ended(source) => {
                if let Some(b) = self.bundler.as_mut() {
                    let bundles = b.end(source);
                    self.write_bundles(bundles)?;
                }
            }
        }
        Ok(())
    }

    fn write_bundles(&mut self, bundles: Vec<Bundle>) -> Result<(), RecorderError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let Some(channel) = file.bundle else {
            return Ok(());
        };
        for b in bundles {
            file.mcap
                .write_json(channel, b.ts_ns, &b.to_json(&self.labels))?;
            self.progress.bundle();
        }
        Ok(())
    }

    /// Every camera's first capture time within the allowed spread (one
    /// clock), else the recording cannot be bundled.
    fn check_clocks(&self) -> Result<(), RecorderError> {
        let Some(spread) = self.max_start_spread_ns else {
            return Ok(());
        };
        let firsts: Vec<(usize, u64)> = (0..self.labels.len())
            .filter_map(|i| self.merger.first_ts(i).map(|t| (i, t)))
            .collect();
        let (Some(lo), Some(hi)) = (
            firsts.iter().min_by_key(|f| f.1),
            firsts.iter().max_by_key(|f| f.1),
        ) else {
            return Ok(());
        };
        if hi.1 - lo.1 > spread {
            return Err(RecorderError::TimestampDomains {
                first: self.labels[lo.0].clone(),
                other: self.labels[hi.0].clone(),
                spread_s: (hi.1 - lo.1) as f64 / 1e9,
            });
        }
        Ok(())
    }

    /// A fatal error: the file is finished with what it has, the cameras
    /// are stopped, the error is reported at the end.
    fn fail(&mut self, e: RecorderError) {
        warn!(error = %e, "recording failed: stopping the cameras");
        self.stop.store(true, Ordering::Relaxed);
        self.stopped = true;
        self.error.get_or_insert(e);
        if let Some(f) = self.file.take() {
            let _ = f.finish();
        }
    }

    fn finish(mut self) -> Report {
        let channels = match self.file.take().map(File::finish) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                self.error.get_or_insert(e);
                Vec::new()
            }
            None => Vec::new(),
        };
        let n = self.labels.len();
        Report {
            aux_written: (0..n).map(|i| self.aux.written(i)).collect(),
            bodies_written: (0..n).map(|i| self.aux.bodies(i)).collect(),
            channels,
            bundles: self.bundler.as_ref().map(Bundler::stats),
            written: (0..n).map(|i| self.merger.written(i)).collect(),
            trimmed: (0..n).map(|i| self.merger.trimmed(i)).collect(),
            common_start_ns: self.merger.common_start(),
            error: self.error,
        }
    }
}
