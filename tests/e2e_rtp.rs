//! End to end over real parts: `cvmmap_sim` (shared memory + ZeroMQ) ->
//! `cvmmap_streamer` (x264 + RTP/UDP) -> receivers (our strict tester, and
//! GStreamer's and ffmpeg's decoders, which we did not write).

mod common;

use std::time::Duration;

use common::decoder::{GstRtpAccessUnits, GstRtpDecoder, nal_units};
use common::{
    Proc, Scratch, assert_exit, bin, free_udp_port, unique, wait_for_file, wait_for_log,
    wait_udp_bound,
};

const T: Duration = Duration::from_secs(40);

struct Names {
    label: String,
    shm: String,
    ipc: String,
}

fn names(tag: &str) -> Names {
    let id = unique(tag);
    Names {
        label: format!("acc_{}", &id[id.len().saturating_sub(18)..]),
        shm: id.clone(),
        ipc: format!("ipc:///tmp/{id}.ipc"),
    }
}

fn sim(s: &Scratch, n: &Names, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--label",
        &n.label,
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_sim"), &args, s.path("sim.log"))
}

fn streamer(s: &Scratch, n: &Names, port: u16, extra: &[&str]) -> Proc {
    streamer_codec(s, n, port, "h264", extra)
}

fn streamer_codec(s: &Scratch, n: &Names, port: u16, codec: &str, extra: &[&str]) -> Proc {
    let endpoint = format!("127.0.0.1:{port}");
    let sdp = s.path("stream.sdp");
    let summary = s.path("summary.json");
    let mut args = vec![
        "--codec",
        codec,
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
        "--rtp",
        "--rtp-endpoint",
        &endpoint,
        "--rtp-payload-type",
        "96",
        "--rtp-sdp",
        sdp.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"))
}

fn receiver(s: &Scratch, port: u16) -> Proc {
    let port = port.to_string();
    let json = s.path("receiver.json");
    Proc::spawn(
        &bin("rtp_receiver_tester"),
        &[
            "--port",
            &port,
            "--expect-pt",
            "96",
            "--packet-threshold",
            "200",
            "--timeout-ms",
            "15000",
            "--json",
            json.to_str().unwrap(),
        ],
        s.path("receiver.log"),
    )
}

#[derive(Clone, Copy, Debug)]
enum First {
    Simulator,
    Streamer,
    Receiver,
}

/// The issue's example: all three exit 0 whichever starts first.
fn issue_example(first: First) {
    let s = Scratch::new("e2e_example");
    let n = names("ex");
    let port = free_udp_port();
    let sim_args = [
        "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
    ];
    let idle = ["--ingest-idle-timeout-ms", "3000"];
    let (mut a, mut b, mut c) = match first {
        First::Simulator => {
            let a = sim(&s, &n, &sim_args);
            let b = streamer(&s, &n, port, &idle);
            let c = receiver(&s, port);
            (a, b, c)
        }
        First::Streamer => {
            let b = streamer(&s, &n, port, &idle);
            let c = receiver(&s, port);
            let a = sim(&s, &n, &sim_args);
            (a, b, c)
        }
        First::Receiver => {
            let c = receiver(&s, port);
            let a = sim(&s, &n, &sim_args);
            let b = streamer(&s, &n, port, &idle);
            (a, b, c)
        }
    };
    assert_exit(&mut c, T, 0);
    assert_exit(&mut a, T, 0);
    assert_exit(&mut b, T, 0);
    let rx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("receiver.json")).unwrap()).unwrap();
    assert_eq!(rx["result"], "pass", "{rx}");
    assert!(rx["packets"].as_u64().unwrap() >= 200, "{rx}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["encoder"]["element"], "x264enc", "{summary}");
    assert_eq!(summary["encoder"]["backend"], "software", "{summary}");
    assert_eq!(summary["end"], "idle_timeout", "{summary}");
    assert!(
        summary["stats"]["access_units"].as_u64().unwrap() > 200,
        "{summary}"
    );
}

#[test]
fn e2e_issue_example_simulator_first() {
    issue_example(First::Simulator);
}

#[test]
fn e2e_issue_example_streamer_first() {
    issue_example(First::Streamer);
}

#[test]
fn e2e_issue_example_receiver_first() {
    issue_example(First::Receiver);
}

