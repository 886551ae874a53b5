//! The strict receiver over UDP with hand-made H.264 / H.265 RTP packets
//! (written by the tests' own packetizer, `common::rtp`): frame threshold,
//! `--strict` (exit 7), `--sdp`, and latency from a hand-made RTCP sender report.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::receiver::{RX, free_port_pair, start, start_raw};
use common::rtp::{Kind, Packetizer, rtcp_sr, rtp_packet};
use common::{unique, wait_timeout};

const SSRC: u32 = 0xA1B2_C3D4;
const EXIT_SOON: Duration = Duration::from_secs(5);

/// SPS, PPS, IDR (1500 bytes: fragmented at MTU 600) of a pretend H.264 stream.
fn h264_keyframe() -> Vec<Vec<u8>> {
    vec![
        vec![0x67, 0x42, 0xC0, 0x1F],
        vec![0x68, 0xCE, 0x3C, 0x80],
        [vec![0x65], vec![0x11; 1499]].concat(),
    ]
}

fn h264_p_frame(len: usize) -> Vec<Vec<u8>> {
    vec![[vec![0x41], vec![0x22; len - 1]].concat()]
}

fn h264_packetizer(ssrc: u32) -> Packetizer {
    let mut p = Packetizer::new(Kind::H264, 96, ssrc, 65_530, 600);
    p.aggregate = true;
    p
}

#[test]
fn frame_threshold_passes_on_complete_units() {
    let mut rx = start(&[
        "--frame-threshold",
        "3",
        "--strict",
        "--timeout-ms",
        "10000",
    ]);
    let mut p = h264_packetizer(SSRC);
    let mut packets = p.packetize(90_000, &h264_keyframe()); // STAP-A + 3 FU-A
    packets.extend(p.packetize(93_000, &h264_p_frame(100))); // single NAL unit
    packets.extend(p.packetize(96_000, &h264_p_frame(900))); // 2 FU-A, seq wraps
    let n = packets.len();
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert!(rx.started.elapsed() < EXIT_SOON);
    assert_eq!(j["result"], "pass");
    assert_eq!(j["packets"], n);
    assert_eq!(j["frame_threshold"], 3);
    assert_eq!(j["access_units_complete"], 3);
    assert_eq!(j["access_units_incomplete"], 0);
    assert_eq!(
        (
            j["missing_marker"].as_u64(),
            j["fu_errors"].as_u64(),
            j["malformed_packets"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(j["keyframes"], 1);
    assert_eq!(j["units_before_keyframe"], 0);
    assert_eq!(j["parameter_sets_before_first_keyframe"], true);
    assert_eq!(j["strict_failures"], serde_json::json!([]));
    assert_eq!(j["seq_gaps"], 0);
    assert_eq!(j["rtcp_port"], rx.port + 1);
    assert!(j["latency_ms"].is_null());
}

#[test]
fn packets_alone_do_not_meet_a_frame_threshold() {
    let mut rx = start(&["--frame-threshold", "2", "--timeout-ms", "400"]);
    let mut p = h264_packetizer(SSRC);
    let mut packets = p.packetize(90_000, &h264_keyframe());
    // A second unit whose middle fragment is lost: incomplete, not a sender error.
    let mut lossy = p.packetize(93_000, &h264_p_frame(1500));
    assert_eq!(lossy.len(), 3);
    lossy.remove(1);
    packets.extend(lossy);
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["result"], "threshold_not_met");
    assert_eq!(j["access_units_complete"], 1);
    assert_eq!(j["access_units_incomplete"], 1);
    assert_eq!(j["seq_gaps"], 1);
    assert_eq!(j["fu_errors"], 0);
    assert!(j["elapsed_ms"].as_f64().unwrap() >= 400.0);
}

#[test]
fn both_thresholds_must_be_met() {
    // One complete unit of 4 packets; 10 packets wanted.
    let mut rx = start(&[
        "--frame-threshold",
        "1",
        "--packet-threshold",
        "10",
        "--timeout-ms",
        "400",
    ]);
    let mut p = h264_packetizer(SSRC);
    rx.send(&p.packetize(90_000, &h264_keyframe()));
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["access_units_complete"], 1);
}

#[test]
fn strict_exits_7_at_once_on_ssrc_change() {
    let mut rx = start(&[
        "--strict",
        "--packet-threshold",
        "1000",
        "--timeout-ms",
        "10000",
    ]);
    let mut a = h264_packetizer(SSRC);
    let mut b = h264_packetizer(SSRC + 1);
    let mut packets = a.packetize(90_000, &h264_keyframe());
    packets.extend(b.packetize(12_345, &h264_keyframe()));
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert!(rx.started.elapsed() < EXIT_SOON);
    assert_eq!(j["result"], "strict_violation");
    assert_eq!(j["exit_code"], 7);
    assert_eq!(j["ssrc_changes"], 1);
    assert_eq!(j["strict_failures"], serde_json::json!(["ssrc_changed"]));
}

#[test]
fn without_strict_an_ssrc_change_is_only_counted() {
    let mut rx = start(&["--frame-threshold", "2", "--timeout-ms", "10000"]);
    let mut a = h264_packetizer(SSRC);
    let mut b = h264_packetizer(SSRC + 1);
    let mut packets = a.packetize(90_000, &h264_keyframe());
    packets.extend(b.packetize(12_345, &h264_keyframe()));
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["ssrc_changes"], 1);
    assert_eq!(j["strict_failures"], serde_json::json!(["ssrc_changed"]));
}

