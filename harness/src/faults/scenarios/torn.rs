//! torn_read: the simulator rewrites each next frame in place right after
//! announcing the previous one (`--torn-writes`, stamps on the first and
//! last rows), the streamer checks every accepted frame's stamps
//! (`--verify-stamps`). Pass: torn copies happened and were dropped
//! (`frames_torn > 0`), no accepted frame mixes two writes
//! (`stamp_mismatches == 0` over `stamps_checked > 0`), and the stream goes
//! on.

use serde_json::{Value, json};

use super::{overran, pct, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at, u};
use crate::events::{Event, STAMP_MISMATCH};
use crate::faults::ctx::{Ctx, SIM_JSON};
use crate::faults::judge::{above, at_least, at_most, check, round1};
use crate::faults::model::FaultResult;
use crate::model::Outcome;
use crate::runner::Ended;
use crate::supervisor::Proc;

const FRAMES: u64 = 300;
/// Frames written normally first: none. The streamer copies nothing before
/// a first sync could have reached it, so tears are caught from frame 0.
const TORN_AFTER: u64 = 0;
/// Longest arrival gap at the receiver while the stream goes on.
const MAX_GAP_MS: f64 = 1000.0;

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    if !crate::bins::supports_flag(&ctx.run.bins.streamer, "--verify-stamps") {
        return Err(Ended(
            Outcome::Skip,
            "cvmmap_streamer has no --verify-stamps: torn frames cannot be proven absent".into(),
        ));
    }
    let nats = ctx.run.nats_url();
    ctx.rtp_pair(nats, 30, FRAMES, &["--verify-stamps"], procs)?;
    ctx.phase("streaming with torn writes");
    procs.push(ctx.sim(
        "sim",
        SIM_JSON,
        nats,
        &[
            "--frames",
            &FRAMES.to_string(),
            "--torn-writes",
            "--torn-after",
            &TORN_AFTER.to_string(),
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
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let torn = u(s, "stats.frames_torn");
    let checked = u(s, "stats.stamps_checked");
    let mismatches = u(s, "stats.stamp_mismatches");
    let ingested = res.counts.frames_ingested;
    // The streamer's events for the first mismatches, as JSON lines: which
    // frame, and the stamps of its first and last rows.
    let mismatch_lines: Vec<String> = ctx
        .events(&st.name)
        .all(STAMP_MISMATCH)
        .take(10)
        .map(Event::line)
        .collect();
    above(
        &mut checks,
        "torn copies dropped (the fault happened)",
        torn,
        0,
    );
    above(&mut checks, "frames whose stamps were checked", checked, 0);
    check(
        &mut checks,
        "every accepted frame's stamps were checked",
        checked.is_some() && checked == ingested,
        format!("stamps_checked = frames_ingested ({})", fmt(ingested)),
        checked.map(|c| c.to_string()),
    );
    checks.equals("stamp mismatches (torn frames accepted)", mismatches, 0);
    let ingested_pct = pct(ingested, res.counts.frames_published);
    let received_pct = pct(
        res.counts.access_units_received,
        res.counts.access_units_sent,
    );
    at_least(
        &mut checks,
        "the stream goes on: % of published frames ingested (measured 59-93%)",
        ingested_pct,
        50.0,
    );
    let max_gap = at(rxj.as_ref(), "max_unit_gap_ms")
        .and_then(Value::as_f64)
        .map(round1);
    at_most(
        &mut checks,
        "the stream goes on: largest arrival gap between units, ms",
        max_gap,
        MAX_GAP_MS,
    );
    at_least(
        &mut checks,
        "the receiver got the coherent frames: % of access units sent",
        received_pct,
        90.0,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "frames_published": res.counts.frames_published,
        "frames_written_in_place": u(sj, "frames_written_in_place"),
        "torn_max_delay_us": u(sj, "torn_max_delay_us"),
        "torn_after_frames": u(sj, "torn_after"),
        "frames_torn": torn,
        "frames_unannounced": u(s, "stats.frames_unannounced"),
        "frames_ingested": ingested,
        "stamps_checked": checked,
        "stamp_mismatches": mismatches,
        "stamp_mismatch_log": mismatch_lines,
        "frames_encoded": res.counts.frames_encoded,
        "access_units_sent": res.counts.access_units_sent,
        "access_units_received": res.counts.access_units_received,
        "ingested_pct": ingested_pct,
        "received_pct": received_pct,
        "max_unit_gap_ms": max_gap,
    });
    sim_peer(res, "--torn-writes --torn-after 0 (implies --stamp)");
    verdict(res, checks);
    Ok(format!(
        "torn {}, stamp mismatches {} of {} checked, {} of {} published ingested, {} received",
        fmt(torn),
        fmt(mismatches),
        fmt(checked),
        fmt(ingested),
        fmt(res.counts.frames_published),
        fmt(res.counts.access_units_received)
    ))
}

pub fn fmt(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}