/// Streams `frames` frames and decodes them with GStreamer; returns the
/// decoded count and format.
fn decode_run(
    sim_extra: &[&str],
    frames: u64,
) -> (u64, Option<common::decoder::DecodedFormat>, String) {
    let s = Scratch::new("e2e_decode");
    let n = names("dec");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(&s, &n, port, "h264", &["--ingest-idle-timeout-ms", "2000"]);
    let frames_s = frames.to_string();
    let mut args = vec!["--frames", frames_s.as_str(), "--fps", "30"];
    args.extend_from_slice(sim_extra);
    let mut sm = sim(&s, &n, &args);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(frames, Duration::from_secs(2), Duration::from_secs(10));
    let errors = decoder.errors();
    assert!(errors.is_empty(), "decoder errors: {errors:?}");
    (got, decoder.format(), st.output())
}

#[test]
fn e2e_gstreamer_decodes_95_percent_of_300_frames_as_i420() {
    let (got, format, log) = decode_run(&["--width", "640", "--height", "360"], 300);
    assert!(
        got >= 285,
        "decoded {got} of 300 frames; streamer log:\n{log}"
    );
    let f = format.expect("a decoded format");
    assert_eq!((f.format.as_str(), f.width, f.height), ("I420", 640, 360));
}

/// One pixel format / layout through the whole path, decoded by GStreamer.
fn format_case(case: &[&str]) {
    let mut args = case.to_vec();
    args.extend(["--width", "640", "--height", "360"]);
    let (got, format, log) = decode_run(&args, 45);
    assert!(
        got >= 42,
        "{case:?}: decoded {got} of 45; streamer log:\n{log}"
    );
    let f = format.expect("a decoded format");
    assert_eq!(
        (f.format.as_str(), f.width, f.height),
        ("I420", 640, 360),
        "{case:?}"
    );
}

/// One test per case, so each is bounded and reported on its own.
macro_rules! format_tests {
    ($($name:ident: [$($arg:literal),*];)*) => {
        $(#[test]
        fn $name() {
            format_case(&[$($arg),*]);
        })*
    };
}

format_tests! {
    e2e_format_bgr: ["--format", "bgr"];
    e2e_format_rgb: ["--format", "rgb"];
    e2e_format_bgra: ["--format", "bgra"];
    e2e_format_rgba: ["--format", "rgba"];
    e2e_format_gray: ["--format", "gray"];
    e2e_format_yuv: ["--format", "yuv"];
    e2e_format_yuyv: ["--format", "yuyv"];
    e2e_format_v1_layout_bgr: ["--abi", "v1", "--format", "bgr"];
    e2e_format_v1_layout_gray: ["--abi", "v1", "--format", "gray"];
    e2e_format_padded_rows: ["--format", "bgr", "--row-padding", "12"];
}

