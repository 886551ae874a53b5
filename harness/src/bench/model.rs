//! The shape of `bench/result.json`, mirrored by
//! `evidence/schema/bench.schema.json`. Units are in the field names (`_ms`,
//! `_kib`, `_mib`, `fps`); anything not measured is null with a reason,
//! never a guess.

use serde::Serialize;

use super::Options;
use super::plan::{self, Codec, Plan};
use crate::model::{EncoderUsed, Latency, ProcessRecord, SummaryHeader};

/// How one side of one configuration went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every run of this side produced its figures.
    Ok,
    /// A run failed (non-zero exit, no frames, a hang): its figures are null.
    Failed,
    /// Something it needs is absent (gst-launch-1.0, an encoder element), or
    /// the run was interrupted before it.
    Skipped,
}

/// One measured process run, from wait4(2).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `unpaced` or `paced_30fps`.
    pub mode: &'static str,
    pub process: ProcessRecord,
    pub wall_ms: f64,
    pub user_cpu_ms: f64,
    pub sys_cpu_ms: f64,
    /// Peak resident set size (`ru_maxrss`).
    pub peak_rss_kib: u64,
    pub peak_rss_mib: f64,
    /// Frames the side encoded: the divisor of the per-frame figures.
    pub frames_encoded: Option<u64>,
    /// Frames its source produced (the streamer: ingested).
    pub frames_in: Option<u64>,
    /// Frames its source produced that were never encoded.
    pub frames_dropped: Option<u64>,
    /// (user + sys) / frames_encoded.
    pub cpu_ms_per_frame: Option<f64>,
    /// frames_encoded / wall time (start-up included, as for both sides).
    pub fps: Option<f64>,
    /// What limited `fps`: `encoder` (the streamer's source offered frames
    /// faster than they were encoded and some were dropped), `lower_bound`
    /// (none dropped: the encoder kept up or the queue absorbed the backlog;
    /// the streamer can do at least this),
    /// `back_pressure` (gst: one streaming thread, each element waits for
    /// the next), `realtime` (paced runs).
    pub fps_limited_by: &'static str,
    /// Paced runs: the CPU split at the encoder library's worker threads
    /// (sampled from /proc; `supervisor::threads`). Null for unpaced runs.
    pub threads: Option<ThreadSplit>,
}

/// A run's CPU inside and outside the encoder's worker threads.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadSplit {
    /// Threads seen by the sampler over the run.
    pub threads: u32,
    /// Of those, the encoder library's workers (x264/x265 threads started
    /// from the streaming thread that opened the encoder).
    pub encoder_workers: u32,
    /// The workers' CPU (user + sys) per frame.
    pub encoder_workers_cpu_ms_per_frame: f64,
    /// The process total (wait4) minus the workers', per frame: the
    /// streaming thread (with the encoder's calling-thread work), and
    /// everything the side does around the encoder.
    pub outside_encoder_cpu_ms_per_frame: f64,
}

/// The streamer's side of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct StreamerSide {
    pub status: Status,
    pub reason: String,
    /// The `encoder` object of its `--summary-json` (unpaced run, else paced).
    pub encoder: Option<EncoderUsed>,
    /// `--input-mode dummy` as fast as it goes: throughput, CPU, memory.
    pub unpaced: Option<Run>,
    /// cvmmap_sim (30 fps) -> shm/ZeroMQ -> streamer -> rtp_receiver_tester.
    pub paced: Option<Run>,
    /// Processes not in a run's figures: the paced run's simulator and
    /// receiver, and a streamer run that produced no figures.
    pub processes: Vec<ProcessRecord>,
    /// Capture-to-receiver latency from the receiver (RTCP sender reports).
    pub latency_ms: Option<Latency>,
    /// The encoder's own latency inside the paced run (frame pushed into
    /// the encoder -> unit out, the streamer's `encode_latency_ms`): the
    /// encoder-only figure under the same load as `latency_ms`.
    pub encode_latency_ms: Option<Latency>,
    /// The streamer's `stage_latency_ms`: capture stamp -> into the
    /// encoder, out of it, sent by the RTP sink (where the excess over the
    /// encoder goes), as the streamer reported it.
    pub stage_latency_ms: Option<Stages>,
    pub latency_note: Option<String>,
    /// Complete access units at the receiver / its threshold.
    pub units_received: Option<u64>,
    pub receive_threshold: u64,
    /// `--linger-ms` given to the receiver (it then measures every unit
    /// until the stream goes quiet); null when its --help does not list it,
    /// and the latency covers the units up to the threshold.
    pub receiver_linger_ms: Option<u64>,
    /// `--latency-warmup-units` given to the receiver: the first units
    /// (segment attach, encoder start) are left out of `latency_ms`, as the
    /// floor's tracer leaves out the encoder's start; null when its --help
    /// does not list it.
    pub receiver_warmup_units: Option<u64>,
    /// The simulator's frames published later than one period after their
    /// deadline (a producer that cannot keep 30 fps skews the latency).
    pub sim_late_frames: Option<u64>,
}

