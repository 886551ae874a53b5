//! nats_server_killed: the simulator and the streamer are connected to a
//! nats-server of the scenario's own, which is killed with SIGKILL
//! mid-stream. The stream must be unaffected: the receiver gets >= 95% of
//! the published frames and no arrival gap exceeds three frame intervals.

use std::time::Duration;

use serde_json::{Value, json};

use super::torn::fmt;
use super::{killed, overran, pct, receiver_side, sim_peer, sim_side, streamer_side, verdict};
use crate::acceptance::judge::{Checks, at, u};
use crate::faults::ctx::{Ctx, SIM_JSON, kill_hard};
use crate::faults::judge::{at_least, at_most, round1};
use crate::faults::model::FaultResult;
use crate::faults::own_nats;
use crate::model::{Outcome, Peer};
use crate::runner::Ended;
use crate::supervisor::Proc;

const FRAMES: u64 = 240;
/// Three frame intervals at 30 fps: the loss of NATS must not show in the
/// stream at all (measured 38-41 ms, one frame's jitter, on a 2-core host).
const MAX_GAP_MS: f64 = 100.0;

pub fn run(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    ctx.phase("starting nats-server");
    let server = match own_nats::start(&ctx.dir) {
        Ok(s) => s,
        Err(why) if crate::nats::find().is_none() => return Err(Ended(Outcome::Skip, why)),
        Err(why) => return Err(Ended::fail(why)),
    };
    if !(ctx.run.sim_takes_nats && ctx.run.streamer_takes_nats) {
        return Err(Ended(
            Outcome::Skip,
            "cvmmap_sim or cvmmap_streamer does not take --nats-url".into(),
        ));
    }
    let url = server.url.clone();
    res.nats.server_present = true;
    res.nats.url = Some(url.clone());
    res.nats.server = Some("own");
    res.nats.note = Some("killed with SIGKILL after 3 s".into());
    res.peers.push(Peer {
        name: "nats-server".into(),
        role: "NATS server (the scenario's own; killed)".into(),
        ran: true,
        note: server.version.clone(),
    });
    procs.push(server.proc);
    ctx.rtp_pair(Some(&url), 30, FRAMES, &[], procs)?;
    ctx.phase("streaming");
    procs.push(ctx.sim(
        "sim",
        SIM_JSON,
        Some(&url),
        &["--frames", &FRAMES.to_string()],
    )?);
    ctx.sleep(Duration::from_secs(3))?;
    ctx.phase("killing nats-server");
    let kill_ns = kill_hard(&mut procs[0]);
    let late = ctx.wait_all(procs.iter_mut().skip(1).rev())?;
    ctx.phase("judging");
    let [nats, rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("four processes")
    };
    let mut checks = Checks::default();
    killed(&mut checks, "nats-server killed (the fault happened)", nats);
    let simj = sim_side(ctx, res, &mut checks, sim, FRAMES, true);
    let sj = simj.as_ref();
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    res.nats.passed_to = vec![crate::bins::SIM.into(), crate::bins::STREAMER.into()];
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let r = rxj.as_ref();
    checks.at_least(
        "streamer connected to NATS before the kill",
        u(s, "stats.nats_connects"),
        1,
    );
    checks.at_least(
        "streamer saw the connection drop",
        u(s, "stats.nats_disconnects"),
        1,
    );
    let received_pct = pct(
        res.counts.access_units_received,
        res.counts.frames_published,
    );
    at_least(&mut checks, "received, % of published", received_pct, 95.0);
    let max_gap = at(r, "max_unit_gap_ms").and_then(Value::as_f64).map(round1);
    at_most(
        &mut checks,
        "largest arrival gap between units, ms",
        max_gap,
        MAX_GAP_MS,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "killed_after_ms": 3000,
        "kill_unix_ns": kill_ns,
        "nats_url": url,
        "streamer_nats_connects": u(s, "stats.nats_connects"),
        "streamer_nats_disconnects": u(s, "stats.nats_disconnects"),
        "sim_nats_connected": at(sj, "nats_connected").and_then(Value::as_bool),
        "frames_published": res.counts.frames_published,
        "frames_ingested": res.counts.frames_ingested,
        "access_units_received": res.counts.access_units_received,
        "received_pct": received_pct,
        "max_unit_gap_ms": max_gap,
        "max_gap_limit_ms": MAX_GAP_MS,
    });
    sim_peer(res, "--nats-url of the scenario's own server");
    verdict(res, checks);
    Ok(format!(
        "{} of {} received ({}%), max gap {} ms, streamer NATS disconnects {}",
        fmt(res.counts.access_units_received),
        fmt(res.counts.frames_published),
        received_pct.map_or_else(|| "?".into(), |v| v.to_string()),
        max_gap.map_or_else(|| "?".into(), |v| v.to_string()),
        fmt(u(s, "stats.nats_disconnects")),
    ))
}
