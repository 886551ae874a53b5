//! `cvmmap_record` with a rig of three live simulated cameras at 30, 30 and
//! 15 fps, started 0.5 s apart (and ending at different times), read back
//! with Python's `mcap` readers (scripts/mcap_check.py), code we did not
//! write: the bundle policies (`nearest`, `strict`, `copy --copy-range
//! common`) against the recorded timelines.

mod common;

use std::time::Duration;

use common::record::mcap_check;
use common::{Proc, Scratch, assert_exit, bin, unique};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

/// (label, fps, frames, start offset): a 4 s, b 3 s from +0.5 s, c (the
/// slowest) 2 s from +1 s. The overlap is c's: [+1 s, +3 s].
const RIG: [(&str, &str, &str, u64); 3] = [
    ("a", "30", "120", 0),
    ("b", "30", "90", 500),
    ("c", "15", "30", 1000),
];

struct Rig {
    s: Scratch,
    summary: Value,
    report: Value,
}

fn target(s: &Scratch, ns: &str, label: &str) -> String {
    format!("cvmmap://{label}@{}?namespace={ns}", s.0.display())
}

/// Records the rig with `args`; returns the summary and the reader's report.
fn record(tag: &str, args: &[&str]) -> Rig {
    let s = Scratch::new(tag);
    // Contract §1: a namespace is [A-Za-z0-9][A-Za-z0-9._-]*.
    let ns = unique("rig").replace('_', "-");
    let out = s.path("rig.mcap");
    let summary = s.path("summary.json");
    let targets: Vec<String> = RIG.iter().map(|r| target(&s, &ns, r.0)).collect();
    let mut all: Vec<&str> = vec![
        "--codec",
        "h264",
        "--no-nats",
        "--ingest-idle-timeout-ms",
        "2000",
        "--progress",
        "lines",
        "-o",
        out.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    for t in &targets {
        all.extend(["--source", t.as_str()]);
    }
    all.extend_from_slice(args);
    let mut rec = Proc::spawn(&bin("cvmmap_record"), &all, s.path("record.log"));
    // Every camera's ingest is listening before the first producer starts.
    common::record::wait_count(&rec, "ingest started", RIG.len());
    // One simulator process, the whole rig: each camera its own producer
    // at its own rate, starting at its offset (the scenario).
    let specs: Vec<String> = RIG
        .iter()
        .map(|(label, fps, frames, offset)| format!("{label}:{fps}:{offset}:{frames}"))
        .collect();
    let sim_json = s.path("sim.json");
    let prefix = s.0.display().to_string();
    let mut sim_args = vec![
        "--rig-prefix",
        prefix.as_str(),
        "--rig-namespace",
        ns.as_str(),
        "--width",
        "320",
        "--height",
        "240",
        "--json",
        sim_json.to_str().unwrap(),
    ];
    for spec in &specs {
        sim_args.extend(["--camera", spec.as_str()]);
    }
    let mut sim = Proc::spawn(&bin("cvmmap_sim"), &sim_args, s.path("sim.log"));
    assert_exit(&mut sim, T, 0);
    let published: Value = serde_json::from_slice(&std::fs::read(&sim_json).unwrap()).unwrap();
    for (i, (label, _, frames, _)) in RIG.iter().enumerate() {
        let cam = &published["cameras"][i];
        assert_eq!(cam["label"], *label, "{published}");
        assert_eq!(cam["frames_published"].to_string(), *frames, "{published}");
    }
    assert_exit(&mut rec, T, 0);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).expect("summary is JSON");
    let report = mcap_check(&out, None);
    Rig { s, summary, report }
}