/// The gst-launch-1.0 side of one configuration.
#[derive(Debug, Clone, Serialize)]
pub struct GstSide {
    pub status: Status,
    pub reason: String,
    /// The encoder element: the one the streamer reported using.
    pub element: Option<String>,
    /// The unpaced pipeline description, as gst-launch-1.0 parsed it.
    pub pipeline: Option<String>,
    pub pipeline_paced: Option<String>,
    pub unpaced: Option<Run>,
    pub paced: Option<Run>,
    /// The labelled extra: the same pipeline fed videotestsrc SMPTE bars
    /// (other content, so other encoder cost; not part of any ratio).
    pub pipeline_smpte: Option<String>,
    pub smpte_unpaced: Option<Run>,
    /// A gst-launch-1.0 run that produced no figures, and the paced run's
    /// neighbours (simulator, receiver: `gst_neighbour_*`).
    pub processes: Vec<ProcessRecord>,
}

/// The encoder-only floor of one configuration (same element, properties
/// and frames, already I420, into fakesink).
#[derive(Debug, Clone, Serialize)]
pub struct FloorSide {
    pub status: Status,
    pub reason: String,
    pub element: Option<String>,
    /// The unpaced description; the paced ones add `clocksync`.
    pub pipeline: Option<String>,
    pub unpaced: Option<Run>,
    pub paced: Option<Run>,
    /// Time each buffer spent inside the encoder element (GStreamer's
    /// latency tracer, a separate paced run).
    pub latency_ms: Option<Latency>,
    pub latency_note: Option<String>,
    /// A run that produced no figures, and the paced run's neighbour
    /// simulator (`floor_neighbour_sim`).
    pub processes: Vec<ProcessRecord>,
}

/// Whether a goal of issue 14 was met, on this configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalOutcome {
    Met,
    Missed,
    /// Not judged here: a figure is missing, the build is not release, or
    /// gst-launch cannot hold 30 fps at this size on this host.
    NotJudged,
}

#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub name: &'static str,
    pub target: String,
    pub actual: Option<String>,
    pub outcome: GoalOutcome,
    pub why_not_judged: Option<String>,
}

/// The side-by-side figures of one configuration, all from this run.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// How many rounds the figures are the median of (1: one round's own).
    pub rounds: u32,
    /// The floor's CPU per frame at 30 fps.
    pub floor_cpu_ms_per_frame: Option<f64>,
    /// Paced CPU per frame minus the floor's.
    pub streamer_overhead_ms: Option<f64>,
    pub gst_overhead_ms: Option<f64>,
    /// streamer overhead / gst overhead.
    pub overhead_ratio: Option<f64>,
    /// The same three figures on CPU outside the encoder's worker threads
    /// (each side's outside-encoder CPU per frame minus the floor's): what
    /// the overhead goal judges where every side's threads were sampled.
    pub streamer_overhead_outside_encoder_ms: Option<f64>,
    pub gst_overhead_outside_encoder_ms: Option<f64>,
    pub overhead_ratio_outside_encoder: Option<f64>,
    /// The streamer's encoder workers' CPU per frame minus the floor's:
    /// the same element on the same bytes, so near 0 but for noise (this is
    /// what total - floor carries and the outside figure leaves out).
    pub encoder_workers_delta_ms: Option<f64>,
    /// streamer / gst paced CPU per frame.
    pub cpu_ratio: Option<f64>,
    /// streamer / gst unpaced frames per second.
    pub unpaced_fps_ratio: Option<f64>,
    /// Streamer capture-to-receiver p99 minus the encoder's p99 in the same
    /// paced run (what the goal judges: both under the same load).
    pub latency_p99_excess_ms: Option<f64>,
    /// Streamer capture-to-receiver p99 minus the floor's encoder p99 (the
    /// floor runs alone, without the simulator and receiver beside it).
    pub latency_p99_excess_vs_floor_ms: Option<f64>,
    /// Streamer minus gst peak RSS, paced runs.
    pub peak_rss_excess_mib: Option<f64>,
    /// Whether gst-launch's unpaced run reached 30 fps (real time) here.
    pub gst_holds_realtime: Option<bool>,
    pub streamer_unpaced_fps: Option<f64>,
    pub gst_unpaced_fps: Option<f64>,
    /// Complete units the paced run's receiver got / frames published.
    pub paced_delivery: Option<f64>,
    /// The streamer's encoder p99 in its paced run (`encode_latency_ms`):
    /// above the frame period, the latency goal is not judged (queueing).
    pub encoder_p99_ms: Option<f64>,
    /// Judged on these figures (empty in `round_comparisons`).
    pub goals: Vec<Goal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigResult {
    /// e.g. `640x360_h264`: also the folder holding its logs.
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub codec: &'static str,
    pub frames: u64,
    pub duration_ms: u64,
    /// The first round's sides.
    pub streamer: StreamerSide,
    pub gst: GstSide,
    pub floor: FloorSide,
    /// Rounds 2..N (`--rounds`), each with all three sides again.
    pub later_rounds: Vec<Round>,
    /// Each round's own figures, in order (goals not judged on them).
    pub round_comparisons: Vec<Comparison>,
    /// The median of each figure over the rounds, and the goals judged on it.
    pub comparison: Comparison,
}

