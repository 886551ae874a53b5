//! `cvmmap_streamer --record`: the recording holds the very access units the
//! streamer publishes, and readers we did not write read it: Python's `mcap`
//! with `mcap-protobuf-support` (scripts/mcap_check.py) for the layout, the
//! static ffmpeg 9 for the video.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::decoder::nal_units;
use common::record::{mcap_check, tools};
use common::stack::{T, names, read_au_log, ready_streamer, receiver, rx_report, sim, summary};
use common::{Proc, Scratch, assert_exit, bin, free_udp_port, modern_ffmpeg};

const FRAMES: u64 = 90;
const W: u32 = 320;
const H: u32 = 240;

/// Decodes an Annex-B elementary stream with ffmpeg 9; (frames, errors).
fn ffmpeg_decode(s: &Scratch, es: &Path, codec: &str) -> (u64, String) {
    let yuv = s.path("decoded.yuv");
    let out = Command::new(modern_ffmpeg())
        .args([
            "-v",
            "error",
            "-f",
            if codec == "h264" { "h264" } else { "hevc" },
            "-i",
        ])
        .arg(es)
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-y"])
        .arg(&yuv)
        .output()
        .expect("ffmpeg runs");
    let frame = u64::from(W) * u64::from(H) * 3 / 2;
    let len = std::fs::metadata(&yuv).map(|m| m.len()).unwrap_or(0);
    (
        len / frame,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Streams and records `FRAMES` frames; checks the file against the RTP
/// receiver's units and with the foreign readers.
fn records_what_it_streams(codec: &str) {
    let s = Scratch::new("e2e_record");
    let n = names("rec");
    let port = free_udp_port();
    let rx_units = s.path("rx.units");
    let mut rx = receiver(
        &s,
        port,
        codec,
        FRAMES - 2,
        &[
            "--linger-ms",
            "1500",
            "--dump-units",
            rx_units.to_str().unwrap(),
        ],
    );
    let mcap = s.path("out.mcap");
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        codec,
        &[
            "--record",
            mcap.to_str().unwrap(),
            "--record-label",
            "cam0",
            "--ingest-max-frames",
            &FRAMES.to_string(),
            "--ingest-idle-timeout-ms",
            "3000",
        ],
    );
    let (w, h) = (W.to_string(), H.to_string());
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames",
            &FRAMES.to_string(),
            "--fps",
            "30",
            "--width",
            &w,
            "--height",
            &h,
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);

    let stats = summary(&s);
    let written = stats["stats"]["record_units_written"].as_u64().unwrap();
    let encoded = stats["stats"]["access_units"].as_u64().unwrap();
    assert_eq!(written, encoded, "every unit recorded: {stats}");
    assert_eq!(stats["stats"]["record_units_dropped"], 0);

    let report = mcap_check(&mcap, Some(&s.0));
    let ch = &report["channels"]["/cam0/video"];
    assert_eq!(ch["schema"], "foxglove.CompressedVideo", "{report}");
    assert_eq!(ch["schema_encoding"], "protobuf");
    assert_eq!(ch["message_encoding"], "protobuf");
    assert_eq!(ch["metadata"]["format"], codec);
    assert_eq!(ch["formats"], serde_json::json!([codec]));
    assert_eq!(ch["frame_ids"], serde_json::json!(["cam0"]));
    assert_eq!(ch["messages"].as_u64(), Some(written), "{report}");
    assert_eq!(ch["log_time_strictly_rising"], true);
    assert_eq!(ch["publish_time_is_timestamp"].as_u64(), Some(written));
    assert!(ch["keyframes"].as_u64().unwrap() >= FRAMES / 30, "{report}");
    assert_eq!(ch["keyframes_without_parameter_sets"], 0, "{report}");
    // A clean stop leaves the summary: statistics agree.
    assert_eq!(
        report["statistics"]["message_count"].as_u64(),
        Some(written)
    );
    assert_eq!(report["statistics"]["channel_count"], 1);

    // The recorded units are the units RTP carried, unit for unit (as NAL
    // units: RTP carries no start codes, so their length is the
    // receiver's choice).
    let recorded = read_au_log(&s.path("cam0_video.units"));
    let received = read_au_log(&rx_units);
    assert_eq!(recorded.len() as u64, written);
    assert!(
        received.len() as u64 >= FRAMES - 2,
        "receiver got {} units",
        received.len()
    );
    assert_eq!(
        recorded.len(),
        received.len(),
        "loopback loses nothing here"
    );
    for (i, (a, b)) in recorded.iter().zip(&received).enumerate() {
        assert_eq!(nal_units(a), nal_units(b), "unit {i} differs");
    }

    // ffmpeg 9 decodes the channel's payloads, concatenated.
    let es = s.path("video.es");
    std::fs::write(&es, recorded.concat()).unwrap();
    let (frames, errors) = ffmpeg_decode(&s, &es, codec);
    assert!(errors.trim().is_empty(), "decoder errors: {errors}");
    assert!(
        frames * 100 >= written * 95,
        "ffmpeg decoded {frames} of {written}"
    );
}

#[test]
fn e2e_record_h264_units_are_the_streamed_units() {
    records_what_it_streams("h264");
}

#[test]
fn e2e_record_h265_units_are_the_streamed_units() {
    records_what_it_streams("h265");
}

