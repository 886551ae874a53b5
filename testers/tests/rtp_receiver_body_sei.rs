//! `rtp_receiver_tester` finds body-tracking SEI (docs/body-sei.md) in
//! hand-made H.264 / H.265 RTP streams, validates each body message, matches
//! its timestamp to the access unit's capture time from a hand-made RTCP
//! sender report, and judges `--expect-body`.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::receiver::start;
use common::rtp::{Kind, Packetizer, rtcp_sr};

const SSRC: u32 = 0x0B0D_1E55;
const EXIT_SOON: Duration = Duration::from_secs(5);
/// RTP timestamp of the first unit and of the sender report.
/// Close to 2^32, so the RTP timestamp wraps during each stream (3000 per unit).
const TS0: u32 = u32::MAX - 7_000;
const UUID: [u8; 16] = [
    0xd4, 0x05, 0xbd, 0x7e, 0x6c, 0x92, 0x41, 0x28, 0xa2, 0x8c, 0x98, 0x44, 0x92, 0xbc, 0x96, 0xeb,
];

/// A body message (contract §4) with `count` records.
fn body(frame_count: u32, timestamp_ns: u64, count: u16) -> Vec<u8> {
    let payload = usize::from(count) * 3248;
    let mut m = vec![0u8; 64 + payload];
    m[0] = 0x62;
    m[2] = 1;
    m[4..8].copy_from_slice(&frame_count.to_le_bytes());
    m[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
    m[16..24].copy_from_slice(&timestamp_ns.to_le_bytes());
    m[24..26].copy_from_slice(&count.to_le_bytes());
    m[26..28].copy_from_slice(&3248u16.to_le_bytes());
    m[36..40].copy_from_slice(&(payload as u32).to_le_bytes());
    m[40..43].copy_from_slice(b"cam");
    // Records full of small values and zero runs: emulation prevention needed.
    for (i, b) in m[64..].iter_mut().enumerate() {
        *b = if i % 7 < 4 { 0 } else { (i % 3) as u8 };
    }
    m
}

/// An SEI NAL unit carrying `messages` as user_data_unregistered messages
/// with our UUID, plus one foreign message in front (docs/body-sei.md;
/// ff-coded type and size, trailing bits, emulation prevention).
fn sei_nal(kind: Kind, messages: &[Vec<u8>]) -> Vec<u8> {
    let mut rbsp = vec![6, 1, 0x42]; // recovery point (payloadType 6), 1 byte
    for m in messages {
        rbsp.push(5);
        let mut size = 16 + m.len();
        while size >= 255 {
            rbsp.push(0xFF);
            size -= 255;
        }
        rbsp.push(size as u8);
        rbsp.extend_from_slice(&UUID);
        rbsp.extend_from_slice(m);
    }
    rbsp.push(0x80);
    let mut nal = match kind {
        Kind::H264 => vec![0x06],
        Kind::H265 => vec![0x4E, 0x01],
    };
    let mut zeros = 0;
    for b in rbsp {
        if zeros >= 2 && b <= 3 {
            nal.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        nal.push(b);
    }
    nal
}

/// Parameter sets + IDR, or a P slice, of a pretend stream.
fn picture(kind: Kind, key: bool) -> Vec<Vec<u8>> {
    match (kind, key) {
        (Kind::H264, true) => vec![
            vec![0x67, 0x42, 0xC0, 0x1F],
            vec![0x68, 0xCE, 0x3C, 0x80],
            [vec![0x65], vec![0x11; 2000]].concat(),
        ],
        (Kind::H264, false) => vec![[vec![0x41], vec![0x22; 300]].concat()],
        (Kind::H265, true) => vec![
            vec![0x40, 0x01, 0x0C],
            vec![0x42, 0x01, 0x01],
            vec![0x44, 0x01, 0xC1],
            [vec![0x26, 0x01], vec![0x11; 2000]].concat(),
        ],
        (Kind::H265, false) => vec![[vec![0x02, 0x01], vec![0x22; 300]].concat()],
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Capture time of unit `k` (RTP TS0 + 3000 k at 90 kHz) when RTP TS0 is `t0`.
fn capture_ns(t0: u64, k: u64) -> u64 {
    t0 + k * 3000 * 1_000_000_000 / 90_000
}

/// Packets of `n` access units, a keyframe every 5; unit k's SEI holds the
/// messages `bodies(k)` (none when empty), inserted before the first slice.
fn stream(kind: Kind, n: u64, bodies: impl Fn(u64) -> Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut p = Packetizer::new(kind, 96, SSRC, 65_000, 1200);
    p.aggregate = true;
    let mut packets = Vec::new();
    for k in 0..n {
        let mut nals = picture(kind, k % 5 == 0);
        let messages = bodies(k);
        if !messages.is_empty() {
            let slice = nals.len() - 1;
            nals.insert(slice, sei_nal(kind, &messages));
        }
        packets.extend(p.packetize(TS0.wrapping_add(3000 * k as u32), &nals));
    }
    packets
}

#[test]
fn h264_body_sei_is_found_validated_and_matched() {
    expect_exact(Kind::H264);
}

#[test]
fn h265_body_sei_is_found_validated_and_matched() {
    expect_exact(Kind::H265);
}

fn expect_exact(kind: Kind) {
    let mut rx = start(&[
        "--expect-codec",
        if kind == Kind::H264 { "h264" } else { "h265" },
        "--expect-body",
        "10",
        "--frame-threshold",
        "10",
        "--timeout-ms",
        "10000",
    ]);
    let t0 = now_ns();
    rx.send_rtcp(&[rtcp_sr(SSRC, t0, TS0)]);
    // Unit 3 has two messages (the first of two records: payloadSize > 255,
    // fragmented over several packets); unit 7 has none.
    let packets = stream(kind, 10, |k| match k {
        7 => vec![],
        3 => vec![
            body(3, capture_ns(t0, 3), 2),
            body(103, capture_ns(t0, 3), 0),
        ],
        _ => vec![body(k as u32, capture_ns(t0, k), 1)],
    });
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert!(
        rx.started.elapsed() < EXIT_SOON,
        "passed as soon as all arrived"
    );
    let b = &j["body_sei"];
    assert_eq!(b["units_with_body"], 9, "{b}");
    assert_eq!(b["messages"], 10);
    assert_eq!(b["invalid"], 0);
    assert_eq!(
        b["first_frame_counts"],
        serde_json::json!([0, 1, 2, 3, 103, 4, 5, 6, 8, 9])
    );
    assert_eq!(
        (b["ts_matched"].as_u64(), b["ts_mismatched"].as_u64()),
        (Some(10), Some(0))
    );
    assert_eq!(b["ts_unchecked"], 0);
    assert_eq!(b["sei_malformed"], 0);
    assert_eq!(b["expect"], 10);
    assert!(b["failure"].is_null());
    assert_eq!(j["keyframe_indices"], serde_json::json!([0, 5]));
    assert_eq!(j["access_units_complete"], 10);
    assert_eq!(j["result"], "pass");
}

#[test]
fn a_timestamp_off_by_more_than_1ms_fails_with_7() {
    let mut rx = start(&["--expect-body", "5", "--timeout-ms", "10000"]);
    let t0 = now_ns();
    rx.send_rtcp(&[rtcp_sr(SSRC, t0, TS0)]);
    let packets = stream(Kind::H264, 5, |k| {
        let off = if k == 2 { 1_500_000 } else { 900_000 }; // 1.5 ms after its unit: fails; 0.9 ms is fine
        vec![body(k as u32, capture_ns(t0, k) + off, 1)]
    });
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["result"], "body_check_failed");
    let b = &j["body_sei"];
    assert_eq!(
        (b["ts_matched"].as_u64(), b["ts_mismatched"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(b["failure"].as_str().unwrap().contains("1 ms"), "{b}");
    assert!(
        rx.stderr
            .until_eof(EXIT_SOON)
            .contains("--expect-body failed")
    );
}

#[test]
fn an_invalid_body_fails_with_7() {
    let mut rx = start(&["--expect-body", "3", "--timeout-ms", "10000"]);
    let packets = stream(Kind::H264, 3, |k| {
        let mut m = body(k as u32, 0, 1);
        if k == 1 {
            m[36] = 0; // payload_size_bytes no longer body_count * 3248
        }
        vec![m]
    });
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    let b = &j["body_sei"];
    assert_eq!(
        (b["messages"].as_u64(), b["invalid"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(
        b["failure"]
            .as_str()
            .unwrap()
            .contains("payload_size_bytes"),
        "{b}"
    );
    // No sender report: nothing could be matched.
    assert_eq!(b["ts_unchecked"], 1);
}

#[test]
fn too_few_bodies_fail_with_4_at_the_timeout() {
    let mut rx = start(&["--expect-body", "5", "--timeout-ms", "600"]);
    let packets = stream(Kind::H264, 4, |k| {
        if k % 2 == 0 {
            vec![body(k as u32, 0, 1)]
        } else {
            vec![]
        }
    });
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["result"], "threshold_not_met");
    let b = &j["body_sei"];
    assert_eq!(
        (b["messages"].as_u64(), b["units_with_body"].as_u64()),
        (Some(2), Some(2))
    );
    let failure = b["failure"].as_str().unwrap();
    assert!(
        failure.contains("2 body message(s)") && failure.contains("--expect-body 5"),
        "{b}"
    );
    assert!(
        rx.stderr
            .until_eof(EXIT_SOON)
            .contains("--expect-body failed")
    );
}

#[test]
fn without_sender_report_bodies_are_unchecked_and_pass() {
    let mut rx = start(&["--expect-body", "2", "--timeout-ms", "10000"]);
    rx.send(&stream(Kind::H264, 2, |k| vec![body(k as u32, 12345, 0)]));
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    let b = &j["body_sei"];
    assert_eq!(
        (b["messages"].as_u64(), b["ts_unchecked"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(b["ts_matched"], 0);
}