/// Capture -> leaving each stage of the streamer, in ms.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Stages {
    /// Absent in summaries of streamers older than these two stages.
    #[serde(default)]
    pub synced: Option<Latency>,
    #[serde(default)]
    pub ingested: Option<Latency>,
    pub to_encoder: Option<Latency>,
    pub encoded: Option<Latency>,
    pub rtp_sent: Option<Latency>,
}

/// One more measurement of every side of a configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub streamer: StreamerSide,
    pub gst: GstSide,
    pub floor: FloorSide,
}

/// The settings both sides were given.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub frames: u64,
    /// Rounds per configuration (`--rounds`): goals judged on medians.
    pub rounds: u32,
    pub fps: u32,
    pub quick: bool,
    pub sizes: Vec<String>,
    pub codecs: Vec<&'static str>,
    pub gop: u32,
    pub b_frames: u32,
    pub bitrate_kbps: u32,
    /// `--preset` / `speed-preset` per codec.
    pub preset_h264: &'static str,
    pub preset_h265: &'static str,
    pub payload_type: u8,
    pub mtu: u32,
    /// The streamer's `--queue-size` in the paced and unpaced runs.
    pub queue_size: u32,
    pub unpaced_queue_size: u32,
    /// `--encoder-device` given to the streamer.
    pub encoder_device: String,
    /// The dummy source's rate in unpaced runs (its maximum).
    pub dummy_fps: u32,
    /// What every side encodes (streamer, gst-launch, floor).
    pub source: String,
    /// The labelled extra's source (gst-launch only).
    pub gst_pattern: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GstTool {
    /// Path of gst-launch-1.0, or null when it is not installed.
    pub path: Option<String>,
    pub version: Option<String>,
    /// Why the gst side was skipped, or null.
    pub skipped_reason: Option<String>,
}

/// `DIR/<run-id>/bench/result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// `status` is rewritten after each configuration; no `outcome` (each
    /// side has its own status) and no `container` (always local).
    #[serde(flatten)]
    pub head: SummaryHeader,
    /// `release` / `debug` from the binaries' folder name, else `unknown`:
    /// a debug build's figures say little about the streamer's speed.
    pub build_profile: &'static str,
    pub gst_launch: GstTool,
    pub settings: Settings,
    /// How each figure was obtained, in words.
    pub method: Vec<String>,
    pub configs: Vec<ConfigResult>,
    /// Configurations not measured (the run was interrupted first).
    pub configs_not_run: Vec<String>,
    /// Files in the bench folder besides result.json.
    pub artifacts: Vec<String>,
}

impl crate::runner::Summarised for BenchResult {
    fn header(&mut self) -> &mut SummaryHeader {
        &mut self.head
    }
}

/// The result before any configuration ran (`status` "running").
pub fn skeleton(head: SummaryHeader, opts: &Options, p: &Plan, gst_launch: GstTool) -> BenchResult {
    let mut sizes: Vec<String> = p.configs.iter().map(|c| c.size()).collect();
    sizes.dedup();
    let mut codecs: Vec<&'static str> = Vec::new();
    for c in &p.configs {
        if !codecs.contains(&c.codec.as_str()) {
            codecs.push(c.codec.as_str());
        }
    }
    BenchResult {
        head,
        build_profile: "unknown",
        gst_launch,
        settings: Settings {
            frames: p.frames,
            rounds: p.rounds,
            fps: plan::FPS,
            quick: p.quick,
            sizes,
            codecs,
            gop: plan::GOP,
            b_frames: plan::B_FRAMES,
            bitrate_kbps: plan::BITRATE_KBPS,
            preset_h264: Codec::H264.preset(),
            preset_h265: Codec::H265.preset(),
            payload_type: plan::PAYLOAD_TYPE,
            mtu: plan::MTU,
            queue_size: plan::QUEUE_SIZE,
            unpaced_queue_size: plan::UNPACED_QUEUE_SIZE,
            encoder_device: opts.encoder_device.clone(),
            dummy_fps: super::streamer::DUMMY_FPS,
            source: "the contract test pattern (contract §6), frames 0..N, packed BGR written \
                     once per configuration (frames.bgr): cvmmap_sim publishes the same frames \
                     to the paced streamer, the unpaced streamer reads the file \
                     (--dummy-raw-file), gst-launch reads it with filesrc ! rawvideoparse, the \
                     floor reads its videoconvert I420 copy (frames.i420)"
                .into(),
            gst_pattern: format!(
                "{} horizontal-speed={}",
                super::pipeline::PATTERN,
                super::pipeline::PATTERN_SPEED
            ),
        },
        method: Vec::new(),
        configs: Vec::new(),
        configs_not_run: Vec::new(),
        artifacts: Vec::new(),
    }
}
