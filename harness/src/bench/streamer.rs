//! The streamer's side of a configuration: an unpaced run from its dummy
//! source reading the configuration's frame file (throughput, CPU, memory),
//! then the paced run of [`super::paced`].

use std::path::Path;

use super::ConfigCtx;
use super::measure::{BY_ENCODER, Frames, LOWER_BOUND, UdpSink, run_figures};
use super::model::{Status, StreamerSide};
use super::plan::{B_FRAMES, BITRATE_KBPS, GOP, MTU, PAYLOAD_TYPE, UNPACED_QUEUE_SIZE};
use crate::acceptance::judge::{at, u};
use crate::evidence::read_json;
use crate::model::EncoderUsed;
use crate::supervisor::{Exit, Proc, Wait};

/// The dummy source's highest rate (the streamer refuses more): "unpaced"
/// for the streamer means frames offered at this rate.
pub const DUMMY_FPS: u32 = 1000;

/// Why a side has no figures (or only some).
pub type Failed = (Status, String);

/// A streamer's `--summary-json`, when it wrote one.
pub struct Summary(Option<serde_json::Value>);

impl Summary {
    pub fn read(path: &Path) -> Self {
        Self(read_json(path))
    }

    pub fn stat(&self, key: &str) -> Option<u64> {
        u(self.0.as_ref(), &format!("stats.{key}"))
    }

    /// Its `encode_latency_ms`: frame pushed into the encoder -> unit out.
    pub fn encode_latency(&self) -> Option<crate::model::Latency> {
        serde_json::from_value(at(self.0.as_ref(), "encode_latency_ms")?.clone()).ok()
    }

    /// Its `stage_latency_ms` (streamers before issue 14's second part
    /// have none).
    pub fn stages(&self) -> Option<super::model::Stages> {
        serde_json::from_value(at(self.0.as_ref(), "stage_latency_ms")?.clone()).ok()
    }

    pub fn encoder(&self) -> Option<EncoderUsed> {
        serde_json::from_value(at(self.0.as_ref(), "encoder")?.clone()).ok()
    }
}

impl ConfigCtx<'_> {
    /// Flags both streamer runs share: codec, the encoder settings spelled
    /// out, RTP output and the summary file.
    pub fn streamer_args(&self, port: u16, summary: &Path, queue: u32) -> Vec<String> {
        let c = self.cfg.codec;
        let mut a: Vec<String> = [
            "--codec",
            c.as_str(),
            "--encoder-device",
            self.encoder_device,
            "--gop",
            &GOP.to_string(),
            "--b-frames",
            &B_FRAMES.to_string(),
            "--bitrate-kbps",
            &BITRATE_KBPS.to_string(),
            "--preset",
            c.preset(),
            "--queue-size",
            &queue.to_string(),
            "--rtp",
            "--rtp-endpoint",
            &format!("127.0.0.1:{port}"),
            "--rtp-payload-type",
            &PAYLOAD_TYPE.to_string(),
            "--rtp-mtu",
            &MTU.to_string(),
            "--summary-json",
            &summary.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // The gst side has no NATS either: the media path is what is compared.
        if self.streamer_no_nats {
            a.push("--no-nats".into());
        }
        a
    }

    /// Why a streamer run produced no figures, in one line; exit 5 with the
    /// software encoder absent is a genuine absence (skipped).
    pub fn failure(&self, st: &mut Proc, waited: Wait, what: &str) -> Failed {
        let last = st.last_stderr_line().unwrap_or_default();
        let element = self.cfg.codec.software_element();
        match waited {
            Wait::Interrupted => (Status::Skipped, format!("{what}: interrupted")),
            Wait::TimedOut => (
                Status::Failed,
                format!("{what}: overran its deadline; last log line: {last}"),
            ),
            Wait::Exited(Exit::Code(5)) if crate::gst::element_exists(element) == Some(false) => (
                Status::Skipped,
                format!("{what}: encoder element {element} is not installed (exit 5: {last})"),
            ),
            Wait::Exited(e) => (Status::Failed, format!("{what}: streamer {e:?}: {last}")),
        }
    }
}

/// Runs both streamer runs and fills `side` with what was measured.
pub fn measure(ctx: &ConfigCtx, side: &mut StreamerSide) {
    let mut problems = Vec::new();
    let mut note = |side: &mut StreamerSide, (status, why): Failed| {
        // The worst status wins: failed over skipped over ok.
        if side.status == Status::Ok || status == Status::Failed {
            side.status = status;
        }
        problems.push(why);
    };
    if let Err(f) = unpaced(ctx, side) {
        note(side, f);
    }
    let paced = if crate::interrupt::requested() {
        Err((
            Status::Skipped,
            "paced run: interrupted before it started".into(),
        ))
    } else {
        super::paced::run(ctx, side)
    };
    if let Err(f) = paced {
        note(side, f);
    }
    side.reason = if problems.is_empty() {
        "measured".into()
    } else {
        problems.join("; ")
    };
}

fn unpaced(ctx: &ConfigCtx, side: &mut StreamerSide) -> Result<(), Failed> {
    ctx.phase("streamer unpaced");
    let sink = UdpSink::bind().map_err(|e| (Status::Failed, format!("no UDP port: {e}")))?;
    let summary_path = ctx.dir.join("streamer_unpaced.summary.json");
    let mut args = ctx.streamer_args(sink.port, &summary_path, UNPACED_QUEUE_SIZE);
    for (k, v) in [
        ("--input-mode", "dummy".to_owned()),
        ("--dummy-fps", DUMMY_FPS.to_string()),
        ("--dummy-frames", ctx.frames.to_string()),
        ("--dummy-width", ctx.cfg.width.to_string()),
        ("--dummy-height", ctx.cfg.height.to_string()),
    ] {
        args.extend([k.to_owned(), v]);
    }
    // The same bytes as every other side; an older streamer without the
    // flag generates the same pattern itself (paying for it in its CPU).
    if ctx.streamer_raw_file {
        args.extend([
            "--dummy-raw-file".to_owned(),
            ctx.files.bgr.display().to_string(),
        ]);
    }
    let mut st = ctx
        .spawn_streamer("streamer_unpaced", args)
        .map_err(|e| (Status::Failed, e.to_string()))?;
    let waited = st.wait_until(ctx.unpaced_deadline());
    let summary = Summary::read(&summary_path);
    side.encoder = summary.encoder();
    let encoded = summary.stat("frames_encoded");
    if waited != Wait::Exited(Exit::Code(0)) || encoded.unwrap_or(0) == 0 {
        st.stop("unpaced run failed");
        side.processes.push(st.record());
        return Err(match waited {
            Wait::Exited(Exit::Code(0)) => (Status::Failed, "unpaced run: no frame encoded".into()),
            w => ctx.failure(&mut st, w, "unpaced run"),
        });
    }
    let input = summary.stat("frames_ingested");
    let dropped = input.zip(encoded).map(|(i, e)| i.saturating_sub(e));
    // Frames dropped: the encoder could not keep up with the source, so the
    // rate is the encoder's. None dropped: the encoder kept up, or the queue
    // absorbed the backlog; which one cannot be told from outside, so the
    // figure is only a lower bound of what the streamer can do.
    let limited = if dropped.unwrap_or(0) > 0 {
        BY_ENCODER
    } else {
        LOWER_BOUND
    };
    let frames = Frames {
        encoded,
        input,
        dropped,
    };
    side.unpaced = run_figures("unpaced", &mut st, frames, limited);
    Ok(())
}
