//! RTCP feedback end to end: `cvmmap_streamer` (dummy source, x264, RTP)
//! -> `rtp_receiver_tester`, which sends a PLI or FIR and receiver reports
//! back from its RTCP port. With a GOP of 300 frames (10 s at 30 fps) the
//! only keyframe after the first is the one the request forces.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use common::{Proc, Scratch, assert_exit, bin, events, wait_udp_bound};
use serde_json::Value;

const T: Duration = Duration::from_secs(40);
const FPS: f64 = 30.0;
/// The bound: the keyframe's first packet within one frame
/// interval plus 50 ms of the request leaving the receiver.
const BOUND_MS: f64 = 1000.0 / FPS + 50.0;

/// An RTP port P whose RTCP port P + 1 was free a moment ago too.
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free UDP port pair");
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

struct Run {
    rx: Value,
    summary: Value,
    forced: Vec<Value>,
    log: String,
}

/// The receiver first (its RTP and RTCP ports bound), then the streamer
/// with `frames` dummy frames at 30 fps; both must exit 0.
fn run(tag: &str, frames: u32, spacing: u32, rx_extra: &[&str]) -> Run {
    let s = Scratch::new(tag);
    let port = free_port_pair();
    let (p, rx_json) = (port.to_string(), s.path("rx.json"));
    let mut rx_args = vec![
        "--port",
        &p,
        "--expect-pt",
        "96",
        "--packet-threshold",
        "1",
        "--linger-ms",
        "1500",
        "--timeout-ms",
        "30000",
        "--json",
        rx_json.to_str().unwrap(),
    ];
    rx_args.extend_from_slice(rx_extra);
    let mut rx = Proc::spawn(&bin("rtp_receiver_tester"), &rx_args, s.path("rx.log"));
    assert!(
        wait_udp_bound(port, Duration::from_secs(10))
            && wait_udp_bound(port + 1, Duration::from_secs(10)),
        "receiver did not bind {port} and {}; log:\n{}",
        port + 1,
        rx.output()
    );
    let (ep, frames, spacing) = (
        format!("127.0.0.1:{port}"),
        frames.to_string(),
        spacing.to_string(),
    );
    let (summary, ev) = (s.path("summary.json"), s.path("events.jsonl"));
    let mut st = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            &frames,
            "--dummy-fps",
            "30",
            "--dummy-width",
            "320",
            "--dummy-height",
            "240",
            "--gop",
            "300",
            "--keyframe-min-spacing",
            &spacing,
            "--rtp",
            "--rtp-endpoint",
            &ep,
            "--rtp-payload-type",
            "96",
            "--summary-json",
            summary.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
        ],
        s.path("streamer.log"),
    );
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    Run {
        rx: json(&rx_json),
        summary: json(&summary),
        forced: events(&ev, "keyframe_forced"),
        log: format!(
            "streamer log:\n{}\nreceiver log:\n{}",
            st.output(),
            rx.output()
        ),
    }
}

fn f64_of(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number: {v}"))
}

