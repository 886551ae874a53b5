//! Runs the real `rtp_receiver_tester` binary against hand-made RTP packets
//! (RFC 3550 §5.1) sent from a UDP socket, and checks exit codes and JSON.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::receiver::{RX, start};
use common::wait_timeout;

/// A version-2 RTP packet with `payload_len` bytes of payload.
fn rtp(pt: u8, seq: u16, marker: bool, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&90_000u32.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0xAB, payload_len));
    p
}

#[test]
fn threshold_met_exits_0_with_full_json() {
    let mut rx = start(&[
        "--packet-threshold",
        "3",
        "--expect-pt",
        "96",
        "--timeout-ms",
        "10000",
    ]);
    let ssrc = 0x1122_3344;
    rx.send(&[
        vec![1, 2, 3, 4, 5], // too short: invalid
        vec![0x40; 20],      // version 1: invalid
        rtp(96, 65534, false, ssrc, 100),
        rtp(96, 65535, false, ssrc, 50),
        rtp(96, 1, true, ssrc, 10), // wraps, 0 missing
    ]);
    let (status, j) = rx.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{j}");
    assert!(
        rx.started.elapsed() < Duration::from_secs(5),
        "must exit as soon as the threshold is met"
    );
    assert_eq!(j["result"], "pass");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["packets"], 3);
    assert_eq!(j["invalid_packets"], 2);
    assert_eq!(j["bytes"], 3 * 12 + 160);
    assert_eq!(
        (j["expected_pt"].as_u64(), j["seen_pt"].as_u64()),
        (Some(96), Some(96))
    );
    assert_eq!(j["ssrc"], ssrc);
    assert_eq!(j["ssrc_changes"], 0);
    assert_eq!(
        (j["first_seq"].as_u64(), j["last_seq"].as_u64()),
        (Some(65534), Some(1))
    );
    assert_eq!(j["seq_gaps"], 1);
    assert_eq!(j["markers"], 1);
    assert_eq!(j["threshold"], 3);
    // 0xAB payloads have the forbidden bit set: malformed H.264, not fatal without --strict.
    assert_eq!(j["malformed_packets"], 3);
    assert_eq!(
        j["strict_failures"],
        serde_json::json!(["malformed_packets"])
    );
    assert_eq!(j["codec"], "h264");
    assert!(j["latency_ms"].is_null(), "{j}");
    assert_eq!(j["latency_note"], "no RTCP sender report received");
    for key in [
        "decoded_frames",
        "decoded_format",
        "decoded_width",
        "decoded_height",
        "dumped_units",
        "frame_threshold",
        "sdp",
    ] {
        assert!(j[key].is_null(), "{key}: {j}");
    }
    let first = j["first_packet_ms"].as_f64().unwrap();
    let elapsed = j["elapsed_ms"].as_f64().unwrap();
    assert!(first >= 0.0 && first <= elapsed, "{j}");
}

#[test]
fn other_payload_type_exits_3_at_once() {
    let mut rx = start(&[
        "--packet-threshold",
        "5",
        "--expect-pt",
        "96",
        "--timeout-ms",
        "10000",
    ]);
    rx.send(&[rtp(96, 10, false, 7, 20), rtp(97, 11, false, 7, 20)]);
    let (status, j) = rx.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(3), "{j}");
    assert!(rx.started.elapsed() < Duration::from_secs(5));
    assert_eq!(j["result"], "pt_mismatch");
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["seen_pt"], 97);
    assert_eq!(j["packets"], 2);
}

#[test]
fn too_few_packets_exit_4() {
    let mut rx = start(&["--packet-threshold", "5", "--timeout-ms", "300"]);
    rx.send(&[rtp(96, 1, false, 9, 8), rtp(96, 4, false, 9, 8)]);
    let (status, j) = rx.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["result"], "threshold_not_met");
    assert_eq!(j["packets"], 2);
    assert_eq!(j["seq_gaps"], 2);
    assert!(j["elapsed_ms"].as_f64().unwrap() >= 300.0, "{j}");
}

#[test]
fn only_invalid_datagrams_exit_4() {
    let mut rx = start(&["--timeout-ms", "300"]);
    rx.send(&[vec![0xFF; 3], vec![0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]]);
    let (status, j) = rx.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(
        (j["packets"].as_u64(), j["invalid_packets"].as_u64()),
        (Some(0), Some(2))
    );
    assert!(j["ssrc"].is_null());
}

#[test]
fn nothing_received_exits_124() {
    let mut rx = start(&["--timeout-ms", "300"]);
    let (status, j) = rx.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(124), "{j}");
    assert_eq!(j["result"], "timeout");
    assert_eq!(j["exit_code"], 124);
    assert_eq!(j["packets"], 0);
    for key in [
        "seen_pt",
        "ssrc",
        "first_seq",
        "last_seq",
        "first_packet_ms",
    ] {
        assert!(j[key].is_null(), "{key}: {j}");
    }
    let elapsed = j["elapsed_ms"].as_f64().unwrap();
    assert!((300.0..3000.0).contains(&elapsed), "{j}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &[][..],
        &["--port", "5004", "--packet-threshold", "0"],
        &["--port", "x"],
    ] {
        let mut child = Command::new(RX)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_timeout(&mut child, Duration::from_secs(5)).expect("exits");
        assert_eq!(status.code(), Some(2), "{args:?}");
    }
}
