//! sink_stall: the RTMP stub stops reading for 5 s. The streamer's memory
//! (VmRSS, sampled every 100 ms) must grow by less than 32 MiB from just
//! before the stall to its peak, the streamer must not exit, drops must be
//! counted, and after the stall the stream must resume at a keyframe within
//! one GOP (the stub's resume point: the first frame after the backlog
//! whose DTS jumps past the dropped units).
//!
//! The streamer also sends RTP to the strict receiver: the stall of one
//! output must not reach the other. The RTP receiver must see no keyframe
//! storm (at most the GOP's own keyframes plus the two forced ones over the
//! stall, none closer than a quarter GOP) and lose nothing.

use std::time::Duration;

use serde_json::{Value, json};

use super::flood::within;
use super::torn::fmt;
use super::{
    RTMP_NO_LATENCY, overran, pct, read, receiver_side, sim_peer, sim_side, streamer_side,
    stub_peer, verdict,
};
use crate::acceptance::judge::{Checks, at, u};
use crate::events::SINK_STALL_BEGAN;
use crate::evidence::write_json;
use crate::faults::ctx::{Ctx, FPS, GOP, GOP_MS, SIM_JSON, STUB_JSON};
use crate::faults::judge::{above, at_least, at_most, below, check, ms_between, round1};
use crate::faults::model::FaultResult;
use crate::faults::rss::{RssSample, RssSampler};
use crate::runner::Ended;
use crate::supervisor::Proc;

const FRAMES: u64 = 330;
const STALL_AFTER_MS: u64 = 2500;
const STALL_MS: u64 = 5000;
/// Frames the stub must see after the resume point before it passes.
const AFTER_RESUME: u64 = 60;
/// The memory bound of the issue.
pub const MAX_GROWTH_MIB: f64 = 32.0;

/// Memory figures around a stall: the last sample before it, the peak from
/// it on, and whether the process was still sampled after it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RssAround {
    pub baseline_kib: Option<u64>,
    pub peak_kib: Option<u64>,
    pub growth_mib: Option<f64>,
    pub alive_after_end: bool,
}

