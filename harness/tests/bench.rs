//! `harness bench --quick` end to end: both sides measured with positive
//! figures, the result validates against evidence/schema/bench.schema.json,
//! the table and the SVG plot are written; without gst-launch-1.0 the gst
//! side is skipped with a reason and no figures; bad flags are exit 2.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn validate(doc: &Value) {
    let schema = validator("bench.schema.json");
    let errors: Vec<String> = schema
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

fn positive(run: &Value, what: &str) {
    for key in [
        "cpu_ms_per_frame",
        "peak_rss_mib",
        "fps",
        "wall_ms",
        "frames_encoded",
    ] {
        let v = run[key].as_f64();
        assert!(
            v.is_some_and(|v| v > 0.0),
            "{what}.{key} = {v:?} in {run:#}"
        );
    }
    assert!(run["process"]["command_line"].as_str().unwrap().len() > 10);
}

#[test]
fn quick_bench_measures_both_sides() {
    let ev = Scratch::new("bench_quick");
    let args = ["bench", "--quick", "--evidence", ev.0.to_str().unwrap()];
    let stdout = harness_passes(
        &args,
        // A debug build: nothing is judged (4 goals not judged).
        "bench configs=1 sides=3 measured=3 failed=0 skipped=0 goals_met=0 goals_missed=0 goals_not_judged=5",
    );
    let run = run_dir(&stdout);
    assert_eq!(
        ev.0.join(std::fs::read_link(ev.0.join("latest")).unwrap()),
        run
    );
    let bench = run.join("bench");
    let r = read(&bench.join("result.json"));
    validate(&r);
    assert_eq!(
        (r["kind"].as_str(), r["status"].as_str()),
        (Some("bench"), Some("complete"))
    );
    let c = &r["configs"][0];
    assert_eq!(c["id"], "320x180_h264", "{c:#}");
    let (s, g) = (&c["streamer"], &c["gst"]);
    assert_eq!(
        (s["status"].as_str(), g["status"].as_str()),
        (Some("ok"), Some("ok")),
        "{c:#}"
    );
    for (side, v) in [("streamer", s), ("gst", g)] {
        for mode in ["unpaced", "paced"] {
            positive(&v[mode], &format!("{side}.{mode}"));
        }
    }
    // The gst side uses the element the streamer reported, with its settings.
    let element = s["encoder"]["element"].as_str().unwrap();
    assert_eq!(g["element"].as_str(), Some(element));
    let pipeline = g["pipeline"].as_str().unwrap();
    assert!(pipeline.contains(&format!("! {element} ")), "{pipeline}");
    // The same bytes as the streamer's: the configuration's frame file.
    assert!(
        pipeline.contains(
            "/frames.bgr blocksize=172800 ! rawvideoparse format=bgr width=320 height=180"
        ),
        "{pipeline}"
    );
    assert!(
        g["pipeline_smpte"]
            .as_str()
            .unwrap()
            .contains("videotestsrc"),
        "the labelled extra: {g:#}"
    );
    positive(&g["smpte_unpaced"], "gst.smpte_unpaced");
    // The encoder-only floor: same element, the I420 copy, into fakesink.
    let f = &c["floor"];
    assert_eq!(f["status"], "ok", "{f:#}");
    assert_eq!(f["element"].as_str(), Some(element));
    let floor = f["pipeline"].as_str().unwrap();
    assert!(
        floor.contains("/frames.i420")
            && floor.contains(&format!("! {element} "))
            && floor.ends_with("fakesink sync=false async=false"),
        "{floor}"
    );
    for mode in ["unpaced", "paced"] {
        positive(&f[mode], &format!("floor.{mode}"));
    }
    let fl = &f["latency_ms"];
    assert!(
        fl["samples"].as_u64().unwrap() >= 50,
        "a sample per frame: {fl:#}"
    );
    // The comparison is computed from those figures; a debug build is not judged.
    let cmp = &c["comparison"];
    let floor_cpu = f["paced"]["cpu_ms_per_frame"].as_f64().unwrap();
    assert_eq!(cmp["floor_cpu_ms_per_frame"].as_f64(), Some(floor_cpu));
    let over = s["paced"]["cpu_ms_per_frame"].as_f64().unwrap() - floor_cpu;
    assert!(
        (cmp["streamer_overhead_ms"].as_f64().unwrap() - over).abs() < 0.01,
        "{cmp:#}"
    );
    assert!(cmp["overhead_ratio"].is_number(), "{cmp:#}");
    // Every paced run's threads were sampled and split at the encoder's
    // workers; the outside figures follow from those splits.
    let outside = |side: &serde_json::Value| {
        let t = &side["paced"]["threads"];
        assert!(t["threads"].as_u64().unwrap() > 1, "{t:#}");
        t["outside_encoder_cpu_ms_per_frame"].as_f64().unwrap()
    };
    let (s_out, f_out) = (outside(s), outside(f));
    outside(g);
    if let Some(v) = cmp["streamer_overhead_outside_encoder_ms"].as_f64() {
        assert!((v - (s_out - f_out)).abs() < 0.01, "{cmp:#}");
    }
    assert!(cmp["paced_delivery"].as_f64().unwrap() > 0.0, "{cmp:#}");
    for goal in cmp["goals"].as_array().unwrap() {
        assert_eq!(goal["outcome"], "not_judged", "{goal:#}");
        assert_eq!(goal["why_not_judged"], "not a release build", "{goal:#}");
    }
    // The frame files are removed once the configuration is done.
    assert!(!bench.join("320x180_h264/frames.bgr").exists());
    assert!(
        pipeline.contains("! videoconvert ! video/x-raw,format=I420 !"),
        "{pipeline}"
    );
    assert!(
        pipeline.contains("rtph264pay") && pipeline.contains("udpsink"),
        "{pipeline}"
    );
    let l = &s["latency_ms"];
    assert!(
        l["samples"].as_u64().unwrap() > 0 && l["p50"].as_f64().unwrap() > 0.0,
        "{l:#}"
    );
    assert!(l["p99"].as_f64() >= l["p50"].as_f64(), "{l:#}");
    // The encoder's own latency in that run, from the streamer's summary.
    let e = &s["encode_latency_ms"];
    assert!(
        e["samples"].as_u64().unwrap() >= 50 && e["p50"].as_f64().unwrap() > 0.0,
        "{e:#}"
    );
    assert!(
        c["comparison"]["latency_p99_excess_ms"].is_number(),
        "{c:#}"
    );
    // Every process's logs are where the evidence says.
    let dir = bench.join("320x180_h264");
    let mut procs: Vec<&Value> = s["processes"].as_array().unwrap().iter().collect();
    for v in [s, g] {
        procs.push(&v["unpaced"]["process"]);
        procs.push(&v["paced"]["process"]);
    }
    assert_eq!(procs.len(), 6, "sim, receiver and four measured runs");
    for p in procs {
        assert!(
            dir.join(p["stderr_log"].as_str().unwrap()).is_file(),
            "{p:#}"
        );
    }
    // The table, on stdout and in table.txt.
    let table = std::fs::read_to_string(bench.join("table.txt")).unwrap();
    assert!(
        stdout.starts_with(&table),
        "stdout:\n{stdout}\ntable:\n{table}"
    );
    let header = table.lines().next().unwrap();
    for col in [
        "size",
        "codec",
        "side",
        "cpu ms/frame",
        "peak MiB",
        "unpaced fps",
        "latency p50/p99",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.contains("320x180_h264: overhead ratio "), "{table}");
    let row = |side: &str| {
        table
            .lines()
            .find(|l| l.starts_with("320x180") && l.contains(side))
            .unwrap_or_else(|| panic!("no {side} row in:\n{table}"))
            .to_owned()
    };
    assert!(row("streamer").contains(" / "), "{table}");
    assert!(!row("gst-launch").contains(" - "), "{table}");
    assert!(
        row("floor").contains("enc "),
        "the encoder latency: {table}"
    );
    let svg = std::fs::read_to_string(bench.join("latency.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(svg.contains("320x180 h264"), "{svg}");
    assert_eq!(
        r["artifacts"],
        serde_json::json!(["latency.svg", "table.txt"]),
        "{:#}",
        r["artifacts"]
    );
}

#[test]
fn without_gst_launch_the_gst_side_is_skipped_with_a_reason() {
    let ev = Scratch::new("bench_nogst");
    bin_dir();
    // An empty PATH: gst-launch-1.0 (and gst-inspect-1.0, git) are not found;
    // the harness finds the workspace binaries next to itself.
    let empty = ev.0.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(HARNESS)
        .args(["bench", "--quick", "--evidence", ev.0.to_str().unwrap()])
        .env("PATH", &empty)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = exited(&out, 1);
    assert_eq!(
        stdout.lines().last(),
        Some(
            "bench configs=1 sides=3 measured=1 failed=0 skipped=2 goals_met=0 goals_missed=0 goals_not_judged=5"
        ),
        "{stdout}"
    );
    let r = read(&run_dir(&stdout).join("bench/result.json"));
    validate(&r);
    assert!(r["gst_launch"]["path"].is_null());
    let g = &r["configs"][0]["gst"];
    assert_eq!(g["status"], "skipped", "{g:#}");
    assert!(
        g["reason"]
            .as_str()
            .unwrap()
            .contains("gst-launch-1.0 is not installed"),
        "{g:#}"
    );
    assert!(
        g["unpaced"].is_null() && g["paced"].is_null(),
        "no invented numbers: {g:#}"
    );
    assert_eq!(r["configs"][0]["streamer"]["status"], "ok");
    assert!(
        stdout.contains("gst-launch: skipped: gst-launch-1.0 is not installed"),
        "{stdout}"
    );
}

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    let ev = Scratch::new("bench_bad");
    for args in [
        ["--sizes", "641x360"],
        ["--codecs", "vp8"],
        ["--frames", "3"],
    ] {
        let out = harness(&[
            "bench",
            "--evidence",
            ev.0.to_str().unwrap(),
            args[0],
            args[1],
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // Nothing was measured, so no run folder was made.
    assert!(!Path::new(&ev.0).join("latest").exists());
}
