//! `cvmmap_tools export-mp4`, `grid` and `inspect` on real recordings made
//! by `cvmmap_record` from a live simulated rig, judged by readers we did
//! not write: ffprobe (the MP4's samples, sizes), ffmpeg 9 (decoding,
//! pictures), Python's `mcap` (the recorded units, scripts/mcap_check.py).

mod common;

use common::Scratch;
use common::decoder::nal_units;
use common::record::{
    ffmpeg_mp4, ffmpeg_rgb_frame, mcap_check, mp4_samples, read_units, record_rig, tools,
};
use serde_json::Value;

fn json_line(out: &str) -> Value {
    out.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("no JSON line in: {out}"))
}

/// The remuxed MP4's samples are the recorded access units, NAL unit for
/// NAL unit (only the framing differs: start codes in the MCAP, 4-byte
/// lengths in the MP4), for both codecs (H.265 as `hvc1`); both decode.
/// Re-encoding to the other codec works, within a frame range.
#[test]
fn export_mp4_remux_is_bit_exact_and_reencode_works_for_both_codecs() {
    for (codec, other, tag) in [("h264", "h265", "hvc1"), ("h265", "h264", "avc1")] {
        let s = Scratch::new(&format!("export_{codec}"));
        let mcap = record_rig(&s.0, "rec.mcap", &["cam"], codec, 45);
        let (code, out) = tools(&[
            "export-mp4",
            mcap.to_str().unwrap(),
            "--camera-label",
            "cam",
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
        let got = json_line(&out);
        let mp4 = s.path("rec_cam.mp4");
        assert_eq!(
            got["output"],
            mp4.to_str().unwrap(),
            "default name beside the input"
        );
        assert_eq!(got["mode"], "remux");

        let dump = s.path("dump");
        std::fs::create_dir_all(&dump).unwrap();
        mcap_check(&mcap, Some(&dump));
        let units = read_units(&dump.join("cam_video.units"));
        let samples = mp4_samples(&mp4);
        assert!(units.len() >= 30, "{} units recorded", units.len());
        assert_eq!(samples.len(), units.len(), "one sample per recorded unit");
        for (i, (sample, unit)) in samples.iter().zip(&units).enumerate() {
            let want: Vec<Vec<u8>> = nal_units(unit);
            assert_eq!(
                sample, &want,
                "{codec}: sample {i} differs from the recorded unit"
            );
        }
        let (frames, stream, errors) = ffmpeg_mp4(&mp4);
        assert_eq!(frames, units.len() as u64, "{stream} {errors}");
        assert!(errors.is_empty(), "{errors}");
        if codec == "h265" {
            assert!(stream.contains("hvc1"), "{stream}");
        }

        // Re-encoded to the other codec, frames 10..=30 only.
        let re = s.path("re.mp4");
        let (code, out) = tools(&[
            "export-mp4",
            mcap.to_str().unwrap(),
            "--camera-label",
            "cam",
            "-o",
            re.to_str().unwrap(),
            "--codec",
            other,
            "--encoder-device",
            "software",
            "--start-frame",
            "10",
            "--end-frame",
            "30",
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
        let got = json_line(&out);
        assert_eq!(got["frames"], 21, "{got}");
        assert_eq!(got["encoder"]["backend"], "software", "{got}");
        let (frames, stream, errors) = ffmpeg_mp4(&re);
        assert_eq!(frames, 21, "{stream} {errors}");
        assert!(errors.is_empty(), "{errors}");
        assert!(stream.contains(tag), "{other} as {tag}: {stream}");
    }
}

/// Mean absolute difference of two RGB regions.
fn region_diff(a: &[u8], b: &[u8], w: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            for c in 0..3 {
                let i = ((y * w + x) * 3 + c) as usize;
                sum += u64::from(a[i].abs_diff(b[i]));
                n += 1;
            }
        }
    }
    sum as f64 / n as f64
}

fn distinct(px: &[u8], w: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> usize {
    let mut set = std::collections::HashSet::new();
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * w + x) * 3) as usize;
            set.insert((px[i], px[i + 1], px[i + 2]));
        }
    }
    set.len()
}

