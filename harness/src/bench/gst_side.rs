//! The gst-launch-1.0 side of a configuration: the equivalent pipeline of
//! [`super::pipeline`], with the encoder element the streamer reported,
//! run unpaced and live at 30 fps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ConfigCtx;
use super::measure::{BY_BACK_PRESSURE, BY_REALTIME, Frames, UdpSink, run_figures};
use super::model::{GstSide, GstTool, Run, Status};
use super::pipeline::{self, Pace};
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
        processes: Vec::new(),
    }
}

/// Measures both gst runs with the element the streamer used.
pub fn measure(ctx: &ConfigCtx, tool: &GstTool, used: Option<&EncoderUsed>, out: &mut GstSide) {
    let Some(program) = tool.path.as_ref().map(PathBuf::from) else {
        out.reason = tool.skipped_reason.clone().unwrap_or_default();
        return;
    };
    let software = ctx.cfg.codec.software_element();
    let (element, mut notes) = match used {
        Some(e) => (e.element.clone(), Vec::new()),
        None => (
            software.to_owned(),
            vec![format!(
                "the streamer reported no encoder; {software} assumed"
            )],
        ),
    };
    out.element = Some(element.clone());
    if crate::gst::element_exists(&element) == Some(false) {
        out.reason = format!("encoder element {element} is not installed");
        return;
    }
    let known = pipeline::element_properties(&element);
    // Without gst-inspect-1.0's answer, set everything and let gst-launch
    // say what it refuses (in its log, as a failed run).
    let has = |k: &str| known.is_empty() || known.iter().any(|p| p == k);
    let props = pipeline::encoder_properties(&element, ctx.cfg.codec, &has);
    let mut status = Status::Ok;
    for pace in [Pace::Unpaced, Pace::Live] {
        if crate::interrupt::requested() {
            status = Status::Skipped;
            notes.push("interrupted".into());
            break;
        }
        match run_one(ctx, &program, &element, &props, pace, out) {
            Ok(run) => match pace {
                Pace::Unpaced => out.unpaced = Some(run),
                Pace::Live => out.paced = Some(run),
            },
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
    pace: Pace,
    out: &mut GstSide,
) -> Result<Run, (Status, String)> {
    let (name, mode, limited) = match pace {
        Pace::Unpaced => ("gst_unpaced", "unpaced", BY_BACK_PRESSURE),
        Pace::Live => ("gst_paced", "paced_30fps", BY_REALTIME),
    };
    ctx.phase(&format!("gst {mode}"));
    let sink = UdpSink::bind().map_err(|e| (Status::Failed, format!("no UDP port: {e}")))?;
    let description = pipeline::describe(&ctx.cfg, element, props, ctx.frames, pace, sink.port);
    match pace {
        Pace::Unpaced => out.pipeline = Some(description.clone()),
        Pace::Live => out.pipeline_paced = Some(description.clone()),
    }
    let args = pipeline::launch_args(&description);
    let mut p = ctx
        .spawn(name, program, args)
        .map_err(|e| (Status::Failed, e.to_string()))?;
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
        out.processes.push(p.record());
        return Err(match waited {
            Wait::Interrupted => (Status::Skipped, format!("{mode}: interrupted")),
            w => (
                Status::Failed,
                format!("{mode}: gst-launch-1.0 {w:?}, EOS seen: {eos}; {last}"),
            ),
        });
    }
    let frames = Frames {
        encoded: Some(ctx.frames),
        input: Some(ctx.frames),
        dropped: Some(0),
    };
    run_figures(mode, &mut p, frames, limited)
        .ok_or_else(|| (Status::Failed, format!("{mode}: could not be reaped")))
}
