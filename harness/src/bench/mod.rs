//! `harness bench`: for each frame size x codec, the streamer side by side
//! with the equivalent `gst-launch-1.0` pipeline and the encoder-only floor,
//! in the same run and on the same bytes ([`frames`]): CPU time per frame
//! and peak memory (wait4(2) of each process), unpaced throughput, the
//! streamer's capture-to-receiver latency from a paced 30 fps run through
//! the real path and the floor's encoder latency; then the overheads, their
//! ratio and the goals of issue 14 ([`compare`]). Writes
//! `DIR/<run-id>/bench/result.json`, `table.txt` and `latency.svg`, and
//! points `DIR/latest` at the run.

mod compare;
mod floor;
mod frames;
mod gst_side;
mod measure;
mod model;
mod neighbours;
mod output;
mod paced;
mod pipeline;
pub mod plan;
mod streamer;
mod svg;
mod table;

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bins::supports_flag;
use crate::model::{Outcome, RowEntry};
use crate::progress::Progress;
use crate::runner::{RunOptions, Setup, Spec, Unit};
use crate::{HarnessError, interrupt};
pub use model::{BenchResult, GoalOutcome, Status};
use model::{Comparison, ConfigResult, Round, StreamerSide};
use plan::{Config, Plan};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("--sizes: {0:?} is not WIDTHxHEIGHT with even values in 16..=8192")]
    BadSize(String),
    #[error("--codecs: {0:?} is neither h264 nor h265")]
    BadCodec(String),
    #[error("--frames {0}: at least 30 are needed (latency percentiles, start-up)")]
    TooFewFrames(u64),
    #[error("--rounds {0}: between 1 and 9")]
    BadRounds(u32),
    #[error("nothing to measure: no size or no codec")]
    Empty,
}

pub struct Options {
    /// No `--runtime`: bench runs locally (wait4 gives no rusage for a
    /// container), so `image` is None.
    pub run: RunOptions,
    pub sizes: Option<Vec<String>>,
    pub codecs: Option<Vec<String>>,
    pub frames: Option<u64>,
    /// `--rounds`: each configuration measured this many times.
    pub rounds: Option<u32>,
    pub quick: bool,
    /// `--encoder-device` for the streamer: auto, nvenc or software.
    pub encoder_device: String,
}

pub struct Finished {
    pub result: BenchResult,
    /// `DIR/<run-id>`.
    pub run_dir: PathBuf,
    /// The table as printed and saved in `table.txt`.
    pub table: String,
    pub exit_code: u8,
}

/// What the runs of one configuration share: its unit of the run (folder
/// `bench/<id>/`, names, processes) and its settings.
pub struct ConfigCtx<'a> {
    pub unit: Unit<'a>,
    pub cfg: Config,
    pub frames: u64,
    pub encoder_device: &'a str,
    /// Whether the streamer's --help lists --no-nats.
    pub streamer_no_nats: bool,
    /// The configuration's frames (written before any run).
    pub files: &'a frames::FrameFiles,
    /// Whether the streamer's --help lists --dummy-raw-file.
    pub streamer_raw_file: bool,
    pub receiver: ReceiverFlags,
}

/// Which of the receiver's newer flags its --help lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceiverFlags {
    pub linger: bool,
    pub warmup: bool,
}

impl<'a> Deref for ConfigCtx<'a> {
    type Target = Unit<'a>;

    fn deref(&self) -> &Unit<'a> {
        &self.unit
    }
}

impl ConfigCtx<'_> {
    /// A hang guard for one run, not a limit on speed: 30 s of start-up plus
    /// half a second a frame (2 fps).
    pub fn unpaced_deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(30) + Duration::from_millis(self.frames * 500)
    }
}

/// `release` or `debug` from the name of the binaries' folder (cargo's
/// target/<profile>), else `unknown`.
fn build_profile(dir: &Path) -> &'static str {
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("release") => "release",
        Some("debug") => "debug",
        _ => "unknown",
    }
}