#[test]
fn e2e_pli_brings_a_keyframe_within_a_frame_and_50_ms_and_reports_reach_the_summary() {
    let r = run(
        "e2e_rtcp_pli",
        150,
        2,
        &["--send-pli-after-ms", "1500", "--rr-interval-ms", "500"],
    );
    let (rx, stats) = (&r.rx, &r.summary["stats"]);
    assert_eq!(rx["result"], "pass", "{rx}");
    assert_eq!(rx["plis_sent"], 1, "{rx}");
    let after = f64_of(rx, "keyframe_after_pli_ms");
    eprintln!(
        "keyframe_after_pli_ms = {after:.1} (bound {BOUND_MS:.1}); rtt_ms = {}, jitter_ms = {}",
        stats["rtcp_rtt_ms"], stats["rtcp_jitter_ms"]
    );
    assert!(
        after <= BOUND_MS,
        "{after} ms > {BOUND_MS} ms; {rx}\n{}",
        r.log
    );
    // The first keyframe, and the one the PLI forced: the GOP brings none.
    assert_eq!(rx["keyframes"], 2, "{rx}");
    assert_eq!(stats["rtcp_pli_received"], 1, "{stats}");
    assert_eq!(stats["keyframes_forced"], 1, "{stats}");
    assert!(
        r.forced.iter().any(|e| e["reason"] == "request"),
        "{:?}",
        r.forced
    );
    // Receiver reports: counted, figures present and sane on loopback.
    assert!(stats["rtcp_rr_received"].as_u64().unwrap() >= 3, "{stats}");
    assert_eq!(stats["rtcp_fraction_lost"], 0.0, "{stats}");
    assert_eq!(stats["rtcp_cumulative_lost"], 0, "{stats}");
    assert!(stats["rtcp_highest_seq"].as_u64().unwrap() > 0, "{stats}");
    let jitter = f64_of(stats, "rtcp_jitter_ms");
    assert!(
        jitter.is_finite() && (0.0..100.0).contains(&jitter),
        "{stats}"
    );
    let rtt = f64_of(stats, "rtcp_rtt_ms");
    assert!(
        (0.0..50.0).contains(&rtt),
        "RTT {rtt} ms on loopback: {stats}"
    );
    assert_eq!(stats["rtcp_invalid"], 0, "{stats}");
}

#[test]
fn e2e_fir_brings_a_keyframe_within_a_frame_and_50_ms() {
    let r = run("e2e_rtcp_fir", 120, 2, &["--send-fir-after-ms", "1500"]);
    let (rx, stats) = (&r.rx, &r.summary["stats"]);
    assert_eq!(rx["result"], "pass", "{rx}");
    let after = f64_of(rx, "keyframe_after_fir_ms");
    eprintln!("keyframe_after_fir_ms = {after:.1} (bound {BOUND_MS:.1})");
    assert!(
        after <= BOUND_MS,
        "{after} ms > {BOUND_MS} ms; {rx}\n{}",
        r.log
    );
    assert_eq!(rx["keyframes"], 2, "{rx}");
    assert_eq!(stats["rtcp_fir_received"], 1, "{stats}");
    assert_eq!(stats["rtcp_pli_received"], 0, "{stats}");
    assert_eq!(stats["keyframes_forced"], 1, "{stats}");
    // The FIR came in a compound with an RR: one report, no RTT asked of
    // it to be small, but counted.
    assert!(stats["rtcp_rr_received"].as_u64().unwrap() >= 1, "{stats}");
}

/// 60 PLIs 10 ms apart (0.6 s, 18 frames) with a limiter of 10 frames:
/// the encoder forces at most one keyframe per 10 frames, not 60.
#[test]
fn e2e_a_pli_flood_is_held_to_the_keyframe_limiter() {
    let r = run(
        "e2e_rtcp_flood",
        120,
        10,
        &[
            "--send-pli-after-ms",
            "1500",
            "--pli-repeat",
            "60",
            "--pli-interval-ms",
            "10",
        ],
    );
    let (rx, stats) = (&r.rx, &r.summary["stats"]);
    assert_eq!(rx["plis_sent"], 60, "{rx}");
    let received = stats["rtcp_pli_received"].as_u64().unwrap();
    assert!(received >= 55, "{received} of 60 PLIs arrived: {stats}");
    let forced = stats["keyframes_forced"].as_u64().unwrap();
    eprintln!(
        "flood: {received} PLIs received, {forced} keyframes forced, {} deferred",
        stats["keyframes_deferred"]
    );
    // 18 frames of flood: at frames 0, 10 and perhaps 20 of the window.
    assert!((1..=3).contains(&forced), "{forced} forced: {stats}");
    assert!(
        stats["keyframes_deferred"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(
        rx["keyframes_after_pli"].as_u64().unwrap(),
        forced,
        "{rx}\n{stats}"
    );
}