#[test]
fn strict_exits_7_without_parameter_sets_before_the_idr() {
    let mut rx = start(&[
        "--strict",
        "--frame-threshold",
        "5",
        "--timeout-ms",
        "10000",
    ]);
    let mut p = h264_packetizer(SSRC);
    let mut packets = p.packetize(90_000, &h264_p_frame(50)); // before any keyframe
    packets.extend(p.packetize(93_000, &h264_keyframe()[2..])); // IDR alone
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["parameter_sets_before_first_keyframe"], false);
    assert_eq!(
        j["missing_parameter_sets"],
        serde_json::json!(["SPS", "PPS"])
    );
    assert_eq!(j["units_before_keyframe"], 1);
    assert_eq!(
        j["strict_failures"],
        serde_json::json!(["parameter_sets_missing_before_first_keyframe"])
    );
}

#[test]
fn strict_exits_7_on_a_missing_marker() {
    let mut rx = start(&[
        "--strict",
        "--frame-threshold",
        "5",
        "--timeout-ms",
        "10000",
    ]);
    let mut p = h264_packetizer(SSRC);
    let mut packets = p.packetize(90_000, &h264_keyframe());
    let n = packets.len();
    packets[n - 1][1] &= 0x7F; // clear the marker of the keyframe's last packet
    packets.extend(p.packetize(93_000, &h264_p_frame(50)));
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["missing_marker"], 1);
    assert_eq!(j["strict_failures"], serde_json::json!(["missing_marker"]));
}

#[test]
fn strict_exits_7_on_an_fu_without_end() {
    let mut rx = start(&[
        "--strict",
        "--frame-threshold",
        "5",
        "--timeout-ms",
        "10000",
    ]);
    let mut p = h264_packetizer(SSRC);
    let mut packets = p.packetize(90_000, &h264_keyframe());
    let n = packets.len();
    packets[n - 1][13] &= !0x40; // clear E in the last FU-A header
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["fu_errors"], 1);
    assert_eq!(j["access_units_incomplete"], 1);
}

/// An H.265 SDP for `port` with PT 98 and sprop-vps/sps/pps.
fn h265_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=video {port} RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\n\
         a=fmtp:98 sprop-vps=QAEMAf//;sprop-sps=QgEBAWA=;sprop-pps=RAHA8vA8kA==\r\na=sendonly\r\n"
    )
}

struct TempFile(std::path::PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(ext: &str, text: &str) -> TempFile {
    let path = std::path::PathBuf::from(format!("/tmp/{}.{ext}", unique("cvmt_")));
    std::fs::write(&path, text).unwrap();
    TempFile(path)
}

#[test]
fn sdp_gives_port_payload_type_codec_and_parameter_sets() {
    let port = free_port_pair();
    let sdp = temp_file("sdp", &h265_sdp(port));
    let mut rx = start_raw(
        port,
        &[
            "--sdp",
            sdp.0.to_str().unwrap(),
            "--strict",
            "--frame-threshold",
            "2",
            "--timeout-ms",
            "10000",
        ],
    );
    // IDR_W_RADL (19) without in-band parameter sets, fragmented; then a TRAIL_R (1).
    let mut p = Packetizer::new(Kind::H265, 98, SSRC, 100, 500);
    let idr = [vec![19 << 1, 1], vec![0x33; 1200]].concat();
    let mut packets = p.packetize(1_000, &[idr]);
    packets.extend(p.packetize(4_000, &[vec![1 << 1, 1, 0x44, 0x55]]));
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["codec"], "h265");
    assert_eq!(j["expected_pt"], 98);
    assert_eq!(j["sdp"], sdp.0.to_str().unwrap());
    assert_eq!(j["sdp_parameter_sets"], 3);
    assert_eq!(j["parameter_sets_before_first_keyframe"], true);
    assert_eq!(j["access_units_complete"], 2);
    assert_eq!(j["keyframes"], 1);
}

#[test]
fn explicit_flags_win_over_the_sdp() {
    let port = free_port_pair();
    let sdp = temp_file("sdp", &h265_sdp(1234));
    let port_s = port.to_string();
    let mut rx = start_raw(
        port,
        &[
            "--sdp",
            sdp.0.to_str().unwrap(),
            "--port",
            &port_s,
            "--expect-pt",
            "96",
        ],
    );
    let mut p = Packetizer::new(Kind::H265, 98, SSRC, 100, 500);
    rx.send(&p.packetize(1_000, &[vec![1 << 1, 1, 0x44]]));
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(3), "{j}");
    assert_eq!(
        (j["expected_pt"].as_u64(), j["seen_pt"].as_u64()),
        (Some(96), Some(98))
    );
}

