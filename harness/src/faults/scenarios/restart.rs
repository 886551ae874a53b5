//! producer_restart: the simulator is killed with SIGKILL mid-stream (its
//! segment and ipc socket stay behind) and a new one starts; the streamer
//! must re-attach within 1 s of the new producer's first frame.
//!
//! rtmp_server_restart: the RTMP stub is killed with SIGKILL and a new one
//! listens on the same port; video must flow to it within 3 s of the kill.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::torn::fmt;
use super::{
    RTMP_NO_LATENCY, killed, overran, read, receiver_side, sim_peer, sim_side, streamer_side,
    stub_peer, verdict,
};
use crate::acceptance::judge::{Checks, at, u};
use crate::clock::unix_ns;
use crate::events::PRODUCER_RESET;
use crate::faults::ctx::{Ctx, SIM_JSON, kill_hard};
use crate::faults::judge::{at_most, below, ms_between, round1};
use crate::faults::model::FaultResult;
use crate::runner::Ended;
use crate::supervisor::Proc;

/// The second simulator's report (the first is killed before writing one).
const SIM2_JSON: &str = "sim2.json";
/// Streaming time before the kill.
const BEFORE_KILL: Duration = Duration::from_secs(3);
/// Re-attach bound of the issue.
const REATTACH_MS: f64 = 1000.0;
/// Reconnect bound of the issue.
const RECONNECT_MS: f64 = 3000.0;

/// The first listed arrival gap at the receiver that ended after `t_ns`:
/// (its end, its length, whether a keyframe ended it).
fn gap_after(r: Option<&Value>, t_ns: u64) -> Option<(u64, f64, bool)> {
    at(r, "unit_gaps")?.as_array()?.iter().find_map(|g| {
        let end = g.get("end_unix_ns")?.as_u64()?;
        if end < t_ns {
            return None;
        }
        Some((
            end,
            g.get("gap_ms")?.as_f64()?,
            g.get("keyframe_after")?.as_bool()?,
        ))
    })
}

