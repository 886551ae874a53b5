//! `cvmmap_record` with producers that publish a DEPTH plane, one in metres
//! (with a CONFIDENCE plane) and one in millimetres, read back by Python's
//! `mcap` readers (scripts/mcap_check.py): `--depth-format f32` keeps the
//! producer's floats bit for bit, and the default `16UC1` equals the
//! documented rounding (round half away from zero; 0 for NaN, infinities
//! and anything outside 1..=65535 mm) pixel for pixel. The expected pixels
//! come from the simulator's own pattern (`depth_pattern`), which includes
//! NaN, infinities, negatives, ties and out-of-range values in row 0.

mod common;

use std::path::Path;
use std::time::Duration;

use common::record::{mcap_check, wait_count};
use common::{Proc, Scratch, assert_exit, bin, unique};
use cvmmap_testers::sim::depth_pattern::{DepthUnit, confidence_value, depth_value};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);
const W: u32 = 320;
const H: u32 = 240;
const FRAMES: u64 = 20;

/// One image from mcap_check's dump.
struct Image {
    width: u32,
    height: u32,
    step: u32,
    data: Vec<u8>,
}

fn read_images(path: &Path) -> Vec<Image> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut out, mut at) = (Vec::new(), 0);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    while at < bytes.len() {
        let (width, height, step, len) = (
            u32_at(&bytes, at),
            u32_at(&bytes, at + 4),
            u32_at(&bytes, at + 8),
            u32_at(&bytes, at + 12) as usize,
        );
        at += 24;
        out.push(Image {
            width,
            height,
            step,
            data: bytes[at..at + len].to_vec(),
        });
        at += len;
    }
    out
}

/// The documented 16UC1 rule, written here again from the docs (not the
/// recorder's code): millimetres in f64, rounded half away from zero, 0
/// unless the result is in 1..=65535.
fn documented_mm16(v: f32, unit: DepthUnit) -> u16 {
    let mm = match unit {
        DepthUnit::Millimetre => f64::from(v),
        DepthUnit::Metre => f64::from(v) * 1000.0,
    };
    if !mm.is_finite() {
        return 0;
    }
    let r = mm.round();
    if (1.0..=65535.0).contains(&r) {
        r as u16
    } else {
        0
    }
}

fn f32_px(img: &Image, x: u32, y: u32) -> f32 {
    let i = (y * img.step + x * 4) as usize;
    f32::from_le_bytes(img.data[i..i + 4].try_into().unwrap())
}

fn u16_px(img: &Image, x: u32, y: u32) -> u16 {
    let i = (y * img.step + x * 2) as usize;
    u16::from_le_bytes(img.data[i..i + 2].try_into().unwrap())
}

/// The pattern's moving part (frame % 60) from pixel (0, 1), which is
/// `500 + 2000 / H + 10 * (frame % 60)` mm there.
fn depth_phase(mm_at_0_1: f64) -> u64 {
    let base = 500.0 + f64::from(2000 / H);
    ((mm_at_0_1 - base) / 10.0).round() as u64
}

/// Records the two producers with `args`; returns the scratch and report.
fn record(tag: &str, args: &[&str]) -> (Scratch, Value, Value) {
    let s = Scratch::new(tag);
    let ns = unique("depth").replace('_', "-");
    let out = s.path("depth.mcap");
    let summary = s.path("summary.json");
    let targets: Vec<String> = ["m", "mm"]
        .iter()
        .map(|l| format!("cvmmap://{l}@{}?namespace={ns}", s.0.display()))
        .collect();
    let mut all = vec![
        "--codec",
        "h264",
        "--no-nats",
        "--ingest-idle-timeout-ms",
        "1500",
        "--progress",
        "off",
        "--bundle-policy",
        "copy",
        "--copy-range",
        "full",
        "-o",
        out.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--source",
        &targets[0],
        "--source",
        &targets[1],
    ];
    all.extend_from_slice(args);
    let mut rec = Proc::spawn(&bin("cvmmap_record"), &all, s.path("record.log"));
    wait_count(&rec, "ingest started", 2);
    let (w, h, frames) = (W.to_string(), H.to_string(), FRAMES.to_string());
    let common = [
        "--width", &w, "--height", &h, "--frames", &frames, "--fps", "30",
    ];
    let mut sims = Vec::new();
    for (i, extra) in [
        &["--depth-unit", "m", "--confidence"][..],
        &["--depth-unit", "mm"][..],
    ]
    .iter()
    .enumerate()
    {
        let mut a = vec!["--target", targets[i].as_str()];
        a.extend_from_slice(&common);
        a.extend_from_slice(extra);
        sims.push(Proc::spawn(
            &bin("cvmmap_sim"),
            &a,
            s.path(&format!("sim{i}.log")),
        ));
    }
    for mut p in sims {
        assert_exit(&mut p, T, 0);
    }
    assert_exit(&mut rec, T, 0);
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let report = mcap_check(&out, None);
    (s, summary, report)
}

