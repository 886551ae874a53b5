//! The streamer's paced run through the real path: rtp_receiver_tester
//! (bound first), cvmmap_streamer (until its `ingest_started` event), then
//! cvmmap_sim at 30 fps over shared memory and ZeroMQ. Gives the
//! capture-to-receiver latency (the receiver maps RTP time to the capture
//! clock with the streamer's RTCP sender reports) and the streamer's CPU and
//! memory at a camera's rate.

use std::path::Path;
use std::time::{Duration, Instant};

use super::ConfigCtx;
use super::measure::{BY_REALTIME, Frames, run_figures};
use super::model::{Status, StreamerSide};
use super::neighbours::{receiver_args, sim_args};
use super::plan::{FPS, QUEUE_SIZE};
use super::streamer::{Failed, Summary};
use crate::acceptance::judge::{latency, u};
use crate::evidence::read_json;
use crate::ports;
use crate::supervisor::{Exit, Proc, Wait};

/// The streamer ends this long after the last frame if it has not already
/// stopped at `--ingest-max-frames` (a dropped frame means it never counts
/// to the end).
const IDLE_TIMEOUT_MS: u64 = 2000;
/// `rtp_receiver_tester --linger-ms`, where it has that flag: how long the
/// stream must be quiet before the receiver ends after its threshold.
pub const LINGER_MS: u64 = 1000;
/// `rtp_receiver_tester --latency-warmup-units`: the first second at 30 fps
/// is left out of the latency (the streamer attaching to the segment and
/// starting its encoder cost the first 1-3 units 12-19 ms here), as the
/// floor's tracer leaves out the encoder's start.
pub const WARMUP_UNITS: u64 = 30;
/// rtp_receiver_tester's exit code for "timed out below --threshold".
const RECEIVER_BELOW_THRESHOLD: i32 = 4;