fn log_times(report: &Value, topic: &str) -> Vec<u64> {
    report["channels"][topic]["log_times"]
        .as_array()
        .unwrap_or_else(|| panic!("no channel {topic}: {report}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// Checks what every policy shares: three decodable video channels in the
/// overlap, each starting at a keyframe.
fn check_video(rig: &Rig) {
    let r = &rig.report;
    let common = rig.summary["common_start_ns"]
        .as_u64()
        .expect("a common start");
    let c_last = *log_times(r, "/c/video").last().unwrap();
    for (label, ..) in RIG {
        let topic = format!("/{label}/video");
        let ch = &r["channels"][&topic];
        assert_eq!(ch["schema"], "foxglove.CompressedVideo", "{topic}");
        assert_eq!(ch["log_time_strictly_rising"], true, "{topic}");
        assert_eq!(ch["first_is_keyframe"], true, "{topic}");
        assert_eq!(ch["keyframes_without_parameter_sets"], 0, "{topic}");
        let times = log_times(r, &topic);
        assert!(times.len() >= 20, "{topic}: {} messages", times.len());
        assert!(times[0] >= common, "{topic} starts before the common start");
        // c ends first: nothing of the others after its last frame.
        assert!(
            *times.last().unwrap() <= c_last,
            "{topic} runs past the overlap"
        );
    }
    // a started 1 s and b 0.5 s before c: both trimmed at the start; both
    // ran past c's end: trimmed there too.
    let cams = rig.summary["cameras"].as_array().unwrap();
    for (i, min_before) in [(0, 20), (1, 8)] {
        let t = &cams[i]["trimmed"];
        assert!(
            t["before_start"].as_u64().unwrap() >= min_before,
            "{}",
            rig.summary
        );
        assert!(t["after_end"].as_u64().unwrap() >= 5, "{}", rig.summary);
        // The keyframe asked at the common start passes the limiter: only
        // the frames already in the encoder wait for it (half a GOP, 15
        // frames, without it).
        assert!(
            t["waiting_keyframe"].as_u64().unwrap() <= 5,
            "{}",
            rig.summary
        );
    }
    assert_eq!(rig.summary["finished"], true);
}

/// The bundles, and c's frames that bundles can take (from the latest
/// first message of the three channels on).
fn bundles_and_window(rig: &Rig) -> (Vec<Value>, usize) {
    let r = &rig.report;
    let start = RIG
        .iter()
        .map(|(l, ..)| log_times(r, &format!("/{l}/video"))[0])
        .max()
        .unwrap();
    let c_in_window = log_times(r, "/c/video")
        .iter()
        .filter(|&&t| t >= start)
        .count();
    let bundles = r["channels"]["/bundle"]["json"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (bundles, c_in_window)
}

/// Each member names a real message: its sequence and log time are a
/// message of its topic.
fn check_members(rig: &Rig, bundle: &Value) {
    let members = bundle["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{bundle}");
    for (m, (label, ..)) in members.iter().zip(RIG) {
        let topic = format!("/{label}/video");
        assert_eq!(m["topic"], topic.as_str());
        let ch = &rig.report["channels"][&topic];
        let seqs = ch["sequences"].as_array().unwrap();
        let i = seqs
            .iter()
            .position(|s| s == &m["sequence"])
            .unwrap_or_else(|| panic!("{bundle}: no message {} on {topic}", m["sequence"]));
        assert_eq!(ch["log_times"][i], m["log_time_ns"], "{bundle}");
    }
}

#[test]
fn e2e_record_rig_nearest_bundles_follow_the_slowest_camera() {
    let rig = record("rig_nearest", &[]);
    check_video(&rig);
    let (bundles, c_frames) = bundles_and_window(&rig);
    assert_eq!(rig.summary["policy"]["policy"], "nearest");
    assert!(c_frames >= 20, "c gave {c_frames} frames in the window");
    assert_eq!(
        bundles.len(),
        c_frames,
        "one bundle per frame of the slowest camera"
    );
    assert_eq!(
        rig.summary["bundles"]["bundles"].as_u64(),
        Some(c_frames as u64)
    );
    for (i, b) in bundles.iter().enumerate() {
        assert_eq!(b["bundle_index"].as_u64(), Some(i as u64));
        check_members(&rig, b);
        // The reference is c: its member is the bundle's own time, and the
        // others are at most half a 30 fps interval (plus jitter) away.
        assert_eq!(b["members"][2]["delta_ns"], 0, "{b}");
        for m in b["members"].as_array().unwrap() {
            assert!(m["delta_ns"].as_i64().unwrap().abs() < 40_000_000, "{b}");
        }
    }
    // Each camera's payloads, concatenated, decode in ffmpeg 9.
    for (label, ..) in RIG {
        let units = common::stack::read_au_log(&rig.s.path(&format!("{label}_video.units")));
        let (frames, errors) = common::record::ffmpeg_decode_units(&units, "h264", &rig.s.0);
        assert!(errors.is_empty(), "{label}: {errors}");
        assert!(
            frames * 100 >= units.len() as u64 * 95,
            "{label}: {frames} of {}",
            units.len()
        );
    }
    let bundle_times = log_times(&rig.report, "/bundle");
    assert!(bundle_times.windows(2).all(|w| w[0] < w[1]));
    drop(rig.s);
}

#[test]
fn e2e_record_rig_strict_drops_and_counts_incomplete_bundles() {
    // 1 µs: smaller than any real offset between two cameras' frames.
    let rig = record(
        "rig_strict",
        &["--bundle-policy", "strict", "--sync-tolerance-ms", "0.001"],
    );
    check_video(&rig);
    let (bundles, c_frames) = bundles_and_window(&rig);
    let stats = &rig.summary["bundles"];
    let (written, dropped) = (
        stats["bundles"].as_u64().unwrap(),
        stats["dropped_incomplete"].as_u64().unwrap(),
    );
    assert_eq!(written as usize, bundles.len());
    assert_eq!(written + dropped, c_frames as u64, "{stats}");
    assert!(
        dropped * 10 >= c_frames as u64 * 9,
        "most are dropped: {stats}"
    );
    for b in &bundles {
        check_members(&rig, b);
        for m in b["members"].as_array().unwrap() {
            assert!(m["delta_ns"].as_i64().unwrap().abs() <= 1_000, "{b}");
        }
    }
}

#[test]
fn e2e_record_rig_copy_common_trims_to_the_overlap() {
    let rig = record(
        "rig_copy",
        &["--bundle-policy", "copy", "--copy-range", "common"],
    );
    check_video(&rig);
    assert!(
        rig.report["channels"].get("/bundle").is_none(),
        "copy writes no /bundle"
    );
    // Each camera keeps its own cadence: median steps of 1/30 s and 1/15 s.
    for (label, step_ms) in [("a", 33.3), ("b", 33.3), ("c", 66.7)] {
        let times = log_times(&rig.report, &format!("/{label}/video"));
        let mut steps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        steps.sort_unstable();
        let median = steps[steps.len() / 2] as f64 / 1e6;
        assert!(
            (median - step_ms).abs() < 5.0,
            "{label}: median step {median} ms"
        );
    }
}
