//! The encoder through the whole stack: H.265, NVENC selection and the
//! fallback at frame 60, B-frames, and passthrough of the producer's units.

mod common;

use std::time::Duration;

use common::decoder::{GstRtpAccessUnits, GstRtpDecoder, nal_units};
use common::stack::*;
use common::{Scratch, assert_exit, free_udp_port};

#[test]
fn e2e_h265_over_rtp_decodes_in_gstreamer() {
    let s = Scratch::new("e2e_h265");
    let n = names("h5");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H265", 96);
    // A deeper queue: this checks H.265 packetization, not x265's speed on a
    // loaded 2-core machine (latest-frame drops are tested elsewhere).
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h265",
        &["--queue-size", "16", "--ingest-idle-timeout-ms", "2000"],
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(300, Duration::from_secs(2), Duration::from_secs(10));
    assert!(got >= 285, "decoded {got} of 300; log:\n{}", st.output());
    let f = decoder.format().unwrap();
    assert_eq!((f.format.as_str(), f.width, f.height), ("I420", 640, 360));
    let sdp = std::fs::read_to_string(s.path("stream.sdp")).unwrap();
    assert!(
        sdp.contains("a=rtpmap:96 H265/90000") && sdp.contains("sprop-vps="),
        "{sdp}"
    );
    assert_eq!(summary(&s)["encoder"]["element"], "x265enc");
}

#[test]
fn e2e_nvenc_required_but_absent_exits_5_and_auto_says_why() {
    let s = Scratch::new("e2e_nvenc");
    let n = names("nv");
    let port = free_udp_port();
    let mut st = streamer(&s, &n, port, &["--encoder-device", "nvenc"]);
    assert_exit(&mut st, T, 5);
    let out = st.output();
    assert!(out.contains("NVENC is absent"), "{out}");
    assert_eq!(
        out.trim()
            .lines()
            .filter(|l| l.starts_with("error"))
            .count(),
        1,
        "{out}"
    );

    // auto on the same host: software, and the reason is recorded.
    let mut st = streamer(
        &s,
        &n,
        port,
        &[
            "--encoder-device",
            "auto",
            "--ingest-idle-timeout-ms",
            "200",
        ],
    );
    assert_exit(&mut st, T, 0);
    let enc = &summary(&s)["encoder"];
    assert_eq!(enc["backend"], "software", "{enc}");
    assert!(
        enc["reason"].as_str().unwrap().contains("NVENC is absent"),
        "{enc}"
    );
}

#[test]
fn e2e_a_stalled_hardware_encoder_falls_back_at_frame_60_and_the_stream_goes_on() {
    let s = Scratch::new("e2e_fallback");
    let n = names("fb");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h264",
        &[
            "--test-hw-encoder",
            "stall",
            "--queue-size",
            "64",
            "--ingest-idle-timeout-ms",
            "2000",
        ],
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "120", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let enc = &summary(&s)["encoder"];
    assert_eq!(enc["fallback_at_frame"], 60, "{enc}");
    assert_eq!(enc["element"], "x264enc", "{enc}");
    // frames_encoded counts what the software encoder got: every frame after
    // the switch must reach the receiver as a decodable stream.
    let expected = summary(&s)["stats"]["frames_encoded"].as_u64().unwrap();
    let got = decoder.wait_frames(expected, Duration::from_secs(2), Duration::from_secs(10));
    assert!(
        expected >= 50 && got + 3 >= expected,
        "decoded {got} of {expected}; log:\n{}",
        st.output()
    );
}

#[test]
fn e2e_b_frames_reach_the_decoder_in_order() {
    let s = Scratch::new("e2e_bframes");
    let n = names("bf");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h264",
        &[
            "--b-frames",
            "2",
            "--queue-size",
            "8",
            "--ingest-idle-timeout-ms",
            "2000",
        ],
    );
    let mut sm = sim(&s, &n, &["--frames", "60", "--fps", "30"]);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(60, Duration::from_secs(2), Duration::from_secs(10));
    assert!(got >= 57, "decoded {got} of 60; log:\n{}", st.output());
    assert!(decoder.errors().is_empty(), "{:?}", decoder.errors());
}

#[test]
fn e2e_passthrough_publishes_the_producers_access_units_without_re_encoding() {
    for codec in ["h264", "h265"] {
        let s = Scratch::new("e2e_pass");
        let n = names("pt");
        let port = free_udp_port();
        let decoder = GstRtpDecoder::start(port, &codec.to_uppercase(), 96);
        let mut st = ready_streamer(
            &s,
            &n,
            port,
            codec,
            &["--passthrough", "--ingest-idle-timeout-ms", "2000"],
        );
        let mut sm = sim(
            &s,
            &n,
            &[
                "--abi",
                "v2.1",
                "--encoded-codec",
                codec,
                "--frames",
                "60",
                "--fps",
                "30",
                "--width",
                "640",
                "--height",
                "360",
            ],
        );
        assert_exit(&mut sm, T, 0);
        assert_exit(&mut st, T, 0);
        let stats = &summary(&s)["stats"];
        assert_eq!(stats["frames_encoded"], 0, "{codec}: {stats}");
        let passed = stats["frames_passthrough"].as_u64().unwrap();
        assert!(passed >= 57, "{codec}: {stats}");
        let got = decoder.wait_frames(passed, Duration::from_secs(2), Duration::from_secs(10));
        assert!(got + 2 >= passed, "{codec}: decoded {got} of {passed}");
    }
}

#[test]
fn e2e_passthrough_of_another_codec_is_re_encoded() {
    let s = Scratch::new("e2e_pass_mismatch");
    let n = names("pm");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h264",
        &["--passthrough", "--ingest-idle-timeout-ms", "2000"],
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--abi",
            "v2.1",
            "--encoded-codec",
            "h265",
            "--frames",
            "30",
            "--fps",
            "30",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let stats = &summary(&s)["stats"];
    assert_eq!(stats["frames_passthrough"], 0, "{stats}");
    assert!(stats["frames_encoded"].as_u64().unwrap() >= 28, "{stats}");
    assert!(decoder.wait_frames(28, Duration::from_secs(2), Duration::from_secs(10)) >= 28);
}

#[test]
fn e2e_passthrough_units_arrive_byte_identical() {
    for codec in ["h264", "h265"] {
        let s = Scratch::new("e2e_pass_bytes");
        let n = names("pb");
        let port = free_udp_port();
        let depay = GstRtpAccessUnits::start(port, &codec.to_uppercase(), 96);
        let mut st = ready_streamer(
            &s,
            &n,
            port,
            codec,
            &["--passthrough", "--ingest-idle-timeout-ms", "2000"],
        );
        let log = s.path("units.bin");
        let mut sm = sim(
            &s,
            &n,
            &[
                "--abi",
                "v2.1",
                "--encoded-codec",
                codec,
                "--frames",
                "60",
                "--fps",
                "30",
                "--au-log",
                log.to_str().unwrap(),
            ],
        );
        assert_exit(&mut sm, T, 0);
        assert_exit(&mut st, T, 0);
        let sent = read_au_log(&log);
        assert_eq!(sent.len(), 60, "{codec}");
        let received = depay.wait_units(60, Duration::from_secs(2), Duration::from_secs(10));
        assert_eq!(
            received.len(),
            60,
            "{codec}: received {} of 60 units; log:\n{}",
            received.len(),
            st.output()
        );
        for (k, (a, b)) in sent.iter().zip(&received).enumerate() {
            assert_eq!(nal_units(a), nal_units(b), "{codec}: unit {k} differs");
        }
    }
}
