//! The fault scenarios as data; what their verdicts share is in
//! [`common`].

mod common;
mod flood;
mod latency;
mod nats_kill;
mod reset;
mod restart;
mod shrink;
mod stall;
mod torn;
mod torn_pf;

use super::ctx::Ctx;
use super::model::FaultResult;
use crate::runner::Ended;
use crate::supervisor::Proc;
// The scenarios' shared verdict steps, as `super::*` to each of them.
use common::*;

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

pub const SCENARIOS: [ScenarioDef; 10] = [
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
        id: "torn_payload_first",
        short: "tornpf",
        title: "Torn reads in the contract's order: payload rewritten in place before the metadata",
        fault: "cvmmap_sim --torn-writes --torn-order payload-first: frame g+1's payload is rewritten in place 0..1 ms after sync(g) while the metadata still says g; stamped",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: torn_pf::run,
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
        id: "shrink_in_place",
        short: "shrink",
        title: "Shrink in place: the producer truncates its segment from 1080p to 360p, ten times",
        fault: "cvmmap_sim 1920x1080 --reset-every 15 --reset-shrink --reset-sizes 640x360,1920x1080: the same segment is ftruncated right after a 1080p sync (10 shrinks, 10 grows)",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Optional,
        run: shrink::run,
    },
    ScenarioDef {
        id: "keyframe_flood",
        short: "kflood",
        title: "Keyframe flood: 100 NATS keyframe requests a second for 5 s",
        fault: "the harness publishes to cvmmap_streamer.<key>.keyframe 100 times a second for 5 s once frames flow",
        protocol: "rtp",
        limit_s: 60,
        nats: NatsNeed::Required,
        run: flood::run,
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
        assert_eq!(select(None).unwrap().len(), 10);
        assert_eq!(pct(Some(1), Some(3)), Some(33.3));
        assert_eq!(pct(Some(1), Some(0)), None);
    }
}
