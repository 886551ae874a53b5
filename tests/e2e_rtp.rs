//! End to end over real parts: `cvmmap_sim` (shared memory + ZeroMQ) ->
//! `cvmmap_streamer` (x264 + RTP/UDP) -> our strict tester and GStreamer's
//! decoder. The issue example, every input format, restarts, bad arguments.

mod common;

use std::time::Duration;

use common::decoder::GstRtpDecoder;
use common::stack::*;
use common::{Proc, Scratch, assert_exit, bin, free_udp_port};

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
