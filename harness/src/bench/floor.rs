//! The encoder-only floor of a configuration: the same element and
//! properties fed the same frames already in I420 (`filesrc ! rawvideoparse
//! format=i420 ! encoder ! fakesink`). What encoding alone costs; each
//! side's overhead is its CPU per frame minus this, measured in the same run.
//!
//! Three runs: unpaced (throughput), paced at 30 fps (CPU per frame at a
//! camera's rate), and paced again with GStreamer's latency tracer
//! (`latency(flags=element)`: the time each buffer spent inside the encoder
//! element), kept apart so that the tracer's own cost is in no CPU figure.

use super::ConfigCtx;
use super::frames::FrameFiles;
use super::gst_side::{Launcher, launch};
use super::measure::round3;
use super::model::{FloorSide, GstTool, Status};
use super::pipeline::{self, Pace};
use crate::model::{EncoderUsed, Latency};

pub fn side(reason: &str) -> FloorSide {
    FloorSide {
        status: Status::Skipped,
        reason: reason.into(),
        element: None,
        pipeline: None,
        unpaced: None,
        paced: None,
        latency_ms: None,
        latency_note: None,
        processes: Vec::new(),
    }
}

pub fn measure(
    ctx: &ConfigCtx,
    tool: &GstTool,
    files: &FrameFiles,
    used: Option<&EncoderUsed>,
    out: &mut FloorSide,
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
    out.pipeline = Some(pipeline::describe_floor(
        &ctx.cfg,
        &element,
        &props,
        files,
        Pace::Unpaced,
    ));
    let mut status = Status::Ok;
    let runs: [FloorRun; 3] = [
        ("floor_unpaced", "unpaced", Pace::Unpaced, &[]),
        ("floor_paced", "paced_30fps", Pace::Live, &[]),
        (
            "floor_latency",
            "paced_30fps_traced",
            Pace::Live,
            &[
                ("GST_TRACERS", "latency(flags=element)"),
                ("GST_DEBUG", "GST_TRACER:7"),
                ("GST_DEBUG_NO_COLOR", "1"),
            ],
        ),
    ];
    for (name, mode, pace, env) in runs {
        if crate::interrupt::requested() {
            status = Status::Skipped;
            notes.push("interrupted".into());
            break;
        }
        ctx.phase(&format!("floor {mode}"));
        let description = pipeline::describe_floor(&ctx.cfg, &element, &props, files, pace);
        // The paced CPU run beside the streamer's neighbours (a simulator
        // at the same rate; nothing to receive): [`super::neighbours`].
        let neighbours = match name {
            "floor_paced" => {
                match super::neighbours::Neighbours::start(ctx, "floor_neighbour", None) {
                    Ok(n) => Some(n),
                    Err(why) => {
                        status = worst(status, Status::Failed);
                        notes.push(why);
                        continue;
                    }
                }
            }
            _ => None,
        };
        let launched = launch(ctx, &program, name, mode, pace, &description, env);
        if let Some(n) = neighbours {
            out.processes.extend(n.finish());
        }
        let launched = match launched {
            Ok(l) => l,
            Err((s, why)) => {
                status = worst(status, s);
                notes.push(why);
                continue;
            }
        };
        out.processes.extend(launched.failed);
        match (launched.figures, name) {
            (Err((s, why)), _) => {
                status = worst(status, s);
                notes.push(why);
            }
            (Ok(run), "floor_unpaced") => out.unpaced = Some(run),
            (Ok(run), "floor_paced") => out.paced = Some(run),
            (Ok(_), _) => {
                let times = element_latencies(&launched.stderr, &element);
                out.latency_ms = summarise(&times);
                if out.latency_ms.is_none() {
                    out.latency_note = Some(format!(
                        "the latency tracer reported no buffer of {element}"
                    ));
                }
            }
        }
    }
    out.element = Some(element);
    out.status = status;
    out.reason = if notes.is_empty() {
        "measured".into()
    } else {
        notes.join("; ")
    };
}

/// (side name, pace label, pace, extra encoder properties) of one floor run.
type FloorRun<'a> = (&'a str, &'static str, Pace, &'a [(&'a str, &'a str)]);

fn worst(a: Status, b: Status) -> Status {
    if a == Status::Ok || b == Status::Failed {
        b
    } else {
        a
    }
}

/// The `time` (ns) of every `element-latency` record of the element named
/// `<element>N` in the tracer's log lines, e.g.
/// `element-latency, element-id=(string)0x.., element=(string)x264enc0,
/// src=(string)src, time=(guint64)2889071, ts=(guint64)31492847;`
pub fn element_latencies(log: &str, element: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|line| {
            let rec = &line[line.find("element-latency, ")?..];
            let name = field(rec, "element=(string)")?;
            let is_ours = name
                .strip_prefix(element)
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
            if !is_ours {
                return None;
            }
            field(rec, "time=(guint64)")?.parse().ok()
        })
        .collect()
}

fn field<'a>(rec: &'a str, key: &str) -> Option<&'a str> {
    let rest = &rec[rec.find(key)? + key.len()..];
    Some(&rest[..rest.find([',', ';'])?])
}

/// Nearest-rank percentiles in milliseconds.
pub fn summarise(ns: &[u64]) -> Option<Latency> {
    if ns.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = ns.iter().map(|&n| n as f64 / 1e6).collect();
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Latency {
        p50: round3(rank(0.50)),
        p99: round3(rank(0.99)),
        min: round3(v[0]),
        max: round3(v[v.len() - 1]),
        mean: round3(v.iter().sum::<f64>() / v.len() as f64),
        samples: v.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_encoders_records_only() {
        let log = "\
0:00:00.03 1 0x5 TRACE GST_TRACER :0:: element-latency, element-id=(string)0x55, element=(string)x264enc0, src=(string)src, time=(guint64)2889071, ts=(guint64)31492847;
0:00:00.03 1 0x5 TRACE GST_TRACER :0:: element-latency, element-id=(string)0x56, element=(string)capsfilter0, src=(string)src, time=(guint64)11583, ts=(guint64)1;
0:00:00.06 1 0x5 TRACE GST_TRACER :0:: element-latency, element-id=(string)0x55, element=(string)x264enc0, src=(string)src, time=(guint64)1000000, ts=(guint64)2;
0:00:00.06 1 0x5 TRACE GST_TRACER :0:: element-latency, element-id=(string)0x57, element=(string)x264enc_other0, src=(string)src, time=(guint64)5, ts=(guint64)2;
garbage element-latency, element=(string)x264enc0, time=(guint64)notanumber;";
        assert_eq!(element_latencies(log, "x264enc"), [2_889_071, 1_000_000]);
        let l = summarise(&[1_000_000, 3_000_000, 2_000_000]).unwrap();
        assert_eq!(
            (l.p50, l.p99, l.min, l.max, l.samples),
            (2.0, 3.0, 1.0, 3.0, 3)
        );
        assert!(summarise(&[]).is_none());
    }
}