fn fail(why: String) -> Failed {
    (Status::Failed, why)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Runs it; the receiver and simulator records go into `side.processes`.
pub fn run(ctx: &ConfigCtx, side: &mut StreamerSide) -> Result<(), Failed> {
    ctx.phase("streamer paced: receiver starting");
    let port = ports::free_udp_pair().map_err(|e| fail(format!("no UDP port pair: {e}")))?;
    // The receiver stops at its threshold (95% of the frames, the
    // acceptance bar); it has no other end but its timeout.
    let rx_json = ctx.dir.join("receiver.json");
    let mut rx_args = receiver_args(ctx, port, side.receive_threshold);
    rx_args.extend(["--json".to_owned(), rx_json.display().to_string()]);
    // Newer receivers can keep measuring after the threshold until the
    // stream goes quiet: then the latency covers every unit, not the first 95%.
    if let Some(ms) = side.receiver_linger_ms {
        rx_args.extend(["--linger-ms".to_owned(), ms.to_string()]);
    }
    if let Some(n) = side.receiver_warmup_units {
        rx_args.extend(["--latency-warmup-units".to_owned(), n.to_string()]);
    }
    let mut procs = vec![
        ctx.spawn("receiver", &ctx.run.bins.rtp_receiver, rx_args)
            .map_err(|e| fail(e.to_string()))?,
    ];
    let result = steps(ctx, side, port, &rx_json, &mut procs);
    side.processes
        .extend(ctx.close(&mut procs, "paced run finished"));
    result
}

fn steps(
    ctx: &ConfigCtx,
    side: &mut StreamerSide,
    port: u16,
    rx_json: &Path,
    procs: &mut Vec<Proc>,
) -> Result<(), Failed> {
    if !ports::wait_udp_bound(port, Duration::from_secs(15)) {
        let last = procs[0].last_stderr_line().unwrap_or_default();
        return Err(fail(format!(
            "paced run: receiver did not bind UDP {port}: {last}"
        )));
    }
    ctx.phase("streamer paced: streamer starting");
    let summary_path = ctx.dir.join("streamer_paced.summary.json");
    let n = ctx.frames.to_string();
    let mut args = ctx.streamer_args(port, &summary_path, QUEUE_SIZE);
    args.extend(strings(&[
        "--shm-name",
        &ctx.names.shm,
        "--zmq-endpoint",
        &ctx.names.endpoint,
        "--ingest-max-frames",
        &n,
        "--ingest-idle-timeout-ms",
        &IDLE_TIMEOUT_MS.to_string(),
    ]));
    let mut st = ctx
        .spawn_streamer("streamer_paced", args)
        .map_err(|e| fail(e.to_string()))?;
    // Split at the encoder's worker threads like gst-launch and the floor.
    st.sample_threads();
    if let Err(waited) = ctx.ingest_started(&mut st) {
        st.stop("streamer not ready");
        side.processes.push(st.record());
        return Err(ctx.failure(&mut st, waited, "paced run (streamer not ready)"));
    }
    ctx.phase("streamer paced: streaming");
    let sim_json = ctx.dir.join("sim.json");
    let mut sim_args = sim_args(ctx, &ctx.names);
    sim_args.extend(["--json".to_owned(), sim_json.display().to_string()]);
    procs.push(
        ctx.spawn("sim", &ctx.run.bins.sim, sim_args)
            .map_err(|e| fail(e.to_string()))?,
    );
    let deadline =
        Instant::now() + Duration::from_millis(ctx.frames * 1000 / u64::from(FPS) + 40_000);
    // The simulator ends first, then the streamer (frame count or idle
    // timeout), then the receiver (threshold).
    let sim_wait = procs[1].wait_until(deadline);
    let waited = st.wait_until(deadline);
    let rx_wait = procs[0].wait_until(deadline);
    let summary = Summary::read(&summary_path);
    if side.encoder.is_none() {
        side.encoder = summary.encoder();
    }
    side.encode_latency_ms = summary.encode_latency();
    side.stage_latency_ms = summary.stages();
    let sim = read_json(&sim_json);
    side.sim_late_frames = u(sim.as_ref(), "late_frames");
    let rx = read_json(rx_json);
    side.units_received = u(rx.as_ref(), "access_units_complete");
    (side.latency_ms, side.latency_note) = latency(rx.as_ref());
    let encoded = summary.stat("frames_encoded");
    if waited != Wait::Exited(Exit::Code(0)) || encoded.unwrap_or(0) == 0 {
        st.stop("paced run failed");
        side.processes.push(st.record());
        return Err(match waited {
            Wait::Exited(Exit::Code(0)) => fail("paced run: no frame encoded".into()),
            w => ctx.failure(&mut st, w, "paced run"),
        });
    }
    let published = u(sim.as_ref(), "frames_published");
    let frames = Frames {
        encoded,
        input: published,
        dropped: published.zip(encoded).map(|(p, e)| p.saturating_sub(e)),
    };
    side.paced = run_figures("paced_30fps", &mut st, frames, BY_REALTIME);
    if sim_wait != Wait::Exited(Exit::Code(0)) {
        return Err(fail(format!("paced run: simulator {sim_wait:?}")));
    }
    // Below its threshold the receiver exits 4 at its timeout: a host that
    // cannot encode this size in real time (x265 1080p on 2 cores) loses
    // frames in any pipeline. That is a figure (`paced_delivery`, judged
    // where gst-launch holds real time), not a failed measurement.
    let short = rx_wait == Wait::Exited(Exit::Code(RECEIVER_BELOW_THRESHOLD));
    if (rx_wait != Wait::Exited(Exit::Code(0)) && !short) || side.latency_ms.is_none() {
        let got = side.units_received.map_or("no".into(), |n| n.to_string());
        return Err(fail(format!(
            "paced run: receiver {rx_wait:?} with {got} complete units (threshold {}); {}",
            side.receive_threshold,
            side.latency_note.as_deref().unwrap_or("latency measured")
        )));
    }
    Ok(())
}