/// Four cameras: the grid is the 2x2 composite of half-size tiles, ffprobe
/// and ffmpeg read it, and the overlay is drawn (the timestamp region is
/// not uniform and differs from a grid made without it, while a region far
/// from it does not). `inspect` sums the file up and previews a frame.
#[test]
fn grid_inspect_and_preview_of_a_four_camera_recording() {
    let s = Scratch::new("grid");
    let seg = s.path("seg7");
    std::fs::create_dir_all(&seg).unwrap();
    let labels = ["zed1", "zed2", "zed3", "zed4"];
    let mcap = record_rig(&seg, "rig.mcap", &labels, "h264", 60);

    let (code, out) = tools(&["grid", mcap.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    let got = json_line(&out);
    let grid = seg.join("seg7_grid.mp4");
    assert_eq!(
        got["output"],
        grid.to_str().unwrap(),
        "<segment>/<segment>_grid.mp4"
    );
    assert_eq!(
        (got["width"].as_u64(), got["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(got["tiles"], serde_json::json!(labels));
    let (frames, stream, errors) = ffmpeg_mp4(&grid);
    assert!(frames >= 30, "{frames} frames: {stream} {errors}");
    assert!(
        stream.contains("hevc") && stream.contains("320x240"),
        "{stream}"
    );
    assert!(errors.is_empty(), "{errors}");

    let plain = s.path("plain.mp4");
    let (code, out) = tools(&[
        "grid",
        mcap.to_str().unwrap(),
        "--no-timestamp",
        "-o",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (w, h, with) = ffmpeg_rgb_frame(&grid, 0.5);
    let (_, _, without) = ffmpeg_rgb_frame(&plain, 0.5);
    assert_eq!((w, h), (320, 240));
    let text = (0, 0, 150, 12);
    let far = (200, 150, 320, 240);
    assert!(
        distinct(&with, w, text) > 8,
        "the timestamp region is uniform"
    );
    let (d_text, d_far) = (
        region_diff(&with, &without, w, text),
        region_diff(&with, &without, w, far),
    );
    assert!(
        d_text > 10.0 && d_far < d_text / 4.0,
        "overlay {d_text:.1}, elsewhere {d_far:.1}"
    );

    // MP4 inputs (row-major, each its own file, started together) and a
    // duration: every camera exported (remux, default names), then tiled.
    let (code, out) = tools(&["export-mp4", mcap.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let mp4s: Vec<String> = labels
        .iter()
        .map(|l| seg.join(format!("rig_{l}.mp4")).display().to_string())
        .collect();
    let from_mp4 = s.path("from_mp4.mp4");
    let mut args = vec![
        "grid",
        "--duration-seconds",
        "1",
        "--codec",
        "h264",
        "-o",
        from_mp4.to_str().unwrap(),
        "--json",
    ];
    for m in &mp4s {
        args.extend(["--input", m.as_str()]);
    }
    let (code, out) = tools(&args);
    assert_eq!(code, 0, "{out}");
    let got = json_line(&out);
    assert_eq!(
        (got["width"].as_u64(), got["height"].as_u64()),
        (Some(320), Some(240)),
        "{got}"
    );
    let (frames, stream, errors) = ffmpeg_mp4(&from_mp4);
    assert!(
        (29..=32).contains(&frames),
        "1 s at 30 fps: {frames} frames: {stream} {errors}"
    );
    assert!(errors.is_empty(), "{errors}");

    // The summary, as text.
    let (code, out) = tools(&["inspect", mcap.to_str().unwrap(), "--summary-only"]);
    assert_eq!(code, 0, "{out}");
    for l in labels {
        assert!(out.contains(&format!("{l}: h264 320x240")), "{out}");
        assert!(
            out.contains(&format!("/{l}/depth [foxglove.RawImage")),
            "{out}"
        );
    }
    assert!(out.contains("depth 16UC1 (millimetre)"), "{out}");
    assert!(
        out.contains("bundle policy: {\"policy\":\"nearest\""),
        "{out}"
    );
    assert!(out.contains("/bundle [cvmmap.Bundle"), "{out}");
    let (code, out) = tools(&[
        "inspect",
        mcap.to_str().unwrap(),
        "--summary-only",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let summary = json_line(&out);
    assert!(
        summary["cameras"][0]["frames"].as_u64().unwrap() >= 40,
        "{summary}"
    );
    assert!(summary["duration_s"].as_f64().unwrap() > 1.0, "{summary}");

    // The preview: colour left, colour-mapped depth right.
    let png = s.path("preview.png");
    let (code, out) = tools(&[
        "inspect",
        mcap.to_str().unwrap(),
        "--camera-label",
        "zed2",
        "--frame-index",
        "20",
        "--export-preview",
        png.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (w, h, px) = ffmpeg_rgb_frame(&png, 0.0);
    assert_eq!((w, h), (640, 240), "colour 320x240 beside depth 320x240");
    let colour = (0, 60, 320, 240);
    let depth = (320, 60, 640, 240);
    assert!(distinct(&px, w, colour) > 20, "the colour half is flat");
    assert!(distinct(&px, w, depth) > 20, "the depth half is flat");
    // Turbo runs blue..red: the depth half holds both ends.
    let (mut reddish, mut bluish) = (0, 0);
    for y in 60..240 {
        for x in 320..640 {
            let i = ((y * w + x) * 3) as usize;
            let (r, b) = (px[i] as i32, px[i + 2] as i32);
            reddish += usize::from(r > b + 60);
            bluish += usize::from(b > r + 60);
        }
    }
    assert!(
        reddish > 100 && bluish > 100,
        "red {reddish}, blue {bluish}"
    );
    // The text top-left differs from the picture under it.
    assert!(distinct(&px, w, (0, 0, 200, 12)) > 8);

    // A camera the file lacks: usage, one line.
    let (code, out) = tools(&[
        "export-mp4",
        mcap.to_str().unwrap(),
        "--camera-label",
        "zed9",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no camera \"zed9\"") && out.contains("zed1, zed2"),
        "{out}"
    );
}
