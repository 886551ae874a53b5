//! The gst-launch-1.0 side of a configuration: the equivalent pipeline of
//! [`super::pipeline`], with the encoder element the streamer reported, fed
//! the configuration's frame file, run unpaced and paced at 30 fps; then the
//! labelled extra (SMPTE bars, unpaced).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ConfigCtx;
use super::frames::FrameFiles;
use super::measure::{BY_BACK_PRESSURE, BY_REALTIME, Frames, UdpSink, run_figures};
use super::model::{GstSide, GstTool, Run, Status};
use super::pipeline::{self, Pace, Source};
use crate::model::EncoderUsed;
use crate::supervisor::{Exit, Wait};

pub const GST_LAUNCH: &str = "gst-launch-1.0";

/// Finds gst-launch-1.0 on PATH and asks its version.
pub fn find_tool() -> GstTool {
    let path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(GST_LAUNCH))
        .find(|p| p.is_file());
    let Some(path) = path else {
        return GstTool {
            path: None,
            version: None,
            skipped_reason: Some(format!(
                "{GST_LAUNCH} is not installed (Debian: gstreamer1.0-tools)"
            )),
        };
    };
    let version = Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(|l| l.trim().to_owned())
        });
    GstTool {
        path: Some(path.display().to_string()),
        version,
        skipped_reason: None,
    }
}

/// An empty side: skipped until measured.
pub fn side(reason: &str) -> GstSide {
    GstSide {
        status: Status::Skipped,
        reason: reason.into(),
        element: None,
        pipeline: None,
        pipeline_paced: None,
        unpaced: None,
        paced: None,
        pipeline_smpte: None,
        smpte_unpaced: None,
        processes: Vec::new(),
    }
}

/// What a gst-launch side runs: the program, the element the streamer
/// reported using (else the software one, noted in `notes`) and its
/// gst-launch properties. `Err`: why the side is skipped.
pub struct Launcher {
    pub program: PathBuf,
    pub element: String,
    pub props: Vec<(String, String)>,
    pub notes: Vec<String>,
}

impl Launcher {
    pub fn new(
        ctx: &ConfigCtx,
        tool: &GstTool,
        used: Option<&EncoderUsed>,
    ) -> Result<Self, String> {
        let Some(program) = tool.path.as_ref().map(PathBuf::from) else {
            return Err(tool.skipped_reason.clone().unwrap_or_default());
        };
        let software = ctx.cfg.codec.software_element();
        let mut notes = Vec::new();
        let element = match used {
            Some(e) => e.element.clone(),
            None => {
                notes.push(format!(
                    "the streamer reported no encoder; {software} assumed"
                ));
                software.to_owned()
            }
        };
        if crate::gst::element_exists(&element) == Some(false) {
            return Err(format!("encoder element {element} is not installed"));
        }
        let known = pipeline::element_properties(&element);
        // Without gst-inspect-1.0's answer, set everything and let gst-launch
        // say what it refuses (in its log, as a failed run).
        let has = |k: &str| known.is_empty() || known.iter().any(|p| p == k);
        let props = pipeline::encoder_properties(&element, ctx.cfg.codec, &has);
        Ok(Self {
            program,
            element,
            props,
            notes,
        })
    }
}

/// Measures the gst runs with the element the streamer used.
pub fn measure(
    ctx: &ConfigCtx,
    tool: &GstTool,
    files: &FrameFiles,
    used: Option<&EncoderUsed>,
    out: &mut GstSide,
) {
    let Launcher {
        program,
        element,
        props,
        mut notes,
    } = match Launcher::new(ctx, tool, used) {
        Ok(l) => l,
        Err(why) => {
            out.reason = why;
            return;
        }
    };
    out.element = Some(element.clone());
    let mut status = Status::Ok;
    for (pace, source) in [
        (Pace::Unpaced, Source::File(files)),
        (Pace::Live, Source::File(files)),
        (Pace::Unpaced, Source::Smpte),
    ] {
        if crate::interrupt::requested() {
            status = Status::Skipped;
            notes.push("interrupted".into());
            break;
        }
        match run_one(ctx, &program, &element, &props, source, pace, out) {
            Ok(run) => match (pace, source) {
                (_, Source::Smpte) => out.smpte_unpaced = Some(run),
                (Pace::Unpaced, _) => out.unpaced = Some(run),
                (Pace::Live, _) => out.paced = Some(run),
            },
            // The extra does not make the comparison fail; its absence is noted.
            Err((_, why)) if matches!(source, Source::Smpte) => {
                notes.push(format!("smpte extra: {why}"))
            }
            Err((s, why)) => {
                if status == Status::Ok || s == Status::Failed {
                    status = s;
                }
                notes.push(why);
            }
        }
    }
    out.status = status;
    out.reason = if notes.is_empty() {
        "measured".into()
    } else {
        notes.join("; ")
    };
}

