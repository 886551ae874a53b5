//! The fan-out: one blocked sink never holds up another; drops are whole
//! units until a keyframe; one keyframe is asked for per drop episode.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::encode::Codec;

fn unit(i: u64, keyframe: bool) -> AccessUnit {
    AccessUnit {
        codec: Codec::H264,
        data: vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }, i as u8].into(),
        pts_ns: i,
        dts_ns: i as i64,
        keyframe,
        capture_ts_ns: i,
        width: 16,
        height: 16,
        frame_rate: None,
    }
}

/// Reports every unit it is given, then optionally blocks in the write
/// until the test releases it.
struct Probe {
    name: &'static str,
    seen: Sender<u64>,
    gate: Option<Arc<Mutex<Receiver<()>>>>,
}

impl Sink for Probe {
    fn name(&self) -> &'static str {
        self.name
    }
    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError> {
        let _ = self.seen.send(unit.pts_ns);
        if let Some(gate) = &self.gate {
            // Blocks until the test lets one unit through (or hangs up).
            let _ = gate.lock().unwrap().recv();
        }
        Ok(Flow::Continue)
    }
    fn finish(&mut self) {}
}

// Fields drop in declaration order: `release` goes first, so that a failed
// assertion unblocks the slow sink before the fan-out joins its thread
// (otherwise the failure becomes a hang until the test is killed).
struct Setup {
    release: Sender<()>,
    fanout: Fanout,
    keyframes: KeyframeRequests,
    slow_seen: Receiver<u64>,
    fast_seen: Receiver<u64>,
    slow_drops: Arc<std::sync::atomic::AtomicU64>,
}

fn setup() -> Setup {
    let keyframes = KeyframeRequests::default();
    let mut fanout = Fanout::new(keyframes.clone(), Events::none(), Arc::default());
    let (release, gate) = channel();
    let (slow_tx, slow_seen) = channel();
    let (fast_tx, fast_seen) = channel();
    let slow_drops = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let d = slow_drops.clone();
    fanout.add(
        Box::new(Probe {
            name: "slow",
            seen: slow_tx,
            gate: Some(Arc::new(Mutex::new(gate))),
        }),
        Arc::new(move |n| crate::telemetry::add(&d, n)),
    );
    fanout.add(
        Box::new(Probe {
            name: "fast",
            seen: fast_tx,
            gate: None,
        }),
        Arc::new(|_| {}),
    );
    Setup {
        fanout,
        keyframes,
        slow_seen,
        fast_seen,
        release,
        slow_drops,
    }
}

#[test]
fn a_blocked_sink_never_holds_up_another() {
    let mut s = setup();
    // The slow sink takes unit 0 and blocks in it; 32 more fill its queue.
    s.fanout.publish(unit(0, true));
    assert_eq!(s.slow_seen.recv_timeout(Duration::from_secs(10)), Ok(0));
    assert_eq!(s.fast_seen.recv_timeout(Duration::from_secs(10)), Ok(0));
    // Every unit reaches the fast sink while the slow one stays blocked
    // (paced on the fast sink, so that it never has a reason to drop).
    for i in 1..200 {
        s.fanout.publish(unit(i, i % 30 == 0));
        assert_eq!(s.fast_seen.recv_timeout(Duration::from_secs(10)), Ok(i));
    }
    assert!(
        s.slow_seen.try_recv().is_err(),
        "the slow sink is still blocked"
    );
    let dropped = s.slow_drops.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped, 200 - 1 - QUEUE_UNITS as u64);
    // Nothing was asked while the slow queue stayed full.
    assert!(!s.keyframes.take());
    drop(s.release);
    let _ = s.fanout.finish();
}

/// Publishes one unit and waits until the fast sink has taken it, so that
/// the fast sink never drops (and never asks for a keyframe) because its
/// thread was starved on a loaded host: only the slow sink's episode counts.
fn publish_paced(s: &mut Setup, u: AccessUnit) {
    let i = u.pts_ns;
    s.fanout.publish(u);
    assert_eq!(s.fast_seen.recv_timeout(Duration::from_secs(10)), Ok(i));
}

#[test]
fn one_keyframe_is_asked_per_episode_when_there_is_room_again() {
    let mut s = setup();
    let total = 1 + QUEUE_UNITS as u64;
    publish_paced(&mut s, unit(0, true));
    assert_eq!(s.slow_seen.recv_timeout(Duration::from_secs(10)), Ok(0));
    for i in 1..total {
        publish_paced(&mut s, unit(i, false));
    }
    // Full: these are dropped, and no keyframe is asked for yet.
    for i in total..total + 5 {
        publish_paced(&mut s, unit(i, false));
    }
    assert!(!s.keyframes.take());
    // Let the slow sink drain everything it holds.
    for _ in 0..total {
        s.release.send(()).unwrap();
    }
    for i in 1..total {
        assert_eq!(s.slow_seen.recv_timeout(Duration::from_secs(10)), Ok(i));
    }
    // Room again: the next delta unit is still dropped, and one keyframe asked.
    publish_paced(&mut s, unit(100, false));
    assert!(s.keyframes.take());
    publish_paced(&mut s, unit(101, false));
    assert!(!s.keyframes.take(), "asked once per episode");
    // The keyframe resumes the sink.
    publish_paced(&mut s, unit(102, true));
    s.release.send(()).unwrap();
    assert_eq!(s.slow_seen.recv_timeout(Duration::from_secs(10)), Ok(102));
    let dropped = s.slow_drops.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped, 5 + 2);
    drop(s.release);
    let _ = s.fanout.finish();
}

/// A sink whose write fails: its error stops the pipeline, others go on.
struct Failing;

impl Sink for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }
    fn write(&mut self, _: &AccessUnit) -> Result<Flow, OutputError> {
        Err(OutputError::Config {
            reason: "refused".into(),
        })
    }
    fn finish(&mut self) {}
}

#[test]
fn a_fatal_sink_error_sets_stop_and_is_reported() {
    let stop = Arc::new(AtomicBool::new(false));
    let mut fanout = Fanout::new(KeyframeRequests::default(), Events::none(), stop.clone());
    fanout.add(Box::new(Failing), Arc::new(|_| {}));
    fanout.publish(unit(0, true));
    let err = fanout.finish();
    assert!(matches!(err, Some(OutputError::Config { .. })), "{err:?}");
    assert!(stop.load(Ordering::Relaxed));
}
