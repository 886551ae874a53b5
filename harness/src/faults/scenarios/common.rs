//! What the scenarios' verdicts share: reading the simulator's, streamer's
//! and testers' reports into the result, the peers, and the checks every
//! scenario makes.

use serde_json::Value;

use crate::acceptance::judge::{Checks, at, encoder, latency, streamer_counts, u};
use crate::evidence::read_json;
use crate::faults::ctx::{Ctx, RECEIVER_JSON, SIM_JSON, STREAMER_JSON};
use crate::faults::judge::check;
use crate::faults::model::FaultResult;
use crate::model::Peer;
use crate::supervisor::{Exit, Proc};

pub fn read(ctx: &Ctx, file: &str) -> Option<Value> {
    read_json(&ctx.path(file))
}

/// Integer percentage `part / whole * 100`, one decimal; null when whole is 0.
pub fn pct(part: Option<u64>, whole: Option<u64>) -> Option<f64> {
    let (p, w) = (part?, whole?);
    (w > 0).then(|| (p as f64 * 1000.0 / w as f64).round() / 10.0)
}

/// The streamer's `--summary-json` into the result: encoder, counts, NATS
/// counters; checks its exit and that it ended by its idle timeout (so it
/// never stopped early).
pub fn streamer_side(
    ctx: &Ctx,
    res: &mut FaultResult,
    checks: &mut Checks,
    st: &mut Proc,
) -> Option<Value> {
    let v = read(ctx, STREAMER_JSON);
    let s = v.as_ref();
    streamer_counts(s, ctx.def.protocol == "rtp", &mut res.counts);
    res.nats.streamer_nats_connects = u(s, "stats.nats_connects");
    res.nats.streamer_nats_disconnects = u(s, "stats.nats_disconnects");
    (res.encoder, res.encoder_note) = encoder(s);
    checks.exit("streamer exit", st.poll(), 0);
    let end = at(s, "end").and_then(Value::as_str).map(str::to_owned);
    checks.equals(
        "streamer ran until its idle timeout (never stopped early)",
        end,
        "idle_timeout".to_owned(),
    );
    res.peers.push(Peer {
        name: crate::bins::STREAMER.into(),
        role: "the process under test".into(),
        ran: true,
        note: None,
    });
    v
}

/// The RTP receiver's report into the result: units, latency; checks its
/// exit, its verdict and the strict checks.
pub fn receiver_side(
    ctx: &Ctx,
    res: &mut FaultResult,
    checks: &mut Checks,
    rx: &mut Proc,
) -> Option<Value> {
    let v = read(ctx, RECEIVER_JSON);
    let r = v.as_ref();
    res.counts.access_units_received = u(r, "access_units_complete");
    res.counts.receive_threshold = u(r, "frame_threshold");
    (res.latency_ms, res.latency_note) = latency(r);
    checks.exit("receiver exit", rx.poll(), 0);
    checks.empty("receiver strict failures", at(r, "strict_failures"));
    res.peers.push(Peer {
        name: crate::bins::RTP_RECEIVER.into(),
        role: "strict RTP receiver (own depacketizer, RTCP latency, unit timing)".into(),
        ran: true,
        note: Some("--strict --linger-ms 1500: measures the whole stream".into()),
    });
    res.peers.push(Peer {
        name: "decoder".into(),
        role: "decoder".into(),
        ran: false,
        note: Some("not used by the fault suite: the strict receiver checks the units".into()),
    });
    v
}

pub fn sim_peer(res: &mut FaultResult, note: &str) {
    res.peers.push(Peer {
        name: crate::bins::SIM.into(),
        role: "producer (shared memory + ZeroMQ)".into(),
        ran: true,
        note: Some(note.into()),
    });
}

pub fn stub_peer(res: &mut FaultResult, name: &str, note: &str) {
    res.peers.push(Peer {
        name: name.into(),
        role: "RTMP server (rtmp_stub_tester --mode h264)".into(),
        ran: true,
        note: Some(note.into()),
    });
}

/// Checks the processes that overran the scenario's deadline (none may);
/// no check when none did.
pub fn overran(checks: &mut Checks, names: Vec<String>) {
    if !names.is_empty() {
        checks.equals(
            "processes ended in time",
            Some(names.join(", ")),
            String::new(),
        );
    }
}

/// Checks that `p` died of the SIGKILL the scenario sent (the fault
/// happened).
pub fn killed(checks: &mut Checks, name: &str, p: &mut Proc) {
    let e = p.poll();
    check(
        checks,
        name,
        e == Some(Exit::Signal(libc::SIGKILL)),
        "killed by signal 9 (SIGKILL)".into(),
        Some(crate::acceptance::judge::describe_exit(e)),
    );
}

/// Why RTMP scenarios have no latency figures.
pub const RTMP_NO_LATENCY: &str = "not measured on RTMP: the stub gets no RTCP sender reports";

/// The simulator's report (`sim.json`) into the result: frames requested
/// and published; checks its exit and, with `all`, that it published every
/// frame.
pub fn sim_side(
    ctx: &Ctx,
    res: &mut FaultResult,
    checks: &mut Checks,
    sim: &mut Proc,
    frames: u64,
    all: bool,
) -> Option<Value> {
    let v = read(ctx, SIM_JSON);
    res.counts.frames_requested = Some(frames);
    res.counts.frames_published = u(v.as_ref(), "frames_published");
    checks.exit("simulator exit", sim.poll(), 0);
    if all {
        checks.equals("frames published", res.counts.frames_published, frames);
    }
    v
}

/// Sets the verdict from the checks.
pub fn verdict(res: &mut FaultResult, checks: Checks) {
    let (outcome, reason) = checks.verdict();
    res.checks = checks.0;
    res.outcome = outcome;
    res.reason = reason;
}