pub fn rss_around(samples: &[RssSample], start_ns: u64, end_ns: u64) -> RssAround {
    let baseline_kib = samples
        .iter()
        .rev()
        .find(|s| s.unix_ns < start_ns)
        .map(|s| s.kib);
    let peak_kib = samples
        .iter()
        .filter(|s| s.unix_ns >= start_ns)
        .map(|s| s.kib)
        .max();
    let growth_mib = match (baseline_kib, peak_kib) {
        (Some(b), Some(p)) => Some(round1((p as f64 - b as f64) / 1024.0)),
        _ => None,
    };
    RssAround {
        baseline_kib,
        peak_kib,
        growth_mib,
        alive_after_end: samples.iter().any(|s| s.unix_ns >= end_ns),
    }
}

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    let nats = ctx.run.nats_url();
    ctx.phase("starting RTMP stub");
    let timeout = (FRAMES * 1000 / FPS + 30_000).to_string();
    let port = ctx.stub(
        "stub",
        0,
        STUB_JSON,
        &[
            "--video-threshold",
            "1",
            "--stall-after-ms",
            &STALL_AFTER_MS.to_string(),
            "--stall-ms",
            &STALL_MS.to_string(),
            "--after-stall-threshold",
            &AFTER_RESUME.to_string(),
            "--timeout-ms",
            &timeout,
        ],
        procs,
    )?;
    ctx.phase("starting receiver");
    let rtp_port = ctx.receiver(FRAMES * 9 / 10, FRAMES * 1000 / FPS + 30_000, procs)?;
    ctx.phase("starting streamer");
    let url = format!("rtmp://127.0.0.1:{port}/live/flt_stall");
    let mut output = ctx.rtp_output(rtp_port);
    output.extend(["--rtmp".into(), "--rtmp-url".into(), url]);
    let st = ctx.streamer(nats, output, procs)?;
    let sampler = RssSampler::start(procs[st].pid(), Duration::from_millis(100));
    ctx.phase("streaming, the stub stalls");
    procs.push(ctx.sim("sim", SIM_JSON, nats, &["--frames", &FRAMES.to_string()])?);
    let waited = ctx.wait_all(procs.iter_mut().rev());
    let samples = sampler.finish();
    let late = waited?;
    ctx.phase("judging");
    let _ = write_json(&ctx.path("streamer.rss.json"), &samples);
    let [stub, rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("four processes")
    };
    let mut checks = Checks::default();
    sim_side(ctx, res, &mut checks, sim, FRAMES, false);
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let rxr = rxj.as_ref();
    let stubj = read(ctx, STUB_JSON);
    let r = stubj.as_ref();
    res.counts.video_frames_received = u(r, "video_frames");
    res.counts.receive_threshold = Some(AFTER_RESUME);
    let a = at(r, "after_stall");
    let f = |k: &str| at(a, k).and_then(Value::as_f64);
    let b = |k: &str| at(a, k).and_then(Value::as_bool);
    let started = u(r, "stall_started_unix_ns");
    let ended = u(r, "stall_ended_unix_ns");
    let mem = match (started, ended) {
        (Some(s0), Some(s1)) => Some(rss_around(&samples, s0, s1)),
        _ => None,
    };
    // The streamer's own account of when it began to drop: its first
    // sink stall event after the stub stopped reading.
    let drop_started_ms = started.and_then(|s0| {
        let began = ctx
            .events(&st.name)
            .first_after(SINK_STALL_BEGAN, s0)?
            .ts_unix_ns;
        Some(round1(ms_between(s0, began)))
    });
    checks.exit("stub exit", stub.poll(), 0);
    checks.equals("stalls performed", u(r, "stalls"), 1);
    check(
        &mut checks,
        "streamer still running when the stall ended",
        mem.as_ref().is_some_and(|m| m.alive_after_end),
        "VmRSS samples after the stall's end".into(),
        mem.as_ref().map(|m| m.alive_after_end.to_string()),
    );
    below(
        &mut checks,
        "memory growth from before the stall to the peak, MiB",
        mem.as_ref().and_then(|m| m.growth_mib),
        MAX_GROWTH_MIB,
    );
    above(
        &mut checks,
        "RTMP units dropped (counted)",
        res.counts.rtmp_units_dropped,
        0,
    );
    checks.is_true("the stream resumed at a keyframe", b("resume_keyframe"));
    at_most(
        &mut checks,
        "resume after the stall ended, ms (one GOP)",
        f("resume_ms").map(round1),
        GOP_MS as f64,
    );
    checks.at_least(
        "frames after the resume point",
        at(a, "frames_after_resume").and_then(Value::as_u64),
        AFTER_RESUME,
    );
    checks.equals(
        "dropped spans not resumed on a keyframe",
        u(r, "dts_gaps_not_on_keyframe"),
        0,
    );
    checks.equals("DTS regressions", u(r, "timestamp_regressions"), 0);
    // One request when the first RTMP session starts, one per drop episode
    // (asked once the queue has room again): the stall must not turn into a
    // keyframe storm that every other output would carry too.
    at_most(
        &mut checks,
        "keyframes forced (session start + one per drop episode)",
        u(s, "stats.keyframes_forced"),
        2,
    );
    // RTP through the stall: keyframes from the stall's start to one GOP
    // after its end.
    let arrivals: Vec<u64> = at(rxr, "keyframe_arrivals_unix_ns")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let window = started.zip(ended).map(|(a, b)| (a, b + GOP_MS * 1_000_000));
    let (rtp_keyframes, rtp_min_gap) = window.map_or((0, None), |(a, b)| within(&arrivals, a, b));
    let window_gops = (STALL_MS + GOP_MS) / GOP_MS;
    let rtp_bound = window_gops + 1 + 2;
    at_most(
        &mut checks,
        "RTP keyframes over the stall (the GOP's own + 2 forced)",
        window.map(|_| rtp_keyframes),
        rtp_bound,
    );
    at_least(
        &mut checks,
        "RTP keyframe spacing over the stall, ms (a quarter GOP)",
        rtp_min_gap,
        GOP_MS as f64 / 4.0,
    );
    let rtp_pct = pct(u(rxr, "access_units_complete"), u(s, "stats.access_units"));
    at_least(
        &mut checks,
        "RTP unaffected: % of units sent received",
        rtp_pct,
        95.0,
    );
    overran(&mut checks, late);
    res.latency_note = Some(RTMP_NO_LATENCY.into());
    let m = mem.clone();
    res.figures = json!({
        "stall_after_ms": STALL_AFTER_MS,
        "stall_ms": STALL_MS,
        "stall_started_unix_ns": started,
        "stall_ended_unix_ns": ended,
        "rss_samples": samples.len(),
        "rss_interval_ms": 100,
        "rss_before_stall_kib": m.as_ref().and_then(|m| m.baseline_kib),
        "rss_peak_kib": m.as_ref().and_then(|m| m.peak_kib),
        "rss_growth_mib": m.as_ref().and_then(|m| m.growth_mib),
        "rss_limit_mib": MAX_GROWTH_MIB,
        "streamer_alive_at_stall_end": m.as_ref().map(|m| m.alive_after_end),
        "drops_began_after_stall_ms": drop_started_ms,
        "rtmp_units_sent": res.counts.rtmp_units_sent,
        "rtmp_units_dropped": res.counts.rtmp_units_dropped,
        "keyframes_forced": u(s, "stats.keyframes_forced"),
        "gop_frames": GOP,
        "gop_ms": GOP_MS,
        "backlog_frames_after_stall": at(a, "backlog_frames").and_then(Value::as_u64),
        "first_frame_after_stall_ms": f("first_frame_ms").map(round1),
        "first_frame_after_stall_keyframe": b("first_frame_keyframe"),
        "frames_after_stall_before_keyframe": at(a, "frames_before_keyframe").and_then(Value::as_u64),
        "resume_after_stall_ms": f("resume_ms").map(round1),
        "resume_keyframe": b("resume_keyframe"),
        "resume_dts_gap_ms": at(a, "resume_dts_gap_ms").and_then(Value::as_u64),
        "frames_after_resume": at(a, "frames_after_resume").and_then(Value::as_u64),
        "video_frames_received": res.counts.video_frames_received,
        "rtp_keyframes_over_stall": rtp_keyframes,
        "rtp_keyframes_bound": rtp_bound,
        "rtp_keyframe_min_gap_ms": rtp_min_gap,
        "rtp_received_pct": rtp_pct,
    });
    sim_peer(res, "paced 30 fps");
    stub_peer(
        res,
        crate::bins::RTMP_STUB,
        &format!(
            "--stall-after-ms {STALL_AFTER_MS} --stall-ms {STALL_MS} --after-stall-threshold {AFTER_RESUME}"
        ),
    );
    verdict(res, checks);
    Ok(format!(
        "RSS +{} MiB, {} units dropped, resumed {} ms after the stall on a keyframe: {}",
        mem.as_ref()
            .and_then(|m| m.growth_mib)
            .map_or_else(|| "?".into(), |g| g.to_string()),
        fmt(res.counts.rtmp_units_dropped),
        f("resume_ms").map_or_else(|| "?".into(), |v| round1(v).to_string()),
        b("resume_keyframe").map_or_else(|| "?".into(), |v| v.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(unix_ns: u64, kib: u64) -> RssSample {
        RssSample { unix_ns, kib }
    }

    #[test]
    fn baseline_peak_and_growth() {
        let v = [s(1, 100), s(2, 1000), s(3, 900), s(4, 9000), s(5, 1200)];
        let m = rss_around(&v, 3, 5);
        assert_eq!((m.baseline_kib, m.peak_kib), (Some(1000), Some(9000)));
        assert_eq!(m.growth_mib, Some(7.8));
        assert!(m.alive_after_end);
        let m = rss_around(&v, 0, 6);
        assert_eq!((m.baseline_kib, m.growth_mib), (None, None));
        assert!(!m.alive_after_end);
    }
}
