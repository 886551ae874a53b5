//! shrink_in_place: the producer re-initialises the same segment (same
//! inode) at another size, alternating 1920x1080 and 640x360: ten times it
//! `ftruncate`s the segment from 1080p down to 360p right after announcing
//! a 1080p frame, while the streamer may still be copying it (contract §2
//! allows re-initialising with another size). A copy out of a mapping would
//! die of SIGBUS there; the streamer must run to its idle timeout, re-open
//! the segment at every resize, and stream every new size: a keyframe of
//! 640x360 after each shrink.
//!
//! Frames are stamped and checked, and the mismatches are recorded, not
//! judged: a producer that falls behind at 1080p writes the next payload in
//! place right after a sync, which no consumer can detect (contract §2, no
//! seqlock; the `torn_payload_first` scenario measures that limit).

use serde_json::{Value, json};

use super::torn::fmt;
use super::{overran, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at, u};
use crate::events::{Event, STREAM_SIZE};
use crate::faults::ctx::{Ctx, GOP_MS, SIM_JSON};
use crate::faults::judge::{at_least, at_most, check, ms_between, round1};
use crate::faults::model::FaultResult;
use crate::runner::Ended;
use crate::supervisor::Proc;

/// Frames between resets: half a second at 30 fps.
const RESET_EVERY: u64 = 15;
/// Shrinks (1080p to 360p) the run must contain; as many grows between.
pub const SHRINKS: u64 = 10;
/// Resets come every RESET_EVERY frames: 1, 3, 5, ... shrink, 2, 4, ...
/// grow back; 2 * SHRINKS - 1 resets, the last one a shrink.
const FRAMES: u64 = RESET_EVERY * 2 * SHRINKS;
const START: (u32, u32) = (1920, 1080);
const SIZES: &str = "640x360,1920x1080";
/// A 1080p software encode on a small host may take a GOP to catch up.
const RECOVERY_SLACK_MS: f64 = 1000.0;

/// Per shrink: ms from it to the first 640x360 keyframe sent at or after
/// it (the streamer's `stream_size` events); None when none came.
pub fn resumed_small(shrinks_ns: &[u64], sizes: &[(u64, u64, u64)]) -> Vec<Option<f64>> {
    shrinks_ns
        .iter()
        .map(|&t| {
            sizes
                .iter()
                .find(|&&(ts, w, h)| ts >= t && (w, h) == (640, 360))
                .map(|&(ts, _, _)| round1(ms_between(t, ts)))
        })
        .collect()
}

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    let nats = ctx.run.nats_url();
    ctx.rtp_pair(nats, 30, FRAMES, &["--verify-stamps"], procs)?;
    ctx.phase("streaming while the segment shrinks in place");
    procs.push(ctx.sim_sized(
        "sim",
        SIM_JSON,
        nats,
        START,
        &[
            "--frames",
            &FRAMES.to_string(),
            "--reset-every",
            &RESET_EVERY.to_string(),
            "--reset-shrink",
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
    let shrinks_ns: Vec<u64> = at(sj, "reset_events")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|e| e["height"] == 360)
                .filter_map(|e| e["at_unix_ns"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    checks.equals(
        "shrinks in place, 1080p to 360p",
        Some(shrinks_ns.len() as u64),
        SHRINKS,
    );
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let r = rxj.as_ref();
    let events = ctx.events(&st.name);
    let sizes: Vec<(u64, u64, u64)> = events
        .all(STREAM_SIZE)
        .filter_map(|e| Some((e.ts_unix_ns, e.u64("width")?, e.u64("height")?)))
        .collect();
    let resumed = resumed_small(&shrinks_ns, &sizes);
    let missing = resumed.iter().filter(|r| r.is_none()).count() as u64;
    let slowest = resumed.iter().flatten().copied().reduce(f64::max);
    checks.equals(
        "shrinks not followed by a 640x360 keyframe",
        Some(missing),
        0,
    );
    at_most(
        &mut checks,
        "slowest resume at the new size, ms (one GOP + 1 s)",
        slowest,
        GOP_MS as f64 + RECOVERY_SLACK_MS,
    );
    check(
        &mut checks,
        "the last keyframe sent is 640x360 (the producer's last size)",
        sizes.last().is_some_and(|&(_, w, h)| (w, h) == (640, 360)),
        "640x360".into(),
        sizes.last().map(|&(_, w, h)| format!("{w}x{h}")),
    );
    at_least(
        &mut checks,
        "segment re-opened at least once per resize",
        u(s, "stats.segment_maps"),
        2 * SHRINKS,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "start_size": "1920x1080",
        "reset_sizes": SIZES,
        "reset_every_frames": RESET_EVERY,
        "shrinks": shrinks_ns.len(),
        "streamer_segment_maps": u(s, "stats.segment_maps"),
        "streamer_reads_refused": u(s, "stats.reads_refused"),
        "streamer_metadata_invalid": u(s, "stats.metadata_invalid"),
        "streamer_frames_torn": u(s, "stats.frames_torn"),
        "stamp_mismatches": u(s, "stats.stamp_mismatches"),
        "stream_size_events": events.all(STREAM_SIZE).map(Event::line).collect::<Vec<_>>(),
        "resume_small_ms": resumed,
        "resume_small_max_ms": slowest,
        "frames_published": res.counts.frames_published,
        "frames_ingested": res.counts.frames_ingested,
        "access_units_received": res.counts.access_units_received,
        "receiver_keyframes": u(r, "keyframes"),
        "max_unit_gap_ms": at(r, "max_unit_gap_ms").and_then(Value::as_f64).map(round1),
    });
    sim_peer(
        res,
        "1920x1080, --reset-every 15 --reset-shrink --reset-sizes 640x360,1920x1080 --stamp",
    );
    verdict(res, checks);
    Ok(format!(
        "{} shrinks, streamer ran through ({} reads refused, {} re-opens), slowest resume at 360p {} ms",
        shrinks_ns.len(),
        fmt(u(s, "stats.reads_refused")),
        fmt(u(s, "stats.segment_maps")),
        slowest.map_or_else(|| "?".into(), |v| v.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_is_the_first_small_keyframe_after_each_shrink() {
        let ms = 1_000_000;
        let sizes = [
            (0, 1920, 1080),
            (110 * ms, 640, 360),
            (500 * ms, 1920, 1080),
            (1200 * ms, 640, 360),
        ];
        assert_eq!(
            resumed_small(&[100 * ms, 1000 * ms, 2000 * ms], &sizes),
            [Some(10.0), Some(200.0), None]
        );
        assert_eq!(FRAMES, 300);
    }
}
