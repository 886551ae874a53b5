//! latency_guard: 640x360 H.264 over RTP with the streamer's defaults
//! (latest-frame queue); the capture-to-receiver latency p99, from the
//! receiver's RTCP-based measurement, must stay below twice the p99 measured
//! on a quiet 2-core host (20.1-24 ms, debug and release builds alike).

use serde_json::{Value, json};

use super::torn::fmt;
use super::{overran, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at};
use crate::faults::ctx::{Ctx, SIM_JSON};
use crate::faults::judge::{at_least, below};
use crate::faults::model::FaultResult;
use crate::runner::Ended;
use crate::supervisor::Proc;

const FRAMES: u64 = 240;
/// 2 x the measured p99 (about 22 ms).
const P99_LIMIT_MS: f64 = 45.0;
const MIN_SAMPLES: u64 = 100;

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    let nats = ctx.run.nats_url();
    let threshold = FRAMES * 95 / 100;
    ctx.rtp_pair(nats, threshold, FRAMES, &[], procs)?;
    ctx.phase("streaming");
    procs.push(ctx.sim("sim", SIM_JSON, nats, &["--frames", &FRAMES.to_string()])?);
    let late = ctx.wait_all(procs.iter_mut().rev())?;
    ctx.phase("judging");
    let [rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("three processes")
    };
    let mut checks = Checks::default();
    sim_side(ctx, res, &mut checks, sim, FRAMES, true);
    streamer_side(ctx, res, &mut checks, st);
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    checks.at_least(
        "access units received",
        res.counts.access_units_received,
        threshold,
    );
    let l = res.latency_ms.clone();
    let samples = l.as_ref().map(|l| l.samples);
    at_least(&mut checks, "latency samples", samples, MIN_SAMPLES);
    below(
        &mut checks,
        "latency p99, ms",
        l.as_ref().map(|l| l.p99),
        P99_LIMIT_MS,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "width": 640,
        "height": 360,
        "frames_published": res.counts.frames_published,
        "access_units_received": res.counts.access_units_received,
        "latency_p50_ms": l.as_ref().map(|l| l.p50),
        "latency_p99_ms": l.as_ref().map(|l| l.p99),
        "latency_max_ms": l.as_ref().map(|l| l.max),
        "latency_samples": samples,
        "p99_limit_ms": P99_LIMIT_MS,
        "max_unit_gap_ms": at(rxj.as_ref(), "max_unit_gap_ms").and_then(Value::as_f64),
    });
    sim_peer(res, "paced 30 fps, 640x360 BGR");
    verdict(res, checks);
    Ok(format!(
        "p50 {} ms, p99 {} ms over {} samples, {} received, {}",
        l.as_ref()
            .map_or_else(|| "?".into(), |l| format!("{:.1}", l.p50)),
        l.as_ref()
            .map_or_else(|| "?".into(), |l| format!("{:.1}", l.p99)),
        fmt(samples),
        fmt(res.counts.access_units_received),
        res.encoder
            .as_ref()
            .map_or_else(|| "encoder ?".into(), |e| e.element.clone()),
    ))
}