fn run_one(
    ctx: &ConfigCtx,
    program: &Path,
    element: &str,
    props: &[(String, String)],
    source: Source,
    pace: Pace,
    out: &mut GstSide,
) -> Result<Run, (Status, String)> {
    let (name, mode) = match (source, pace) {
        (Source::Smpte, _) => ("gst_smpte_unpaced", "smpte_unpaced"),
        (_, Pace::Unpaced) => ("gst_unpaced", "unpaced"),
        (_, Pace::Live) => ("gst_paced", "paced_30fps"),
    };
    ctx.phase(&format!("gst {mode}"));
    // Unpaced, RTP goes to a port held open without reading; paced, to a
    // receiver, beside a simulator ([`super::neighbours`]) as the streamer's.
    let paced = matches!((source, pace), (Source::File(_), Pace::Live));
    let (sink, port) = if paced {
        let port = crate::ports::free_udp_pair()
            .map_err(|e| (Status::Failed, format!("no UDP port pair: {e}")))?;
        (None, port)
    } else {
        let sink = UdpSink::bind().map_err(|e| (Status::Failed, format!("no UDP port: {e}")))?;
        let port = sink.port;
        (Some(sink), port)
    };
    let description = pipeline::describe(&ctx.cfg, element, props, source, ctx.frames, pace, port);
    match (source, pace) {
        (Source::Smpte, _) => out.pipeline_smpte = Some(description.clone()),
        (_, Pace::Unpaced) => out.pipeline = Some(description.clone()),
        (_, Pace::Live) => out.pipeline_paced = Some(description.clone()),
    }
    let neighbours = if paced {
        Some(
            super::neighbours::Neighbours::start(ctx, "gst_neighbour", Some(port))
                .map_err(|why| (Status::Failed, why))?,
        )
    } else {
        None
    };
    let run = launch(ctx, program, name, mode, pace, &description, &[]);
    if let Some(n) = neighbours {
        out.processes.extend(n.finish());
    }
    drop(sink);
    let run = run?;
    out.processes.extend(run.failed);
    run.figures
}

/// One gst-launch run to its end, with its figures.
pub struct Launched {
    pub figures: Result<Run, (Status, String)>,
    /// The record of a run that produced no figures.
    pub failed: Option<crate::model::ProcessRecord>,
    /// Its standard error (where GStreamer's tracers write).
    pub stderr: String,
}

/// Runs gst-launch-1.0 `-e` on `description` (through `env` when `env` is
/// not empty: wait4 still reaps gst-launch itself, `env` execs it).
pub fn launch(
    ctx: &ConfigCtx,
    program: &Path,
    name: &str,
    mode: &'static str,
    pace: Pace,
    description: &str,
    env: &[(&str, &str)],
) -> Result<Launched, (Status, String)> {
    let limited = match pace {
        Pace::Unpaced => BY_BACK_PRESSURE,
        Pace::Live => BY_REALTIME,
    };
    let mut args = pipeline::launch_args(description);
    let program = if env.is_empty() {
        program.to_owned()
    } else {
        let mut with_env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        with_env.push(program.display().to_string());
        with_env.append(&mut args);
        args = with_env;
        PathBuf::from("/usr/bin/env")
    };
    let mut p = ctx
        .spawn(name, &program, args)
        .map_err(|e| (Status::Failed, e.to_string()))?;
    if matches!(pace, Pace::Live) {
        // Paced runs are split at the encoder's worker threads (compare.rs).
        p.sample_threads();
    }
    let waited = p.wait_until(ctx.unpaced_deadline());
    // With -e, gst-launch says this once the end of the stream (after
    // num-buffers frames) has gone through every element, the encoder
    // included: then all the frames were encoded and sent. gst-launch is a
    // foreign tool with no structured output, so this one stdout line is
    // the only account of it (our own processes are judged by events).
    let eos = p.stdout_text().contains("Got EOS from element");
    if waited != Wait::Exited(Exit::Code(0)) || !eos {
        let last = p.last_stderr_line().unwrap_or_default();
        p.stop("gst run failed");
        return Ok(Launched {
            figures: Err(match waited {
                Wait::Interrupted => (Status::Skipped, format!("{mode}: interrupted")),
                w => (
                    Status::Failed,
                    format!("{mode}: gst-launch-1.0 {w:?}, EOS seen: {eos}; {last}"),
                ),
            }),
            failed: Some(p.record()),
            stderr: String::new(),
        });
    }
    let frames = Frames {
        encoded: Some(ctx.frames),
        input: Some(ctx.frames),
        dropped: Some(0),
    };
    let stderr = if env.is_empty() {
        String::new()
    } else {
        p.stderr_text()
    };
    Ok(Launched {
        figures: run_figures(mode, &mut p, frames, limited)
            .ok_or_else(|| (Status::Failed, format!("{mode}: could not be reaped"))),
        failed: None,
        stderr,
    })
}
