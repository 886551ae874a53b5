//! reset_storm: 50 producer resets in 10 s (every 6 frames at 30 fps), each
//! re-creating the segment and changing the resolution, with STREAM_RESET
//! over NATS. The streamer must never stop early, output must resume within
//! one GOP after every reset (the first keyframe at the receiver after each
//! reset's wall-clock time), and the receiver's RTP timestamps must never go
//! backwards.

use serde_json::{Value, json};

use super::torn::fmt;
use super::{overran, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at, u};
use crate::faults::ctx::{Ctx, GOP_MS, SIM_JSON};
use crate::faults::judge::{at_least, at_most, ms_between, round1};
use crate::faults::model::FaultResult;
use crate::runner::Ended;
use crate::supervisor::Proc;

const RESET_EVERY: u64 = 6;
const RESETS: u64 = 50;
/// 50 resets every 6 frames: frames 6, 12, ..., 300; 6 more after the last.
const FRAMES: u64 = RESET_EVERY * (RESETS + 1);
const SIZES: &str = "480x272,320x180,640x360";
/// Arrival gaps may exceed one GOP by this much (scheduling on a loaded
/// host, the encoder's reconfiguration).
const GAP_SLACK_MS: f64 = 500.0;

/// Per reset: ms from its wall-clock time to the first keyframe that
/// arrived at the receiver at or after it; None when none did.
pub fn recoveries(resets_ns: &[u64], keyframes_ns: &[u64]) -> Vec<Option<f64>> {
    resets_ns
        .iter()
        .map(|&r| {
            keyframes_ns
                .iter()
                .find(|&&k| k >= r)
                .map(|&k| round1(ms_between(r, k)))
        })
        .collect()
}

fn u64s(v: Option<&Value>) -> Vec<u64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    let nats = ctx.run.nats_url();
    ctx.rtp_pair(nats, 30, FRAMES, &["--verify-stamps"], procs)?;
    ctx.phase("streaming through the reset storm");
    procs.push(ctx.sim(
        "sim",
        SIM_JSON,
        nats,
        &[
            "--frames",
            &FRAMES.to_string(),
            "--reset-every",
            &RESET_EVERY.to_string(),
            "--reset-recreate",
            "--reset-sizes",
            SIZES,
            "--stamp",
        ],
    )?);
    let late = ctx.wait_all(procs.iter_mut().rev())?;
    ctx.phase("judging");
    let [rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("three processes")
    };
    let mut checks = Checks::default();
    let simj = sim_side(ctx, res, &mut checks, sim, FRAMES, true);
    let sj = simj.as_ref();
    let resets = u(sj, "resets");
    checks.at_least("producer resets", resets, RESETS);
    let reset_ns = u64s(at(sj, "reset_times_ns"));
    let storm_ms = match (reset_ns.first(), reset_ns.last()) {
        (Some(&a), Some(&b)) => Some(round1(ms_between(a, b))),
        _ => None,
    };
    at_most(
        &mut checks,
        "the resets took, ms (50 in 10 s)",
        storm_ms,
        10_000.0,
    );
    let recreated = at(sj, "reset_events")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|e| e["recreated"] == true).count() as u64);
    checks.equals("segments re-created", recreated, resets.unwrap_or(0));
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let r = rxj.as_ref();
    let applied = u(s, "stats.resets_applied");
    checks.at_least(
        "resets the streamer applied (new timeline)",
        applied,
        RESETS,
    );
    checks.equals(
        "torn frames accepted (stamp mismatches)",
        u(s, "stats.stamp_mismatches"),
        0,
    );
    let keyframes = u(r, "keyframes");
    checks.at_least(
        "keyframes at the receiver (>= resets applied)",
        keyframes,
        applied.unwrap_or(RESETS),
    );
    let kf_ns: Vec<u64> = u64s(at(r, "keyframe_arrivals_unix_ns"));
    let rec = recoveries(&reset_ns, &kf_ns);
    let missing = rec.iter().filter(|r| r.is_none()).count() as u64;
    let max_rec = rec.iter().flatten().copied().reduce(f64::max);
    checks.equals("resets with no keyframe after them", Some(missing), 0);
    at_most(
        &mut checks,
        "slowest recovery after a reset, ms (one GOP)",
        max_rec,
        GOP_MS as f64,
    );
    let max_gap = at(r, "max_unit_gap_ms").and_then(Value::as_f64).map(round1);
    at_most(
        &mut checks,
        "largest arrival gap between units, ms (GOP + 500 ms)",
        max_gap,
        GOP_MS as f64 + GAP_SLACK_MS,
    );
    checks.equals(
        "RTP timestamps going backwards",
        u(r, "rtp_timestamps_backwards"),
        0,
    );
    at_least(
        &mut checks,
        "access units received, % of published",
        super::pct(
            res.counts.access_units_received,
            res.counts.frames_published,
        ),
        80.0,
    );
    overran(&mut checks, late);
    let mut sorted: Vec<f64> = rec.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied();
    res.figures = json!({
        "reset_every_frames": RESET_EVERY,
        "reset_sizes": SIZES,
        "resets": resets,
        "segments_recreated": recreated,
        "resets_span_ms": storm_ms,
        "streamer_producer_resets": u(s, "stats.producer_resets"),
        "streamer_resets_applied": applied,
        "streamer_stream_reset_events": u(s, "stats.producer_stream_resets"),
        "streamer_keyframes_forced": u(s, "stats.keyframes_forced"),
        "streamer_segment_maps": u(s, "stats.segment_maps"),
        "streamer_metadata_invalid": u(s, "stats.metadata_invalid"),
        "stamp_mismatches": u(s, "stats.stamp_mismatches"),
        "frames_published": res.counts.frames_published,
        "frames_ingested": res.counts.frames_ingested,
        "access_units_received": res.counts.access_units_received,
        "receiver_keyframes": keyframes,
        "recovery_ms": rec,
        "recovery_median_ms": median,
        "recovery_max_ms": max_rec,
        "resets_without_recovery": missing,
        "gop_ms": GOP_MS,
        "max_unit_gap_ms": max_gap,
        "rtp_timestamps_backwards": u(r, "rtp_timestamps_backwards"),
    });
    sim_peer(
        res,
        "--reset-every 6 --reset-recreate --reset-sizes, --stamp",
    );
    verdict(res, checks);
    Ok(format!(
        "{} resets, {} applied, recovery max {} ms, {} keyframes, max gap {} ms, {} timestamps backwards",
        fmt(resets),
        fmt(applied),
        max_rec.map_or_else(|| "?".into(), |v| v.to_string()),
        fmt(keyframes),
        max_gap.map_or_else(|| "?".into(), |v| v.to_string()),
        fmt(u(r, "rtp_timestamps_backwards")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_is_the_first_keyframe_at_or_after_each_reset() {
        let ms = 1_000_000;
        let resets = [100 * ms, 300 * ms, 900 * ms];
        let kf = [50 * ms, 120 * ms, 310 * ms, 320 * ms];
        assert_eq!(recoveries(&resets, &kf), [Some(20.0), Some(10.0), None]);
        assert_eq!(FRAMES, 306);
    }
}
