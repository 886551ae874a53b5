//! The same neighbours for every paced run. The streamer's paced run has a
//! producer (cvmmap_sim writing each frame into shared memory at 30 fps)
//! and a receiver beside it on the two cores; run alone, gst-launch and the
//! floor would not share that load, and on this 2-core host x265's worker
//! threads burn more CPU per frame when other processes compete (measured
//! per thread in the streamer: 32 ms/frame against the floor's 27 ms alone
//! at 1280x720, while the streamer's own threads took 0.5 ms). So gst-launch
//! and the floor run their paced runs beside a simulator publishing the same
//! frames at the same rate to nobody, and gst-launch's RTP goes to a
//! receiver as the streamer's does: the overheads are then measured under
//! one load. Their CPU is in no figure (wait4 of the measured process only).
//!
//! The argument lists are the streamer's paced run's too ([`super::paced`]).

use std::time::Duration;

use super::ConfigCtx;
use super::plan::{FPS, PAYLOAD_TYPE};
use crate::model::ProcessRecord;
use crate::names::RowNames;
use crate::supervisor::Proc;

/// The simulator's `--label`.
const LABEL: &str = "bench";

/// `cvmmap_sim` publishing the configuration's frames at 30 fps on `names`.
pub fn sim_args(ctx: &ConfigCtx, names: &RowNames) -> Vec<String> {
    [
        "--label",
        LABEL,
        "--shm-name",
        &names.shm,
        "--zmq-endpoint",
        &names.endpoint,
        "--frames",
        &ctx.frames.to_string(),
        "--fps",
        &FPS.to_string(),
        "--width",
        &ctx.cfg.width.to_string(),
        "--height",
        &ctx.cfg.height.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `rtp_receiver_tester` on `port` until `threshold` complete units (or its
/// timeout: the run's length plus 20 s).
pub fn receiver_args(ctx: &ConfigCtx, port: u16, threshold: u64) -> Vec<String> {
    let timeout_ms = ctx.frames * 1000 / u64::from(FPS) + 20_000;
    [
        "--listen-host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--expect-pt",
        &PAYLOAD_TYPE.to_string(),
        "--expect-codec",
        ctx.cfg.codec.as_str(),
        "--frame-threshold",
        &threshold.to_string(),
        "--timeout-ms",
        &timeout_ms.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub struct Neighbours {
    names: RowNames,
    procs: Vec<Proc>,
}

impl Neighbours {
    /// Starts a simulator (own segment and endpoint, `tag` in its names and
    /// logs) and, with `rtp_port`, a receiver of that port first.
    pub fn start(ctx: &ConfigCtx, tag: &str, rtp_port: Option<u16>) -> Result<Self, String> {
        let mut n = Self {
            names: ctx.run.names.row(&format!("{}_{tag}", ctx.id)),
            procs: Vec::new(),
        };
        match n.spawn(ctx, tag, rtp_port) {
            Ok(()) => Ok(n),
            Err(why) => {
                n.finish();
                Err(why)
            }
        }
    }

    fn spawn(&mut self, ctx: &ConfigCtx, tag: &str, rtp_port: Option<u16>) -> Result<(), String> {
        if let Some(port) = rtp_port {
            let args = receiver_args(ctx, port, (ctx.frames * 95).div_ceil(100));
            let rx = ctx.spawn(&format!("{tag}_receiver"), &ctx.run.bins.rtp_receiver, args);
            self.procs.push(rx.map_err(|e| e.to_string())?);
            if !crate::ports::wait_udp_bound(port, Duration::from_secs(15)) {
                return Err(format!("{tag}: the receiver did not bind UDP {port}"));
            }
        }
        let sim = ctx.spawn(
            &format!("{tag}_sim"),
            &ctx.run.bins.sim,
            sim_args(ctx, &self.names),
        );
        self.procs.push(sim.map_err(|e| e.to_string())?);
        Ok(())
    }

    /// Stops whatever still runs and returns their records.
    pub fn finish(mut self) -> Vec<ProcessRecord> {
        for p in self.procs.iter_mut() {
            p.stop("the measured run ended");
        }
        let records = self.procs.iter_mut().map(Proc::record).collect();
        self.names.clean_up();
        records
    }
}
