//! `cvmmap_record` against live producers: body tracking and `source.info`
//! over a real `nats-server`, SIGKILL mid-recording then `cvmmap_tools
//! recover`, and the command lines it refuses. Files are read by Python's
//! `mcap` readers (scripts/mcap_check.py).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::nats::NatsServer;
use common::record::{ffmpeg_decode_units, ffmpeg_mp4, mcap_check, tools, wait_count};
use common::{Proc, Scratch, assert_exit, bin, unique, wait_for_log};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

fn target(s: &Scratch, label: &str) -> String {
    let ns = unique("live").replace('_', "-");
    format!("cvmmap://{label}@{}?namespace={ns}", s.0.display())
}

/// Body-tracking messages land on `/<label>/body`, each logged at its own
/// frame's capture time (a time the video channel has), and the
/// producer's `source.info` answer is a metadata record.
#[test]
fn e2e_record_body_and_source_info_from_nats() {
    let s = Scratch::new("rec_nats");
    let nats = NatsServer::start(&s, &[]);
    let t = target(&s, "cam");
    let out = s.path("nats.mcap");
    let summary = s.path("summary.json");
    let mut rec = Proc::spawn(
        &bin("cvmmap_record"),
        &[
            "--codec",
            "h264",
            "--source",
            &t,
            "--nats-url",
            &nats.url(),
            "--ingest-idle-timeout-ms",
            "2000",
            "--progress",
            "off",
            "-o",
            out.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        s.path("record.log"),
    );
    // The body subscription is up before the producer speaks.
    assert!(
        wait_for_log(&rec, "NATS connected", Duration::from_secs(15)),
        "{}",
        rec.output()
    );
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &[
            "--target",
            &t,
            "--frames",
            "60",
            "--fps",
            "30",
            "--width",
            "320",
            "--height",
            "240",
            "--nats-url",
            &nats.url(),
            "--body-every",
            "1",
            "--body-count",
            "2",
        ],
        s.path("sim.log"),
    );
    assert_exit(&mut sim, T, 0);
    assert_exit(&mut rec, T, 0);

    let r = mcap_check(&out, None);
    let video: Vec<u64> = r["channels"]["/cam/video"]["log_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let body = &r["channels"]["/cam/body"];
    assert_eq!(body["message_encoding"], "cvmmap.body.v1", "{body}");
    assert!(body["metadata"]["layout"].as_str().unwrap().contains("§4"));
    let n = body["messages"].as_u64().unwrap();
    assert!(n >= 50, "{n} body messages of 60 frames");
    assert_eq!(body["log_time_strictly_rising"], true);
    for (i, ts) in body["raw_u64_at_8"].as_array().unwrap().iter().enumerate() {
        // The message is the contract's (magic 0x62), logged at its frame's
        // time, which is one of the recorded frames' times.
        assert_eq!(body["raw_first_byte"][i], 0x62);
        let ts = ts.as_u64().unwrap();
        assert_eq!(body["log_times"][i].as_u64(), Some(ts));
        assert!(
            video.binary_search(&ts).is_ok(),
            "body at {ts} has no frame"
        );
    }
    let sum: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(sum["cameras"][0]["bodies_written"].as_u64(), Some(n));
    let info = &r["metadata"]["source.info/cam"];
    assert_eq!(
        info["timestamp_domain"], "unix_epoch_ns",
        "{}",
        r["metadata"]
    );
    assert!(info["flag_names"].as_str().unwrap().contains("has_body"));
    assert!(r["metadata"]["cvmmap.recording"]["cameras"] == "cam");
}

/// SIGKILL 5 s into a recording: `recover` rebuilds a readable file with
/// at least 90% of the frames the recorder had reported written (its last
/// progress line, at most 1 s before the kill).
#[test]
fn e2e_record_killed_recorder_leaves_a_recoverable_file() {
    let s = Scratch::new("rec_kill");
    let t = target(&s, "cam");
    let out = s.path("killed.mcap");
    let mut rec = Proc::spawn(
        &bin("cvmmap_record"),
        &[
            "--codec",
            "h264",
            "--no-nats",
            "--source",
            &t,
            "--progress",
            "lines",
            "--status-interval-s",
            "1",
            "-o",
            out.to_str().unwrap(),
            "--mp4",
            s.path("{label}.mp4").to_str().unwrap(),
        ],
        s.path("record.log"),
    );
    wait_count(&rec, "ingest started", 1);
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &[
            "--target", &t, "--frames", "0", "--fps", "30", "--width", "320", "--height", "240",
        ],
        s.path("sim.log"),
    );
    wait_count(&rec, "common start", 1);
    // The scenario: five seconds of recording, then SIGKILL.
    std::thread::sleep(Duration::from_secs(5));
    rec.signal(9);
    rec.wait(Duration::from_secs(10));
    sim.signal(15);
    sim.wait(Duration::from_secs(10));
    let log = rec.output();
    let reported: u64 = log
        .lines()
        .filter(|l| l.contains("recording") && l.contains("written="))
        .filter_map(|l| {
            l.split("written=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .next_back()
        .expect("a progress line");
    assert!(reported >= 100, "{reported} frames reported in 5 s");

    let (code, text) = tools(&["probe", out.to_str().unwrap()]);
    assert_eq!(code, 1, "a killed file is broken: {text}");
    let fixed = s.path("recovered.mcap");
    let (code, text) = tools(&["recover", out.to_str().unwrap(), fixed.to_str().unwrap()]);
    assert_eq!(code, 2, "recovered with losses: {text}");
    let r = mcap_check(&fixed, None);
    let got = r["channels"]["/cam/video"]["messages"].as_u64().unwrap();
    assert!(got * 10 >= reported * 9, "recovered {got} of {reported}");
    assert_eq!(r["channels"]["/cam/video"]["first_is_keyframe"], true);

    // The MP4 beside it: fragmented and unfinished, yet ffmpeg decodes
    // every whole fragment (one a second: at most about 1 s is lost).
    let mp4 = s.path("cam.mp4");
    let (code, text) = tools(&["probe", mp4.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("fragmented"), "{text}");
    let (frames, stream, _) = ffmpeg_mp4(&mp4);
    assert!(stream.contains("avc1"), "{stream}");
    eprintln!(
        "killed recorder: {reported} reported written, {got} recovered, {frames} decoded from the MP4"
    );
    assert!(
        frames + 45 >= reported,
        "ffmpeg decoded {frames} of {reported}"
    );
}

/// A clean stop leaves an ordinary MP4 (`moov`, no fragments) with H.265
/// as `hvc1`, holding every frame of the MCAP beside it.
#[test]
fn e2e_record_mp4_h265_clean_stop_is_finalised_hvc1() {
    let s = Scratch::new("rec_mp4");
    let t = target(&s, "cam");
    let out = s.path("clean.mcap");
    let mp4 = s.path("cam_clean.mp4");
    let mut rec = Proc::spawn(
        &bin("cvmmap_record"),
        &[
            "--codec",
            "h265",
            "--no-nats",
            "--source",
            &t,
            "--ingest-idle-timeout-ms",
            "1500",
            "--progress",
            "off",
            "-o",
            out.to_str().unwrap(),
            "--mp4",
            s.path("{label}_clean.mp4").to_str().unwrap(),
        ],
        s.path("record.log"),
    );
    wait_count(&rec, "ingest started", 1);
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &[
            "--target", &t, "--frames", "60", "--fps", "30", "--width", "320", "--height", "240",
        ],
        s.path("sim.log"),
    );
    assert_exit(&mut sim, T, 0);
    assert_exit(&mut rec, T, 0);
    let (code, text) = tools(&["probe", mp4.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("finalised"), "{text}");
    let recorded = mcap_check(&out, None)["channels"]["/cam/video"]["messages"]
        .as_u64()
        .unwrap();
    let (frames, stream, errors) = ffmpeg_mp4(&mp4);
    assert!(stream.contains("hvc1"), "{stream}");
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(frames, recorded, "the MP4 holds what the MCAP holds");
    // The MCAP's H.265 payloads, concatenated, decode in ffmpeg 9 too.
    let units = common::stack::read_au_log(&s.path("cam_video.units"));
    let (decoded, errors) = ffmpeg_decode_units(&units, "h265", &s.0);
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(decoded, recorded);
    assert!(recorded >= 57, "{recorded} of 60");
}

#[test]
fn e2e_record_refuses_bad_command_lines_with_exit_2() {
    for (args, needle) in [
        (vec!["--codec", "h264", "-o", "/tmp/x.mcap"], "--source"),
        (
            vec!["--codec", "h264", "--source", "a", "-o", "/tmp/x.mp4"],
            "--output",
        ),
        (
            vec![
                "--codec",
                "h264",
                "--source",
                "a",
                "-o",
                "/nonexistent-dir/x.mcap",
                "--no-nats",
            ],
            "/nonexistent-dir/x.mcap",
        ),
        (
            vec![
                "--codec",
                "h264",
                "--source",
                "a",
                "--b-frames",
                "1",
                "-o",
                "/tmp/x.mcap",
            ],
            "--b-frames",
        ),
        (
            vec![
                "--codec",
                "h264",
                "--source",
                "bad name",
                "-o",
                "/tmp/x.mcap",
            ],
            "--source",
        ),
    ] {
        let o = Command::new(bin("cvmmap_record"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

/// On a terminal (a pseudo-terminal from util-linux `script`), progress is
/// one live line per camera plus a total, redrawn in place.
#[test]
fn e2e_record_progress_on_a_terminal_redraws_one_line_per_camera() {
    let s = Scratch::new("rec_tty");
    let t = target(&s, "cam");
    let out = s.path("tty.mcap");
    let cmd = format!(
        "{} --codec h264 --no-nats --source {t} --ingest-idle-timeout-ms 1500 -o {}",
        bin("cvmmap_record").display(),
        out.display()
    );
    let mut tty = Proc::spawn(
        Path::new("script"),
        &["-q", "-e", "-c", &cmd, "/dev/null"],
        s.path("tty.log"),
    );
    wait_count(&tty, "ingest started", 1);
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &[
            "--target", &t, "--frames", "45", "--fps", "30", "--width", "320", "--height", "240",
        ],
        s.path("sim.log"),
    );
    assert_exit(&mut sim, T, 0);
    assert_exit(&mut tty, T, 0);
    let screen = tty.output();
    // Erase-line before each line, cursor up over the previous drawing
    // (ECMA-48 EL and CUU), the camera's line and the total line.
    assert!(screen.contains("\x1b[2K"), "{screen:?}");
    assert!(screen.contains("\x1b[2A\r"), "{screen:?}");
    let last_cam = screen
        .lines()
        .rfind(|l| l.contains("cam ") && l.contains(" frames "))
        .expect("a camera line");
    assert!(
        last_cam.contains("fps") && last_cam.contains("MiB"),
        "{last_cam}"
    );
    assert!(screen.contains(" bundles "), "{screen:?}");
    let written: u64 = last_cam
        .split(" frames")
        .next()
        .and_then(|t| t.split_whitespace().next_back()?.parse().ok())
        .expect("a frame count");
    assert!(written >= 40, "{last_cam}");
}

/// SIGTERM finishes every file: the MCAP has its summary (probe says ok,
/// no recovery needed) and the MP4 its final `moov`. The camera is named
/// by a shm/ZeroMQ pair, the streamer's flags.
#[test]
fn e2e_record_sigterm_finishes_the_mcap_and_the_mp4() {
    let s = Scratch::new("rec_term");
    let shm = unique("term");
    let endpoint = format!("ipc://{}", s.path("term.ipc").display());
    let out = s.path("term.mcap");
    let mp4 = s.path("cam.mp4");
    let mut rec = Proc::spawn(
        &bin("cvmmap_record"),
        &[
            "--codec",
            "h264",
            "--no-nats",
            "--shm-name",
            &shm,
            "--zmq-endpoint",
            &endpoint,
            "--label",
            "cam",
            "--ingest-idle-timeout-ms",
            "0",
            "--progress",
            "lines",
            "--status-interval-s",
            "1",
            "-o",
            out.to_str().unwrap(),
            "--mp4",
            mp4.to_str().unwrap(),
        ],
        s.path("record.log"),
    );
    wait_count(&rec, "ingest started", 1);
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &[
            "--label",
            "cam",
            "--shm-name",
            &shm,
            "--zmq-endpoint",
            &endpoint,
            "--frames",
            "0",
            "--fps",
            "30",
            "--width",
            "320",
            "--height",
            "240",
        ],
        s.path("sim.log"),
    );
    // Until the recorder has reported a second of frames written.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log = rec.output();
        let written = log
            .lines()
            .filter_map(|l| {
                l.split("written=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .unwrap_or(0);
        if written >= 30 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    rec.signal(15);
    assert_exit(&mut rec, T, 0);
    sim.signal(15);
    sim.wait(Duration::from_secs(10));

    let (code, text) = tools(&["probe", "--deep", out.to_str().unwrap()]);
    assert_eq!(code, 0, "a finished file: {text}");
    assert!(text.contains("ok"), "{text}");
    let r = mcap_check(&out, None);
    let n = r["channels"]["/cam/video"]["messages"].as_u64().unwrap();
    assert_eq!(
        r["statistics"]["message_count"].as_u64(),
        Some(n),
        "the summary is written"
    );
    let (code, text) = tools(&["probe", mp4.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("finalised"), "{text}");
    let (frames, _, errors) = ffmpeg_mp4(&mp4);
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(frames, n, "the MP4 holds what the MCAP holds");
}
