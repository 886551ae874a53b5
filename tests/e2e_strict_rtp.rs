//! RTP H.264 and H.265 from the simulator through the streamer into our
//! strict receiver (its own depacketizer, SDP and RTCP code): complete access
//! units, strict checks, decoding and capture-to-arrival latency.

mod common;

use std::time::Duration;

use common::stack::*;
use common::{Proc, Scratch, assert_exit, bin, free_udp_port, wait_for_file};

fn strict_receiver(s: &Scratch, args: &[&str]) -> Proc {
    let json = s.path("strict.json");
    let mut all = vec![
        "--strict",
        "--decode",
        "--timeout-ms",
        "25000",
        "--json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    Proc::spawn(&bin("rtp_receiver_tester"), &all, s.path("strict.log"))
}

fn report(s: &Scratch) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path("strict.json")).unwrap()).unwrap()
}

/// 300 frames; the receiver must see at least 95% of them as complete access
/// units, pass every strict check, decode them, and report latency.
fn strict_case(codec: &str, learn_from_sdp: bool) {
    let s = Scratch::new("e2e_strict");
    let n = names("st");
    let port = free_udp_port();
    let port_s = port.to_string();
    // x265 on two cores can fall behind for a moment; a short queue keeps the
    // frames (latest-frame drops are not what this test is about).
    let extra = ["--queue-size", "4", "--ingest-idle-timeout-ms", "3000"];
    let (mut rx, mut st) = if learn_from_sdp {
        let st = ready_streamer(&s, &n, port, codec, &extra);
        let sdp = s.path("stream.sdp");
        assert!(wait_for_file(&sdp, Duration::from_secs(5)));
        let rx = strict_receiver(
            &s,
            &["--sdp", sdp.to_str().unwrap(), "--frame-threshold", "285"],
        );
        (rx, st)
    } else {
        let rx = strict_receiver(
            &s,
            &[
                "--port",
                &port_s,
                "--expect-pt",
                "96",
                "--expect-codec",
                codec,
                "--frame-threshold",
                "285",
            ],
        );
        (rx, ready_streamer(&s, &n, port, codec, &extra))
    };
    // The receiver binds before the producer starts (it waits on its socket).
    assert!(common::wait_udp_bound(port, Duration::from_secs(10)));
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut rx, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let r = report(&s);
    assert_eq!(r["result"], "pass", "{r}");
    assert_eq!(r["codec"], codec, "{r}");
    assert!(r["access_units_complete"].as_u64().unwrap() >= 285, "{r}");
    assert_eq!(r["strict_failures"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["parameter_sets_before_first_keyframe"], true, "{r}");
    assert_eq!(r["ssrc_changes"], 0, "{r}");
    assert!(r["rtcp_sender_reports"].as_u64().unwrap() >= 1, "{r}");
    let latency = &r["latency_ms"];
    assert!(latency["samples"].as_u64().unwrap() >= 285, "{r}");
    let (p50, p99) = (
        latency["p50"].as_f64().unwrap(),
        latency["p99"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p99 >= p50, "{r}");
    assert_eq!(r["decoded_format"], "I420", "{r}");
    assert!(r["decoded_frames"].as_u64().unwrap() >= 280, "{r}");
    eprintln!(
        "{codec}: complete units {}, latency p50 {p50:.1} ms p99 {p99:.1} ms",
        r["access_units_complete"]
    );
}

#[test]
fn e2e_strict_receiver_h264() {
    strict_case("h264", false);
}

#[test]
fn e2e_strict_receiver_h265() {
    strict_case("h265", false);
}

#[test]
fn e2e_strict_receiver_learns_the_stream_from_the_sdp_file() {
    strict_case("h265", true);
}