#[test]
fn e2e_record_refuses_what_it_cannot_write() {
    let s = Scratch::new("e2e_record_bad");
    for (args, needle) in [
        (vec!["--record", "/tmp/x.avi"], "--record"),
        (
            vec!["--record", "/nonexistent-dir/x.mcap"],
            "/nonexistent-dir/x.mcap",
        ),
        (
            vec!["--record", "/tmp/x.mcap", "--b-frames", "2"],
            "B-frames",
        ),
        (
            vec!["--record", "/tmp/x.mcap", "--record-label", "a/b"],
            "--record-label",
        ),
    ] {
        let mut all = vec![
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "5",
            "--no-nats",
        ];
        all.extend(args.iter().copied());
        let out = Command::new(bin("cvmmap_streamer"))
            .args(&all)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
    }
    drop(s);
}

/// SIGKILL 5 s into a recording: `probe` calls the file broken, `recover`
/// rebuilds it with losses (exit 2), and the recovered file holds at least
/// 90% of the units RTP carried before the kill (the same units, counted by
/// a process the kill does not touch); foreign readers read it whole.
#[test]
fn e2e_record_killed_streamer_leaves_a_recoverable_file() {
    let s = Scratch::new("e2e_record_kill");
    let port = free_udp_port();
    let mut rx = receiver(&s, port, "h264", 1, &["--linger-ms", "1500"]);
    let (mcap, events) = (s.path("killed.mcap"), s.path("events.jsonl"));
    let endpoint = format!("127.0.0.1:{port}");
    let mut st = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-width",
            &W.to_string(),
            "--dummy-height",
            &H.to_string(),
            "--no-nats",
            "--rtp",
            "--rtp-endpoint",
            &endpoint,
            "--events",
            events.to_str().unwrap(),
            "--record",
            mcap.to_str().unwrap(),
        ],
        s.path("streamer.log"),
    );
    assert!(
        common::wait_for_event(&events, "ingest_started", Duration::from_secs(20)),
        "{}",
        st.output()
    );
    // The scenario: five seconds of recording, then SIGKILL.
    std::thread::sleep(Duration::from_secs(5));
    st.signal(9);
    st.wait(Duration::from_secs(10));
    assert_exit(&mut rx, T, 0);
    let sent = rx_report(&s)["access_units_complete"].as_u64().unwrap();
    assert!(sent >= 100, "RTP carried {sent} units in 5 s");

    let (code, out) = tools(&["probe", mcap.to_str().unwrap()]);
    assert_eq!(code, 1, "a killed file is broken: {out}");
    assert!(out.contains("broken"), "{out}");

    let fixed = s.path("recovered.mcap");
    let (code, out) = tools(&["recover", mcap.to_str().unwrap(), fixed.to_str().unwrap()]);
    assert_eq!(code, 2, "recovered with losses: {out}");
    let (code, probed) = tools(&["probe", "--deep", fixed.to_str().unwrap()]);
    assert_eq!(code, 0, "{probed}");

    let report = mcap_check(&fixed, Some(&s.0));
    let ch = &report["channels"]["/dummy/video"];
    let got = ch["messages"].as_u64().unwrap();
    assert!(
        got * 10 >= sent * 9,
        "recovered {got} of the {sent} units sent before the kill: {out}"
    );
    assert_eq!(ch["log_time_strictly_rising"], true);
    assert_eq!(ch["keyframes_without_parameter_sets"], 0);
    assert_eq!(report["statistics"]["message_count"].as_u64(), Some(got));

    // A whole file recovers as whole (exit 0) with every message.
    let again = s.path("again.mcap");
    let (code, out) = tools(&["recover", fixed.to_str().unwrap(), again.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{got} messages")), "{out}");
}

#[test]
fn e2e_tools_probe_and_recover_refuse_what_is_not_a_recording() {
    let s = Scratch::new("e2e_tools_bad");
    let junk = s.path("junk.mcap");
    std::fs::write(&junk, b"not a recording at all").unwrap();
    let empty = s.path("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let (code, out) = tools(&["probe", junk.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("broken").count(), 2, "{out}");
    let (code, out) = tools(&[
        "recover",
        junk.to_str().unwrap(),
        s.path("o.mcap").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not MCAP"), "{out}");
    let (code, _) = tools(&["recover", "/nonexistent.mcap", "/tmp/x.mcap"]);
    assert_eq!(code, 1);
}

/// `--record out.mp4`: the streamer's units into an ordinary MP4 at a
/// clean stop (`moov`, `avc1`), every frame decodable by ffmpeg 9.
#[test]
fn e2e_record_streamer_mp4_is_finalised_and_decodes() {
    let s = Scratch::new("e2e_record_mp4");
    let mp4 = s.path("out.mp4");
    let summary_path = s.path("summary.json");
    let out = Command::new(bin("cvmmap_streamer"))
        .args([
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "60",
            "--dummy-width",
            &W.to_string(),
            "--dummy-height",
            &H.to_string(),
            "--no-nats",
            "--record",
            mp4.to_str().unwrap(),
            "--summary-json",
            summary_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(stats["stats"]["record_units_written"], 60, "{stats}");
    let (code, text) = tools(&["probe", mp4.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("finalised"), "{text}");
    let o = Command::new(modern_ffmpeg())
        .arg("-i")
        .arg(&mp4)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("avc1"), "{log}");
    assert!(
        log.contains("frame=   60") || log.contains("frame=60"),
        "{log}"
    );
}
