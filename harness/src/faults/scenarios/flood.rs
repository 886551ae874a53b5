//! keyframe_flood: anyone on NATS may call the streamer's `keyframe`
//! endpoint. Once frames flow, the harness sends 100 requests a second for
//! 5 s. The streamer's keyframe limiter must hold forced keyframes to at
//! most two per GOP (one per half GOP), the receiver must see no more
//! keyframes than that and no two closer than a quarter GOP, and the stream
//! must stay intact.

use std::time::Duration;

use serde_json::{Value, json};

use super::{overran, pct, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at, u};
use crate::events::{FIRST_FRAME, KEYFRAME_FORCED, wait_for_event};
use crate::faults::ctx::{Ctx, FPS, GOP_MS, SIM_JSON};
use crate::faults::judge::{above, at_least, at_most, ms_between, round1};
use crate::faults::model::FaultResult;
use crate::model::{Outcome, Peer};
use crate::nats_flood::flood;
use crate::runner::Ended;
use crate::supervisor::Proc;

const FRAMES: u64 = 300;
const RATE_HZ: u32 = 100;
const FLOOD: Duration = Duration::from_secs(5);
/// GOPs the flood spans.
const FLOOD_GOPS: u64 = 5;
/// Keyframes closer than this (a quarter GOP) mean the limiter let two
/// through one window (arrival jitter allowed for).
const MIN_SPACING_MS: f64 = GOP_MS as f64 / 4.0;

/// Instants inside `[from, to]`, and the smallest gap between them in ms
/// (also used by `sink_stall` for the RTP keyframes over the stall).
pub fn within(times: &[u64], from: u64, to: u64) -> (u64, Option<f64>) {
    let inside: Vec<u64> = times
        .iter()
        .copied()
        .filter(|&t| t >= from && t <= to)
        .collect();
    let min_gap = inside
        .windows(2)
        .map(|w| round1(ms_between(w[0], w[1])))
        .reduce(f64::min);
    (inside.len() as u64, min_gap)
}

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    let Some(url) = ctx.run.nats_url().map(str::to_owned) else {
        return Err(Ended(Outcome::Skip, "no nats-server for this run".into()));
    };
    ctx.rtp_pair(Some(&url), 30, FRAMES, &[], procs)?;
    ctx.phase("streaming");
    procs.push(ctx.sim(
        "sim",
        SIM_JSON,
        Some(&url),
        &["--frames", &FRAMES.to_string()],
    )?);
    let st_name = procs[1].name.clone();
    let path = ctx.events_file(&st_name);
    if wait_for_event(&mut procs[1], &path, FIRST_FRAME, Duration::from_secs(20)).is_err() {
        return Err(ctx.not_ready(&mut procs[1], "its first frame"));
    }
    ctx.phase("flooding the keyframe endpoint");
    let subject = format!("cvmmap_streamer.{}.keyframe", ctx.names.shm);
    let flooded = flood(&url, &subject, RATE_HZ, FLOOD);
    let late = ctx.wait_all(procs.iter_mut().rev())?;
    ctx.phase("judging");
    let [rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("three processes")
    };
    let mut checks = Checks::default();
    sim_side(ctx, res, &mut checks, sim, FRAMES, true);
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let r = rxj.as_ref();
    let f = match flooded {
        Ok(f) => f,
        Err(e) => return Err(Ended::fail(format!("the flood failed: {e}"))),
    };
    at_least(
        &mut checks,
        "keyframe requests sent (100/s for 5 s)",
        Some(f.sent),
        u64::from(RATE_HZ) * FLOOD.as_secs() * 9 / 10,
    );
    // Requests may still be answered a moment after the last one.
    let (from, to) = (f.started_unix_ns, f.ended_unix_ns + 500_000_000);
    let forced_ns = ctx.events(&st.name).times(KEYFRAME_FORCED);
    let (forced, forced_gap) = within(&forced_ns, from, to);
    let bound = 2 * FLOOD_GOPS + 1;
    at_most(
        &mut checks,
        "forced keyframes during the flood (2 per GOP)",
        Some(forced),
        bound,
    );
    above(
        &mut checks,
        "keyframe requests held back by the limiter",
        u(s, "stats.keyframes_deferred"),
        0,
    );
    let arrivals: Vec<u64> = at(r, "keyframe_arrivals_unix_ns")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let (received, rx_gap) = within(&arrivals, from, to);
    at_most(
        &mut checks,
        "keyframes at the receiver during the flood (2 per GOP + 1)",
        Some(received),
        bound + 1,
    );
    at_least(
        &mut checks,
        "smallest spacing of keyframes at the receiver, ms (a quarter GOP)",
        rx_gap,
        MIN_SPACING_MS,
    );
    let received_pct = pct(
        res.counts.access_units_received,
        res.counts.access_units_sent,
    );
    at_least(
        &mut checks,
        "stream intact: % of access units sent received",
        received_pct,
        95.0,
    );
    let max_gap = at(r, "max_unit_gap_ms").and_then(Value::as_f64).map(round1);
    at_most(
        &mut checks,
        "stream intact: largest arrival gap between units, ms",
        max_gap,
        1000.0,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "requests_sent": f.sent,
        "rate_hz": RATE_HZ,
        "flood_ms": FLOOD.as_millis() as u64,
        "flood_gops": FLOOD_GOPS,
        "gop_ms": GOP_MS,
        "fps": FPS,
        "forced_keyframes_in_flood": forced,
        "forced_keyframes_min_gap_ms": forced_gap,
        "forced_keyframes_bound": bound,
        "streamer_keyframes_forced": u(s, "stats.keyframes_forced"),
        "streamer_keyframes_deferred": u(s, "stats.keyframes_deferred"),
        "streamer_nats_keyframe_requests": u(s, "stats.keyframe_requests"),
        "receiver_keyframes_in_flood": received,
        "receiver_keyframe_min_gap_ms": rx_gap,
        "receiver_keyframes": u(r, "keyframes"),
        "access_units_received_pct": received_pct,
        "max_unit_gap_ms": max_gap,
    });
    res.nats.server_present = true;
    res.nats.url = Some(url);
    res.peers.push(Peer {
        name: "keyframe flood".into(),
        role: "NATS publisher (raw client protocol)".into(),
        ran: true,
        note: Some(format!("{subject}: {} requests", f.sent)),
    });
    sim_peer(res, "paced 30 fps");
    verdict(res, checks);
    Ok(format!(
        "{} requests, {} forced in the flood (bound {bound}), {} keyframes received, min spacing {} ms",
        f.sent,
        forced,
        received,
        rx_gap.map_or_else(|| "?".into(), |v| v.to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_gaps_inside_the_window() {
        let ms = 1_000_000;
        let t = [0, 100 * ms, 600 * ms, 800 * ms, 2000 * ms];
        assert_eq!(within(&t, 100 * ms, 1000 * ms), (3, Some(200.0)));
        assert_eq!(within(&t, 3000 * ms, 4000 * ms), (0, None));
    }
}