fn method() -> Vec<String> {
    [
        "cpu_ms_per_frame: (ru_utime + ru_stime) of the process, from wait4(2), divided by the frames it encoded",
        "peak_rss: ru_maxrss of the process, from wait4(2); in the streamer's paced run it includes the pages of the producer's shared-memory segment it read",
        "fps: frames encoded / wall time of the process from spawn to exit (start-up included on both sides)",
        "streamer unpaced: --input-mode dummy at --dummy-fps 1000 (the highest it accepts) with --queue-size 64 (the most it takes); the dummy source does not wait for the encoder, so under sustained overload frames are dropped and counted (frames_dropped), and that run's cpu_ms_per_frame includes making them; fps_limited_by is encoder when frames were dropped (the rate is the encoder's), lower_bound when none were (the streamer can do at least this); its peak memory includes the queued frames",
        "the table's cpu ms/frame and peak MiB come from the paced runs, where both sides encode every frame",
        "gst unpaced: videotestsrc non-live, udpsink sync=false: one streaming thread, each element waits for the next; frames encoded = num-buffers, confirmed by gst-launch -e's EOS message",
        "paced_30fps: the streamer fed by cvmmap_sim at 30 fps over shared memory and ZeroMQ, sending RTP to rtp_receiver_tester; gst-launch and the floor read the frame file through clocksync, each beside the same neighbours (a cvmmap_sim publishing the same frames at 30 fps to nobody; gst-launch's RTP to an rtp_receiver_tester), so that all three paced runs share one load on the cores; only the measured process's CPU is counted",
        "latency_ms: rtp_receiver_tester's capture-to-arrival latency (RTCP sender reports map RTP time to the capture clock; same host, same clock), over the complete access units it measured: all of them with --linger-ms (receiver_linger_ms), else those up to its threshold of 95% of the frames; with --latency-warmup-units (receiver_warmup_units) the first second's units are left out (the streamer attaching to the segment and starting its encoder), as the floor's tracer leaves out the encoder's start",
        "stage_latency_ms: the streamer's own capture stamp -> into the encoder, out of it, sent by the RTP sink (every frame, warm-up included)",
        "RTP in unpaced runs goes to a UDP port pair the harness holds open without reading, so sends succeed as real ones do",
        "NATS: the streamer runs with --no-nats, as gst has none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn title(c: &Config) -> String {
    let codec = match c.codec {
        plan::Codec::H264 => "H.264",
        plan::Codec::H265 => "H.265",
    };
    format!("{} {codec}", c.size())
}

/// The progress line's summary of a finished configuration.
fn entry(c: &ConfigResult, title: String) -> RowEntry {
    let (s, g, f) = (&c.streamer, &c.gst, &c.floor);
    let missed = c
        .comparison
        .goals
        .iter()
        .any(|g| g.outcome == model::GoalOutcome::Missed);
    // Every round's sides count: a later round that failed fails the row.
    let statuses: Vec<Status> = std::iter::once((s, g, f))
        .chain(
            c.later_rounds
                .iter()
                .map(|r| (&r.streamer, &r.gst, &r.floor)),
        )
        .flat_map(|(s, g, f)| [s.status, g.status, f.status])
        .collect();
    let outcome = if statuses.contains(&Status::Failed) || missed {
        Outcome::Fail
    } else if statuses.iter().all(|&s| s == Status::Ok) {
        Outcome::Pass
    } else {
        Outcome::Skip
    };
    let fig = |run: Option<&model::Run>| {
        run.and_then(|r| {
            Some(format!(
                "{:.2} ms/frame {:.0} fps",
                r.cpu_ms_per_frame?, r.fps?
            ))
        })
        .unwrap_or_else(|| "-".into())
    };
    let mut detail = format!("streamer {}", fig(s.unpaced.as_ref()));
    if let Some(l) = &s.latency_ms {
        detail.push_str(&format!(" p50 {:.1} ms p99 {:.1} ms", l.p50, l.p99));
    }
    detail.push_str(&format!("; gst {}", fig(g.unpaced.as_ref())));
    if let Some(r) = c.comparison.overhead_ratio {
        detail.push_str(&format!(
            "; overhead ratio {r:.2} (median of {})",
            c.comparison.rounds
        ));
    }
    if let Some(r) = c.comparison.overhead_ratio_outside_encoder {
        detail.push_str(&format!(", outside the encoder {r:.2}"));
    }
    RowEntry {
        row: c.id.clone(),
        title,
        negative: false,
        outcome,
        reason: format!(
            "streamer: {}; gst: {}; floor: {}",
            s.reason, g.reason, f.reason
        ),
        detail,
        duration_ms: c.duration_ms,
        result: Some("bench/result.json".into()),
    }
}

pub(crate) fn streamer_side(frames: u64, rx: ReceiverFlags) -> StreamerSide {
    StreamerSide {
        status: Status::Ok,
        reason: String::new(),
        encoder: None,
        unpaced: None,
        paced: None,
        processes: Vec::new(),
        latency_ms: None,
        encode_latency_ms: None,
        stage_latency_ms: None,
        latency_note: None,
        units_received: None,
        receive_threshold: (frames * 95).div_ceil(100),
        receiver_linger_ms: rx.linger.then_some(paced::LINGER_MS),
        receiver_warmup_units: rx.warmup.then_some(paced::WARMUP_UNITS),
        sim_late_frames: None,
    }
}

/// Every side of a configuration once: the streamer, then gst-launch and
/// the floor with the element the streamer reported using.
fn measure_round(c: &ConfigCtx, tool: &model::GstTool, prepared: Result<(), String>) -> Round {
    let mut streamer = streamer_side(c.frames, c.receiver);
    let mut gst = gst_side::side("not run");
    let mut floor = floor::side("not run");
    match prepared {
        Err(why) => {
            streamer.status = Status::Failed;
            streamer.reason = why.clone();
            gst.reason = why.clone();
            floor.reason = why;
        }
        Ok(()) => {
            streamer::measure(c, &mut streamer);
            let used = streamer.encoder.as_ref();
            if interrupt::requested() {
                gst.reason = "interrupted before it started".into();
                floor.reason = gst.reason.clone();
            } else {
                gst_side::measure(c, tool, c.files, used, &mut gst);
                floor::measure(c, tool, c.files, used, &mut floor);
            }
        }
    }
    Round {
        streamer,
        gst,
        floor,
    }
}

/// Writes the configuration's BGR frames, then their I420 copy for the floor
/// (gst-launch's videoconvert; without gst-launch the floor is skipped).
fn prepare_frames(c: &ConfigCtx, tool: &model::GstTool) -> Result<(), String> {
    c.phase("writing the frames");
    c.files
        .write_bgr(&c.cfg, c.frames)
        .map_err(|e| format!("cannot write {}: {e}", c.files.bgr.display()))?;
    let Some(program) = &tool.path else {
        return Ok(());
    };
    let description = frames::i420_description(&c.cfg, c.files);
    let mut p = c
        .spawn(
            "make_i420",
            Path::new(program),
            pipeline::launch_args(&description),
        )
        .map_err(|e| e.to_string())?;
    match p.wait_until(c.unpaced_deadline()) {
        crate::supervisor::Wait::Exited(crate::supervisor::Exit::Code(0)) => Ok(()),
        w => {
            let last = p.last_stderr_line().unwrap_or_default();
            p.stop("conversion failed");
            Err(format!("making frames.i420 failed: {w:?}: {last}"))
        }
    }
}

pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Finished, BenchError> {
    let setup = Setup::resolve(&opts.run)?;
    let plan = Plan::new(
        opts.sizes.as_deref(),
        opts.codecs.as_deref(),
        opts.frames,
        opts.quick,
    )?
    .with_rounds(opts.rounds)?;
    let spec = Spec {
        command: "bench",
        kind: "bench",
        summary: "bench/result.json",
        verdict: false,
    };
    let ctx = setup.start(spec, progress)?;
    let bench_dir = ctx.folder.sub_dir("bench")?;
    let streamer_no_nats = supports_flag(&ctx.bins.streamer, "--no-nats");
    let streamer_raw_file = supports_flag(&ctx.bins.streamer, "--dummy-raw-file");
    let receiver = ReceiverFlags {
        linger: supports_flag(&ctx.bins.rtp_receiver, "--linger-ms"),
        warmup: supports_flag(&ctx.bins.rtp_receiver, "--latency-warmup-units"),
    };
    let mut result = model::skeleton(ctx.header(), opts, &plan, gst_side::find_tool());
    result.build_profile = build_profile(&ctx.bins.dir);
    result.method = method();
    ctx.save(&mut result)?;
    for cfg in &plan.configs {
        if interrupt::requested() {
            break;
        }
        let id = cfg.id();
        progress.started(&id);
        let started = Instant::now();
        let unit = ctx.unit(&id, &format!("bench/{id}"))?;
        // The frames are written once, in the first round's folder.
        let files = frames::FrameFiles::in_dir(&unit.dir);
        let mut rounds: Vec<Round> = Vec::new();
        let mut unit = Some(unit);
        for r in 1..=plan.rounds {
            if r > 1 && interrupt::requested() {
                break;
            }
            let unit = match unit.take() {
                Some(u) => u,
                None => ctx.unit(&id, &format!("bench/{id}/round{r}"))?,
            };
            let c = ConfigCtx {
                unit,
                cfg: *cfg,
                frames: plan.frames,
                encoder_device: &opts.encoder_device,
                streamer_no_nats,
                files: &files,
                streamer_raw_file,
                receiver,
            };
            let prepared = if r == 1 {
                prepare_frames(&c, &result.gst_launch)
            } else {
                Ok(())
            };
            rounds.push(measure_round(&c, &result.gst_launch, prepared));
        }
        files.remove();
        let round_comparisons: Vec<Comparison> = rounds
            .iter()
            .map(|r| compare::figures(&r.streamer, &r.gst, &r.floor))
            .collect();
        let mut comparison = compare::median(&round_comparisons);
        compare::judge(
            cfg.codec,
            u64::from(cfg.width) * u64::from(cfg.height),
            result.build_profile == "release",
            &mut comparison,
        );
        let mut rounds = rounds.into_iter();
        let first = rounds.next().expect("at least one round runs");
        let config = ConfigResult {
            id,
            width: cfg.width,
            height: cfg.height,
            codec: cfg.codec.as_str(),
            frames: plan.frames,
            duration_ms: started.elapsed().as_millis() as u64,
            streamer: first.streamer,
            gst: first.gst,
            floor: first.floor,
            later_rounds: rounds.collect(),
            round_comparisons,
            comparison,
        };
        progress.finished(&entry(&config, title(cfg)));
        result.configs.push(config);
        ctx.save(&mut result)?;
    }
    output::finish(ctx, &bench_dir, &plan, result)
}
