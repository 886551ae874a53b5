//! The fault scenarios as data, and what their verdicts share: reading the
//! simulator's, streamer's and testers' reports into the result.

mod latency;
mod nats_kill;
mod reset;
mod restart;
mod stall;
mod torn;

use serde_json::Value;

use super::ctx::{Ctx, Ended, RECEIVER_JSON, STREAMER_JSON};
use super::model::FaultResult;
use crate::acceptance::judge::{Checks, at, u};
use crate::evidence::read_json;
use crate::model::{EncoderUsed, Latency, Peer};
use crate::supervisor::Proc;

/// Which nats-server a scenario needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatsNeed {
    /// The run's server when installed (recorded either way).
    Optional,
    /// The run's server, or the scenario is skipped.
    Required,
    /// A server of its own (it gets killed), or the scenario is skipped.
    Own,
}

/// Runs a scenario; Ok carries the one-line detail for the summary.
pub type RunFn = fn(&Ctx, &mut FaultResult, &mut Vec<Proc>) -> Result<String, Ended>;

pub struct ScenarioDef {
    pub id: &'static str,
    /// Part of the simulator's label (`flt_<short>`, at most 24 bytes).
    pub short: &'static str,
    pub title: &'static str,
    pub fault: &'static str,
    pub protocol: &'static str,
    /// Hard limit on the scenario's processes, in seconds.
    pub limit_s: u64,
    pub nats: NatsNeed,
    pub run: RunFn,
}

pub const SCENARIOS: [ScenarioDef; 7] = [
    ScenarioDef {
        id: "torn_read",
        short: "torn",
        title: "Torn reads: the producer rewrites frames in place while they are copied",
        fault: "cvmmap_sim --torn-writes --torn-after 0: from the first frame on, frame g+1 is written in place 0..1 ms after sync(g) (counter first, then the payload in 8 slow chunks); every frame is stamped",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: torn::run,
    },
    ScenarioDef {
        id: "sink_stall",
        short: "stall",
        title: "Sink stall: the RTMP server stops reading for 5 s",
        fault: "rtmp_stub_tester --stall-after-ms 2500 --stall-ms 5000: the server reads nothing for 5 s",
        protocol: "rtmp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: stall::run,
    },
    ScenarioDef {
        id: "reset_storm",
        short: "reset",
        title: "Reset storm: 50 producer resets in 10 s, segments re-created, resolution changes",
        fault: "cvmmap_sim --reset-every 6 --reset-recreate --reset-sizes 480x272,320x180,640x360 at 30 fps (STREAM_RESET over NATS)",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Required,
        run: reset::run,
    },
    ScenarioDef {
        id: "producer_restart",
        short: "prestart",
        title: "Producer killed (SIGKILL) mid-stream and started again",
        fault: "cvmmap_sim killed with SIGKILL after 3 s (segment and socket left behind), a new one started 300 ms later",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: restart::producer,
    },
    ScenarioDef {
        id: "rtmp_server_restart",
        short: "srestart",
        title: "RTMP server killed (SIGKILL) and a new one started on the same port",
        fault: "rtmp_stub_tester killed with SIGKILL after 3 s of video, a new stub started at once on the same port",
        protocol: "rtmp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: restart::rtmp_server,
    },
    ScenarioDef {
        id: "nats_server_killed",
        short: "natskill",
        title: "NATS server killed (SIGKILL) mid-stream",
        fault: "the scenario's own nats-server killed with SIGKILL after 3 s; the simulator and the streamer were connected to it",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Own,
        run: nats_kill::run,
    },
    ScenarioDef {
        id: "latency_guard",
        short: "latency",
        title: "Latency guard: capture-to-receiver p99 at 640x360 H.264 over RTP",
        fault: "none: the guard measures the streamer's latency under the suite's own load",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: latency::run,
    },
];

/// The scenarios named (in suite order), or all.
pub fn select(names: Option<&[String]>) -> Result<Vec<&'static ScenarioDef>, String> {
    let Some(names) = names else {
        return Ok(SCENARIOS.iter().collect());
    };
    for n in names {
        if !SCENARIOS.iter().any(|s| s.id == n) {
            let known: Vec<&str> = SCENARIOS.iter().map(|s| s.id).collect();
            return Err(format!(
                "unknown scenario {n:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(SCENARIOS
        .iter()
        .filter(|s| names.iter().any(|n| n == s.id))
        .collect())
}

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
    let c = &mut res.counts;
    c.frames_ingested = u(s, "stats.frames_ingested");
    c.frames_encoded = u(s, "stats.frames_encoded");
    c.access_units_sent = u(s, "stats.access_units");
    if ctx.def.protocol == "rtp" {
        c.rtp_packets_sent = u(s, "stats.rtp_packets_sent");
    } else {
        c.rtmp_units_sent = u(s, "stats.rtmp_units_sent");
        c.rtmp_units_dropped = u(s, "stats.rtmp_units_dropped");
    }
    res.nats.streamer_nats_connects = u(s, "stats.nats_connects");
    res.nats.streamer_nats_disconnects = u(s, "stats.nats_disconnects");
    match at(s, "encoder")
        .cloned()
        .map(serde_json::from_value::<EncoderUsed>)
    {
        Some(Ok(e)) => res.encoder = Some(e),
        Some(Err(e)) => res.encoder_note = Some(format!("unreadable encoder object: {e}")),
        None => {
            res.encoder_note = Some("the streamer wrote no --summary-json encoder object".into())
        }
    }
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
    match at(r, "latency_ms")
        .cloned()
        .map(serde_json::from_value::<Latency>)
    {
        Some(Ok(l)) => res.latency_ms = Some(l),
        _ => {
            let note = at(r, "latency_note").and_then(Value::as_str);
            res.latency_note = Some(note.unwrap_or("the receiver reported no latency").into());
        }
    }
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

/// Checks the processes that overran the scenario's deadline (none may).
pub fn overran(checks: &mut Checks, names: Vec<String>) {
    checks.equals(
        "processes ended in time",
        Some(names.join(", ")),
        String::new(),
    );
}

/// Sets the verdict from the checks.
pub fn verdict(res: &mut FaultResult, checks: Checks) {
    let (outcome, reason) = checks.verdict();
    res.checks = checks.0;
    res.outcome = outcome;
    res.reason = reason;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_labels_and_selection() {
        for s in &SCENARIOS {
            assert!(format!("flt_{}", s.short).len() <= 24, "{}", s.id);
            assert!(s.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        let sel = select(Some(&["latency_guard".into(), "torn_read".into()])).unwrap();
        assert_eq!(
            sel.iter().map(|s| s.id).collect::<Vec<_>>(),
            ["torn_read", "latency_guard"]
        );
        let err = select(Some(&["nope".into()])).err().unwrap();
        assert!(
            err.contains("\"nope\"") && err.contains("torn_read"),
            "{err}"
        );
        assert_eq!(select(None).unwrap().len(), 7);
        assert_eq!(pct(Some(1), Some(3)), Some(33.3));
        assert_eq!(pct(Some(1), Some(0)), None);
    }
}