/// Every camera has about as many depth images as video frames (the
/// planes travel beside the video; none is lost on loopback here), and
/// the summary counts what the file holds.
fn check_counts(summary: &Value, report: &Value) {
    for (i, label) in ["m", "mm"].iter().enumerate() {
        let video = report["channels"][format!("/{label}/video")]["messages"]
            .as_u64()
            .unwrap();
        let depth = &report["channels"][format!("/{label}/depth")];
        assert_eq!(depth["schema"], "foxglove.RawImage", "{report}");
        let n = depth["messages"].as_u64().unwrap();
        assert!(
            n * 10 >= video * 9 && n >= FRAMES / 2,
            "{label}: {n} depth, {video} video"
        );
        assert_eq!(depth["publish_time_is_timestamp"].as_u64(), Some(n));
        assert_eq!(depth["log_time_strictly_rising"], true);
        let images = n + report["channels"][format!("/{label}/confidence")]["messages"]
            .as_u64()
            .unwrap_or(0);
        assert_eq!(summary["cameras"][i]["aux_written"].as_u64(), Some(images));
        // What the writer's full queue dropped is counted (0 on a quiet host).
        assert!(summary["cameras"][i]["side_dropped"].is_u64(), "{summary}");
    }
    assert!(report["channels"].get("/mm/confidence").is_none());
}

#[test]
fn e2e_record_depth_f32_round_trips_the_floats_exactly() {
    let (s, summary, report) = record("depth_f32", &["--depth-format", "f32"]);
    check_counts(&summary, &report);
    for (label, unit, name) in [
        ("m", DepthUnit::Metre, "metre"),
        ("mm", DepthUnit::Millimetre, "millimetre"),
    ] {
        let ch = &report["channels"][format!("/{label}/depth")];
        assert_eq!(ch["formats"], serde_json::json!(["32FC1"]));
        assert_eq!(ch["metadata"]["unit"], name, "{ch}");
        let images = read_images(&s.path(&format!("{label}_depth.images")));
        for img in &images {
            assert_eq!((img.width, img.height, img.step), (W, H, W * 4));
            let at = f64::from(f32_px(img, 0, 1));
            let k = depth_phase(if unit == DepthUnit::Metre {
                at * 1000.0
            } else {
                at
            });
            for y in 0..H {
                for x in 0..W {
                    let want = depth_value(x, y, k, W, H, unit);
                    let got = f32_px(img, x, y);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{label} ({x},{y}) phase {k}: {got} != {want}"
                    );
                }
            }
        }
    }
    // Confidence: 32FC1, the producer's values.
    let ch = &report["channels"]["/m/confidence"];
    assert_eq!(ch["formats"], serde_json::json!(["32FC1"]));
    let images = read_images(&s.path("m_confidence.images"));
    assert!(images.len() as u64 >= FRAMES / 2);
    for img in &images {
        let phase = f32_px(img, 0, 0) as u64;
        for y in 0..H {
            for x in 0..W {
                assert_eq!(
                    f32_px(img, x, y),
                    confidence_value(x, y, phase, W, H),
                    "({x},{y})"
                );
            }
        }
    }
}

#[test]
fn e2e_record_depth_16uc1_matches_the_documented_rounding_pixel_for_pixel() {
    let (s, summary, report) = record("depth_mm16", &[]);
    check_counts(&summary, &report);
    let mut specials = 0;
    for (label, unit) in [("m", DepthUnit::Metre), ("mm", DepthUnit::Millimetre)] {
        let ch = &report["channels"][format!("/{label}/depth")];
        assert_eq!(ch["formats"], serde_json::json!(["16UC1"]));
        assert_eq!(ch["metadata"]["unit"], "millimetre", "{ch}");
        let images = read_images(&s.path(&format!("{label}_depth.images")));
        for img in &images {
            assert_eq!((img.width, img.height, img.step), (W, H, W * 2));
            let k = depth_phase(f64::from(u16_px(img, 0, 1)));
            for y in 0..H {
                for x in 0..W {
                    let want = documented_mm16(depth_value(x, y, k, W, H, unit), unit);
                    assert_eq!(u16_px(img, x, y), want, "{label} ({x},{y}) phase {k}");
                }
            }
            // Row 0's special values: NaN, infinities, negatives, below
            // 0.5 mm and past 65535 mm are all 0.
            specials += (0..16).filter(|&x| u16_px(img, x, 0) == 0).count();
        }
    }
    assert!(specials > 0, "the special values were seen");
}
