//! A streaming row: receiving tester first (bound and listening), then the
//! streamer (until its `ingest_started` event), then the simulator; wait
//! for all three; judge what they reported. Each step that cannot happen
//! ends the row with a reason, and whatever was measured is still recorded.

use super::judge::{Checks, describe_exit};
use super::matrix::Protocol;
use super::row::{RowCtx, producer_side};
use super::{rtmp, rtp};
use crate::gst;
use crate::model::{Outcome, RowResult};
use crate::runner::{Ended, READY_TIMEOUT};
use crate::supervisor::{Exit, Proc, Wait, wait_all};

/// What the receiving side's start-up leaves for the judging step.
pub struct Started {
    /// Output flags for the streamer (`--rtp ...` or `--rtmp ...`).
    pub output: Vec<String>,
    /// Why decoding does not run, when it does not (RTP rows only).
    pub no_decode: Option<String>,
    pub expected_pt: u8,
    pub stub_mode: &'static str,
}

/// Runs the row; returns its processes (receiver, streamer, sim) so that
/// the caller stops them and records them whatever happened.
pub fn run(ctx: &RowCtx, res: &mut RowResult) -> Vec<Proc> {
    let mut procs = Vec::new();
    if let Err(Ended(outcome, reason)) = steps(ctx, res, &mut procs) {
        res.outcome = outcome;
        res.reason = reason;
    }
    procs
}

fn steps(ctx: &RowCtx, res: &mut RowResult, procs: &mut Vec<Proc>) -> Result<(), Ended> {
    ctx.phase("starting receiver");
    let started = match ctx.def.protocol {
        Protocol::Rtp => rtp::start(ctx, procs)?,
        Protocol::Rtmp => rtmp::start(ctx, procs)?,
    };
    ctx.phase("starting streamer");
    procs.push(ctx.streamer(started.output.clone())?);
    if let Err(w) = ctx.ingest_started(&mut procs[1]) {
        return Err(streamer_not_ready(ctx, &mut procs[1], w));
    }
    ctx.phase("streaming");
    procs.push(ctx.sim()?);
    // The simulator ends first (a fixed number of frames), the streamer
    // after its idle timeout, the tester at its threshold or timeout.
    let waited = wait_all(
        procs.iter_mut().rev(),
        ctx.deadline(),
        "row deadline passed",
    );
    if waited.is_err() {
        // Stop first: the simulator and the streamer write their JSON on
        // SIGTERM, so what was measured until now lands in the evidence.
        procs.iter_mut().rev().for_each(|p| {
            p.stop("interrupted");
        });
    }
    ctx.phase("judging");
    let [rx, st, sim] = procs.as_mut_slice() else {
        unreachable!("three processes were started")
    };
    let mut checks = Checks::default();
    producer_side(ctx, res, &mut checks, sim, st);
    match ctx.def.protocol {
        Protocol::Rtp => rtp::judge(ctx, res, &mut checks, rx, &started),
        Protocol::Rtmp => rtmp::judge(ctx, res, &mut checks, rx, &started),
    }
    match waited {
        Err(_) => return Err(Ended::interrupted("streaming")),
        Ok(late) if !late.is_empty() => {
            checks.equals(
                "processes ended in time",
                Some(late.join(", ")),
                String::new(),
            );
        }
        Ok(_) => {}
    }
    let (outcome, reason) = checks.verdict();
    res.checks = checks.0;
    res.outcome = outcome;
    res.reason = reason;
    Ok(())
}

/// The streamer ended or hung before its `ingest_started` event. Exit 5
/// with the software encoder element not installed is a genuine absence
/// (skip); anything else is a failure.
fn streamer_not_ready(ctx: &RowCtx, st: &mut Proc, waited: Wait) -> Ended {
    let last = st.last_stderr_line().unwrap_or_default();
    let exit = match waited {
        Wait::Interrupted => return Ended::interrupted("the streamer started"),
        Wait::TimedOut => {
            return Ended::fail(format!(
                "streamer not ready (no ingest_started event) within {} s; last log line: {last}",
                READY_TIMEOUT.as_secs()
            ));
        }
        Wait::Exited(exit) => exit,
    };
    let element = if ctx.def.codec == "h265" {
        "x265enc"
    } else {
        "x264enc"
    };
    if exit == Exit::Code(5) && gst::element_exists(element) == Some(false) {
        return Ended(
            Outcome::Skip,
            format!("encoder element {element} is not installed (streamer exit 5: {last})"),
        );
    }
    Ended::fail(format!(
        "streamer {} before its ingest started: {last}",
        describe_exit(Some(exit))
    ))
}