/// ffmpeg reads the SDP file and decodes the stream to raw frames.
fn ffmpeg_case(ffmpeg: &std::path::Path, codec: &str) {
    let s = Scratch::new("e2e_ffmpeg");
    let n = names("ff");
    let port = free_udp_port();
    let mut st = streamer_codec(
        &s,
        &n,
        port,
        codec,
        &["--queue-size", "16", "--ingest-idle-timeout-ms", "2000"],
    );
    let sdp = s.path("stream.sdp");
    assert!(
        wait_for_file(&sdp, Duration::from_secs(20)),
        "no SDP file; log:\n{}",
        st.output()
    );
    let raw = s.path("out.yuv");
    let mut ff = Proc::spawn(
        ffmpeg,
        &[
            "-hide_banner",
            "-nostdin",
            "-protocol_whitelist",
            "file,udp,rtp",
            "-i",
            sdp.to_str().unwrap(),
            "-f",
            "rawvideo",
            "-y",
            raw.to_str().unwrap(),
        ],
        s.path("ffmpeg.log"),
    );
    // ffmpeg binds the port named in the SDP; start the producer only then.
    assert!(
        wait_udp_bound(port, Duration::from_secs(10)),
        "ffmpeg never bound {port}:\n{}",
        ff.output()
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "150", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    ff.signal(2); // SIGINT: ffmpeg flushes and exits
    ff.wait(Duration::from_secs(10));
    let log = ff.output();
    assert!(
        log.contains("yuv420p"),
        "{codec}: ffmpeg did not report 4:2:0:\n{log}"
    );
    let frame = 640 * 360 * 3 / 2;
    let frames = std::fs::metadata(&raw)
        .map(|m| m.len() as usize / frame)
        .unwrap_or(0);
    assert!(
        frames >= 142,
        "{codec}: ffmpeg decoded {frames} of 150 frames:\n{log}"
    );
}

#[test]
fn e2e_debian_ffmpeg_decodes_h264_from_the_sdp_file() {
    ffmpeg_case(std::path::Path::new("ffmpeg"), "h264");
}

#[test]
fn e2e_modern_ffmpeg_decodes_h264_from_the_sdp_file() {
    ffmpeg_case(&common::modern_ffmpeg(), "h264");
}

#[test]
fn e2e_modern_ffmpeg_decodes_h265_from_the_sdp_file() {
    ffmpeg_case(&common::modern_ffmpeg(), "h265");
}

#[test]
fn e2e_bad_arguments_exit_2_naming_the_flag() {
    let s = Scratch::new("e2e_args");
    let mut p = Proc::spawn(
        &bin("cvmmap_sim"),
        &["--label", &"x".repeat(25), "--frames", "1"],
        s.path("a.log"),
    );
    assert_exit(&mut p, T, 2);
    assert!(p.output().contains("--label"), "{}", p.output());

    let base = [
        "--codec",
        "h264",
        "--shm-name",
        "x",
        "--zmq-endpoint",
        "ipc:///tmp/x.ipc",
        "--rtp",
    ];
    let mut p = Proc::spawn(&bin("cvmmap_streamer"), &base, s.path("b.log"));
    assert_exit(&mut p, T, 2);
    assert!(p.output().contains("--rtp-endpoint"), "{}", p.output());

    let mut args = base.to_vec();
    args.extend([
        "--rtp-endpoint",
        "127.0.0.1:5004",
        "--rtp-payload-type",
        "95",
    ]);
    let mut p = Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("c.log"));
    assert_exit(&mut p, T, 2);
    assert!(p.output().contains("--rtp-payload-type"), "{}", p.output());
    assert_eq!(
        p.output().trim().lines().count(),
        1,
        "one line: {}",
        p.output()
    );
}

#[test]
fn e2e_dummy_input_streams_without_a_producer() {
    let s = Scratch::new("e2e_dummy");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let ep = format!("127.0.0.1:{port}");
    let mut st = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "60",
            "--dummy-fps",
            "60",
            "--rtp",
            "--rtp-endpoint",
            &ep,
        ],
        s.path("streamer.log"),
    );
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(60, Duration::from_secs(2), Duration::from_secs(10));
    assert!(got >= 57, "decoded {got} of 60");
}

#[test]
fn e2e_producer_restart_with_a_new_resolution_keeps_the_stream_going() {
    let s = Scratch::new("e2e_restart");
    let n = names("rs");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(&s, &n, port, "h264", &["--ingest-idle-timeout-ms", "3000"]);
    for (w, h) in [("640", "360"), ("1280", "720")] {
        let mut sm = sim(
            &s,
            &n,
            &["--frames", "45", "--fps", "30", "--width", w, "--height", h],
        );
        assert_exit(&mut sm, T, 0);
    }
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(90, Duration::from_secs(2), Duration::from_secs(10));
    assert!(
        got >= 84,
        "decoded {got} of 90 across the restart; log:\n{}",
        st.output()
    );
    assert!(decoder.errors().is_empty(), "{:?}", decoder.errors());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stats"]["segment_maps"], 2, "{summary}");
    assert!(
        st.output().contains("reconfiguring the encoder"),
        "{}",
        st.output()
    );
}

/// Starts the streamer and waits until its ingest is listening, so that a
/// producer started next loses no frame to the streamer's own start-up.
fn ready_streamer(s: &Scratch, n: &Names, port: u16, codec: &str, extra: &[&str]) -> Proc {
    let st = streamer_codec(s, n, port, codec, extra);
    assert!(
        wait_for_log(&st, "ingest started", Duration::from_secs(20)),
        "streamer not ready:\n{}",
        st.output()
    );
    st
}

fn summary(s: &Scratch) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path("summary.json")).unwrap()).unwrap()
}

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
            "--frames", "90", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(90, Duration::from_secs(2), Duration::from_secs(10));
    assert!(got >= 85, "decoded {got} of 90; log:\n{}", st.output());
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

/// Reads the simulator's `--au-log`: 4-byte LE length, then the unit.
fn read_au_log(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let (mut out, mut at) = (Vec::new(), 0);
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(bytes[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
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