pub fn producer(ctx: &Ctx, res: &mut FaultResult, procs: &mut Vec<Proc>) -> Result<String, Ended> {
    const FRAMES_AFTER: u64 = 120;
    let nats = ctx.run.nats_url();
    ctx.phase("starting receiver");
    let port = ctx.receiver(30, 40_000, procs)?;
    ctx.phase("starting streamer");
    ctx.streamer(nats, ctx.rtp_output(port), procs)?;
    ctx.phase("streaming (first producer)");
    procs.push(ctx.sim("sim1", "sim1.json", nats, &["--frames", "0"])?);
    ctx.sleep(BEFORE_KILL)?;
    ctx.phase("killing the producer");
    let kill_ns = kill_hard(&mut procs[2]);
    ctx.sleep(Duration::from_millis(300))?;
    ctx.phase("streaming (second producer)");
    let restart_ns = unix_ns();
    procs.push(ctx.sim(
        "sim2",
        SIM2_JSON,
        nats,
        &["--frames", &FRAMES_AFTER.to_string()],
    )?);
    let late = ctx.wait_all(procs.iter_mut().rev())?;
    ctx.phase("judging");
    let [rx, st, sim1, sim2] = procs.as_mut_slice() else {
        unreachable!("four processes")
    };
    let mut checks = Checks::default();
    killed(
        &mut checks,
        "first producer killed (the fault happened)",
        sim1,
    );
    let simj = read(ctx, SIM2_JSON);
    let sj = simj.as_ref();
    res.counts.frames_requested = Some(FRAMES_AFTER);
    res.counts.frames_published = u(sj, "frames_published");
    checks.exit("second simulator exit", sim2.poll(), 0);
    checks.equals(
        "frames published after the restart",
        res.counts.frames_published,
        FRAMES_AFTER,
    );
    let first_ns = u(sj, "first_frame_unix_ns");
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let rxj = receiver_side(ctx, res, &mut checks, rx);
    let r = rxj.as_ref();
    let gap = gap_after(r, kill_ns);
    let reattach_ms = match (gap, first_ns) {
        (Some((end, _, _)), Some(f)) => Some(round1(ms_between(f, end))),
        _ => None,
    };
    // The streamer's own account: its event for the first frame of the
    // new producer (the frame counter went back: a reset).
    let events = ctx.events(&st.name);
    let ingest_ms = first_ns.and_then(|f| {
        let reset = events.first_after(PRODUCER_RESET, kill_ns)?;
        Some(round1(ms_between(f, reset.ts_unix_ns)))
    });
    below(
        &mut checks,
        "re-attach: new producer's first frame to the first unit at the receiver, ms",
        reattach_ms,
        REATTACH_MS,
    );
    checks.is_true(
        "the first unit after the restart is a keyframe",
        gap.map(|g| g.2),
    );
    checks.equals(
        "RTP timestamps going backwards",
        u(r, "rtp_timestamps_backwards"),
        0,
    );
    overran(&mut checks, late);
    res.figures = json!({
        "killed_after_ms": BEFORE_KILL.as_millis() as u64,
        "kill_unix_ns": kill_ns,
        "restart_unix_ns": restart_ns,
        "restart_delay_ms": round1(ms_between(kill_ns, restart_ns)),
        "new_first_frame_unix_ns": first_ns,
        "new_producer_startup_ms": first_ns.map(|f| round1(ms_between(restart_ns, f))),
        "reattach_ms": reattach_ms,
        "reattach_ingest_log_ms": ingest_ms,
        "reattach_limit_ms": REATTACH_MS,
        "arrival_gap_ms": gap.map(|g| round1(g.1)),
        "first_unit_after_restart_keyframe": gap.map(|g| g.2),
        "streamer_producer_resets": u(s, "stats.producer_resets"),
        "streamer_segment_maps": u(s, "stats.segment_maps"),
        "frames_published_after_restart": res.counts.frames_published,
        "access_units_received": res.counts.access_units_received,
        "rtp_timestamps_backwards": u(r, "rtp_timestamps_backwards"),
    });
    sim_peer(res, "sim1 endless, killed with SIGKILL; sim2 120 frames");
    verdict(res, checks);
    Ok(format!(
        "re-attach {} ms (ingest {} ms), gap {} ms, {} received",
        reattach_ms.map_or_else(|| "?".into(), |v| v.to_string()),
        ingest_ms.map_or_else(|| "?".into(), |v| v.to_string()),
        gap.map_or_else(|| "?".into(), |g| round1(g.1).to_string()),
        fmt(res.counts.access_units_received),
    ))
}