#[test]
fn malformed_sdp_exits_2_with_one_line() {
    for text in [
        "v=0\r\nm=video 5004 RTP/AVP 96\r\n", // no rtpmap
        "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n", // no v=0
        "v=0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=%%%\r\n",
    ] {
        let sdp = temp_file("sdp", text);
        let mut child = Command::new(RX)
            .args(["--sdp", sdp.0.to_str().unwrap(), "--timeout-ms", "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_timeout(&mut child, EXIT_SOON).expect("exits at once");
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{text:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("--sdp"), "{err}");
    }
}

fn unix_ns_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn latency_from_a_hand_made_sender_report_across_the_timestamp_wrap() {
    let mut rx = start(&[
        "--frame-threshold",
        "2",
        "--strict",
        "--timeout-ms",
        "10000",
    ]);
    // The SR says: 100 ms ago the RTP clock read 5 ms before its wrap.
    let sr_ts = u32::MAX - 449;
    rx.send_rtcp(&[rtcp_sr(SSRC, unix_ns_now() - 100_000_000, sr_ts)]);
    let mut p = h264_packetizer(SSRC);
    // Captured 10 ms and 20 ms after the SR instant: timestamps past the wrap.
    let mut packets = p.packetize(sr_ts.wrapping_add(900), &h264_keyframe());
    packets.extend(p.packetize(sr_ts.wrapping_add(1800), &h264_p_frame(80)));
    rx.send(&packets);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["rtcp_sender_reports"], 1);
    assert_eq!(j["rtcp_packets"], 1);
    let l = &j["latency_ms"];
    assert_eq!(l["samples"], 2, "{j}");
    // Arrival is at least 90 / 80 ms after capture; loopback adds little.
    let (p50, p99, max) = (
        l["p50"].as_f64().unwrap(),
        l["p99"].as_f64().unwrap(),
        l["max"].as_f64().unwrap(),
    );
    assert!((80.0..2_000.0).contains(&p50), "{j}");
    assert!(
        p50 <= p99 && p99 <= max && (90.0..2_100.0).contains(&max),
        "{j}"
    );
    assert!(j["latency_note"].is_null());
}

#[test]
fn invalid_rtcp_is_counted_and_gives_no_latency() {
    let mut rx = start(&["--frame-threshold", "1", "--timeout-ms", "10000"]);
    // An SDES alone (not SR/RR first) and a truncated SR.
    rx.send_rtcp(&[
        vec![0x81, 202, 0, 1, 0, 0, 0, 1],
        vec![0x80, 200, 0, 6, 0, 0, 0, 1],
    ]);
    let mut p = h264_packetizer(SSRC);
    rx.send(&p.packetize(90_000, &h264_keyframe()));
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(
        (
            j["rtcp_invalid"].as_u64(),
            j["rtcp_sender_reports"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert!(j["latency_ms"].is_null());
    assert_eq!(j["latency_note"], "no RTCP sender report received");
}

#[test]
fn rtcp_alone_is_not_nothing() {
    let mut rx = start(&["--timeout-ms", "300"]);
    rx.send_rtcp(&[rtcp_sr(SSRC, unix_ns_now(), 0)]);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["rtcp_sender_reports"], 1);
    assert_eq!(j["packets"], 0);
}

#[test]
fn invalid_h264_payloads_fail_strict() {
    let mut rx = start(&[
        "--strict",
        "--frame-threshold",
        "5",
        "--timeout-ms",
        "10000",
    ]);
    // NAL type 30 (undefined) and a STAP-A whose unit overruns the packet.
    rx.send(&[
        rtp_packet(96, 1, 90, SSRC, true, &[0x1E, 0]),
        rtp_packet(96, 2, 180, SSRC, true, &[0x18, 0, 9, 0x67]),
    ]);
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["malformed_packets"], 1, "exits at the first");
}

#[test]
fn rtcp_port_in_use_is_an_error_only_when_explicit() {
    let port = free_port_pair();
    let taken = std::net::UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    // Default RTCP port (RTP + 1) taken: the run goes on without RTCP, and says so.
    let port_s = port.to_string();
    let mut rx = start_raw(port, &["--port", &port_s, "--frame-threshold", "1"]);
    let mut p = h264_packetizer(SSRC);
    rx.send(&p.packetize(90_000, &h264_keyframe()));
    let (status, j) = rx.finish(EXIT_SOON);
    assert_eq!(status.code(), Some(0), "{j}");
    assert!(j["rtcp_port"].is_null() && j["latency_ms"].is_null(), "{j}");
    let note = j["latency_note"].as_str().unwrap();
    assert!(note.contains("could not be bound"), "{note}");
    // The same port given with --rtcp-port: exit 2 with one line.
    let taken_s = (port + 1).to_string();
    let mut child = Command::new(RX)
        .args([
            "--port",
            &port_s,
            "--rtcp-port",
            &taken_s,
            "--timeout-ms",
            "100",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, EXIT_SOON).expect("exits at once");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--rtcp-port"), "{err}");
    drop(taken);
}