pub fn rtmp_server(
    ctx: &Ctx,
    res: &mut FaultResult,
    procs: &mut Vec<Proc>,
) -> Result<String, Ended> {
    const FRAMES: u64 = 240;
    const AFTER: u64 = 60;
    let nats = ctx.run.nats_url();
    ctx.phase("starting the first RTMP stub");
    let never = ["--video-threshold", "1000000", "--timeout-ms", "60000"];
    let port = ctx.stub("stub1", 0, "stub1.json", &never, procs)?;
    ctx.phase("starting streamer");
    let url = format!("rtmp://127.0.0.1:{port}/live/flt_srestart");
    ctx.streamer(nats, vec!["--rtmp".into(), "--rtmp-url".into(), url], procs)?;
    ctx.phase("streaming to the first stub");
    procs.push(ctx.sim("sim", SIM_JSON, nats, &["--frames", &FRAMES.to_string()])?);
    ctx.sleep(BEFORE_KILL)?;
    ctx.phase("killing the RTMP server");
    let kill_ns = kill_hard(&mut procs[0]);
    let t = Instant::now();
    let after = AFTER.to_string();
    let second = ctx.stub(
        "stub2",
        port,
        "stub2.json",
        &["--video-threshold", &after, "--timeout-ms", "20000"],
        procs,
    );
    let listening_ns = unix_ns();
    let relisten_ms = t.elapsed().as_secs_f64() * 1000.0;
    second?;
    ctx.phase("streaming to the second stub");
    let late = ctx.wait_all(procs.iter_mut().rev())?;
    ctx.phase("judging");
    let [stub1, st, sim, stub2] = procs.as_mut_slice() else {
        unreachable!("four processes")
    };
    let mut checks = Checks::default();
    killed(&mut checks, "first stub killed (the fault happened)", stub1);
    sim_side(ctx, res, &mut checks, sim, FRAMES, false);
    let stj = streamer_side(ctx, res, &mut checks, st);
    let s = stj.as_ref();
    let j2 = read(ctx, "stub2.json");
    let r = j2.as_ref();
    res.counts.video_frames_received = u(r, "video_frames");
    res.counts.receive_threshold = Some(AFTER);
    let first_video = u(r, "first_video_unix_ns");
    let reconnect_ms = first_video.map(|v| round1(ms_between(kill_ns, v)));
    let listen_to_video = first_video.map(|v| round1(ms_between(listening_ns, v)));
    checks.exit("second stub exit", stub2.poll(), 0);
    at_most(
        &mut checks,
        "kill to the first video frame at the new server, ms",
        reconnect_ms,
        RECONNECT_MS,
    );
    checks.at_least("RTMP reconnects", u(s, "stats.rtmp_reconnects"), 1);
    checks.is_true(
        "new session starts with a keyframe",
        at(r, "first_frame_keyframe").and_then(Value::as_bool),
    );
    checks.is_true(
        "new session's onMetaData valid",
        at(r, "metadata_ok").and_then(Value::as_bool),
    );
    checks.at_least(
        "new session's sequence headers",
        u(r, "sequence_headers"),
        1,
    );
    checks.equals("DTS regressions", u(r, "timestamp_regressions"), 0);
    overran(&mut checks, late);
    res.latency_note = Some(RTMP_NO_LATENCY.into());
    res.figures = json!({
        "port": port,
        "killed_after_ms": BEFORE_KILL.as_millis() as u64,
        "kill_unix_ns": kill_ns,
        "new_server_listening_after_kill_ms": round1(relisten_ms),
        "reconnect_ms": reconnect_ms,
        "listening_to_first_video_ms": listen_to_video,
        "reconnect_limit_ms": RECONNECT_MS,
        "rtmp_reconnects": u(s, "stats.rtmp_reconnects"),
        "rtmp_units_sent": res.counts.rtmp_units_sent,
        "rtmp_units_dropped": res.counts.rtmp_units_dropped,
        "new_server_video_frames": res.counts.video_frames_received,
        "new_server_first_frame_keyframe": at(r, "first_frame_keyframe").and_then(Value::as_bool),
    });
    sim_peer(res, "paced 30 fps");
    stub_peer(
        res,
        "rtmp_stub_tester (stub1)",
        "killed with SIGKILL after 3 s of video",
    );
    stub_peer(
        res,
        "rtmp_stub_tester (stub2)",
        &format!("started on the same port {port}; passes at {AFTER} video frames"),
    );
    verdict(res, checks);
    Ok(format!(
        "video at the new server {} ms after the kill ({} ms after it listened), {} reconnect(s)",
        reconnect_ms.map_or_else(|| "?".into(), |v| v.to_string()),
        listen_to_video.map_or_else(|| "?".into(), |v| v.to_string()),
        fmt(u(s, "stats.rtmp_reconnects")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_gap_that_spans_a_time() {
        let r = json!({"unit_gaps": [
            {"end_unix_ns": 100, "gap_ms": 150.0, "keyframe_after": false},
            {"end_unix_ns": 900, "gap_ms": 600.5, "keyframe_after": true}
        ]});
        assert_eq!(gap_after(Some(&r), 500), Some((900, 600.5, true)));
        assert_eq!(gap_after(Some(&r), 1000), None);
        assert_eq!(gap_after(None, 0), None);
    }
}
