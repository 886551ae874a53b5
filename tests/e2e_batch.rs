//! `cvmmap_tools batch` over a tree of real recordings (made by
//! `cvmmap_record` from a live simulated rig): skipping what exists,
//! probing and reporting broken outputs, dry runs, CSV segment lists, a
//! failing job among good ones, mixed pools within their limits (from the
//! report), and the live progress table as a real terminal shows it
//! (tmux).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::record::{record_rig, tools};
use common::{Scratch, bin, unique};
use serde_json::Value;

/// Three segments holding a copy of one two-camera recording.
fn tree(s: &Scratch, codec: &str, labels: &[&str]) -> PathBuf {
    let src = record_rig(&s.0, "src.mcap", labels, codec, 30);
    let root = s.path("data");
    for seg in ["segA", "segB", "segC"] {
        std::fs::create_dir_all(root.join(seg)).unwrap();
        std::fs::copy(&src, root.join(seg).join("rec.mcap")).unwrap();
    }
    root
}

fn lines_with<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).expect("the report is JSON")
}

#[test]
fn batch_skips_probes_reports_and_runs_mixed_pools() {
    let s = Scratch::new("batch");
    let root = tree(&s, "h264", &["zed1", "zed2"]);
    let r = root.to_str().unwrap();
    let seg = |n: &str, f: &str| root.join(n).join(f);

    // Every recording exported (remux: one MP4 per camera) and recovered.
    let r1 = s.path("r1.json");
    let (code, out) = tools(&[
        "batch",
        "export-mp4",
        r,
        "--recursive",
        "--jobs",
        "2",
        "--progress-ui",
        "text",
        "--report",
        r1.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let rep = report(&r1);
    assert_eq!(
        (rep["ran"].as_u64(), rep["ok"].as_u64()),
        (Some(3), Some(3)),
        "{rep}"
    );
    for n in ["segA", "segB", "segC"] {
        for l in ["zed1", "zed2"] {
            assert!(seg(n, &format!("rec_{l}.mp4")).exists(), "{out}");
        }
    }
    let (code, out) = tools(&["batch", "recover", r, "--recursive", "--jobs", "2"]);
    assert_eq!(code, 0, "{out}");
    assert!(seg("segC", "rec_recovered.mcap").exists());

    // Nothing left to do, and the recovered files are not inputs.
    let (code, out) = tools(&["batch", "export-mp4", r, "--recursive", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 would run, 3 skipped"), "{out}");

    // One truncated MP4 (no moov left) and one truncated MCAP.
    let bad_mp4 = seg("segA", "rec_zed1.mp4");
    std::fs::write(&bad_mp4, &std::fs::read(&bad_mp4).unwrap()[..100]).unwrap();
    let bad_mcap = seg("segB", "rec_recovered.mcap");
    let b = std::fs::read(&bad_mcap).unwrap();
    std::fs::write(&bad_mcap, &b[..b.len() / 2]).unwrap();

    let (code, out) = tools(&["batch", "export-mp4", r, "--recursive", "--report-existing"]);
    assert_eq!(code, 0, "{out}");
    let invalid = lines_with(&out, "invalid: ");
    assert_eq!(invalid.len(), 1, "{out}");
    assert!(
        invalid[0].starts_with(&format!("invalid: {}:", bad_mp4.display())),
        "{out}"
    );
    assert!(out.contains("5 valid, 1 invalid, 0 missing"), "{out}");
    let (code, out) = tools(&["batch", "recover", r, "--recursive", "--report-existing"]);
    assert_eq!(code, 0, "{out}");
    let invalid = lines_with(&out, "invalid: ");
    assert_eq!(invalid.len(), 1, "{out}");
    assert!(
        invalid[0].starts_with(&format!("invalid: {}:", bad_mcap.display())),
        "{out}"
    );
    assert!(out.contains("2 valid, 1 invalid, 0 missing"), "{out}");

    // Without probing, existing files are done; with it, exactly the
    // broken ones' jobs would run.
    let (_, out) = tools(&["batch", "export-mp4", r, "--recursive", "--dry-run"]);
    assert!(lines_with(&out, "would run: ").is_empty(), "{out}");
    let (_, out) = tools(&[
        "batch",
        "export-mp4",
        r,
        "--recursive",
        "--dry-run",
        "--probe-existing",
    ]);
    let would = lines_with(&out, "would run: ");
    assert_eq!(would.len(), 1, "{out}");
    assert!(
        would[0].contains(&seg("segA", "rec.mcap").display().to_string()),
        "{out}"
    );
    let (_, out) = tools(&[
        "batch",
        "recover",
        r,
        "--recursive",
        "--dry-run",
        "--probe-existing",
    ]);
    let would = lines_with(&out, "would run: ");
    assert_eq!(would.len(), 1, "{out}");
    assert!(
        would[0].contains(&seg("segB", "rec.mcap").display().to_string()),
        "{out}"
    );
    // --probe-existing requeues them; afterwards all is valid.
    let (code, out) = tools(&["batch", "recover", r, "--recursive", "--probe-existing"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = tools(&[
        "batch",
        "export-mp4",
        r,
        "--recursive",
        "--probe-existing",
        "--progress-ui",
        "text",
    ]);
    assert_eq!(code, 0, "{out}");
    for verb in ["export-mp4", "recover"] {
        let (_, out) = tools(&["batch", verb, r, "--recursive", "--report-existing"]);
        assert!(out.contains(" 0 invalid, 0 missing"), "{verb}: {out}");
    }

    // A CSV of segments: relative to its folder, extra columns ignored,
    // a segment listed twice runs once, in first-seen order.
    let csv = root.join("segments.csv");
    std::fs::write(
        &csv,
        "camera_rig,segment_dir,notes\nr1,segC,x\nr1,segA,\"a, b\"\nr2,segC,again\n",
    )
    .unwrap();
    let (code, out) = tools(&[
        "batch",
        "export-mp4",
        "--segments-csv",
        csv.to_str().unwrap(),
        "--overwrite",
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{out}");
    let would = lines_with(&out, "would run: ");
    assert_eq!(would.len(), 2, "{out}");
    assert!(
        would[0].contains("segC") && would[1].contains("segA"),
        "{out}"
    );

    // A job that fails (not a recording) among good ones, re-encoding on
    // mixed pools: the rest complete, the exit says a job failed, and no
    // pool ran more jobs at once than it has slots.
    std::fs::create_dir_all(root.join("segD")).unwrap();
    std::fs::write(seg("segD", "rec.mcap"), b"this is not a recording").unwrap();
    let r2 = s.path("r2.json");
    let (code, out) = tools(&[
        "batch",
        "export-mp4",
        r,
        "--recursive",
        "--overwrite",
        "--codec",
        "h264",
        "--hardware-jobs",
        "1",
        "--hardware-devices",
        "0",
        "--software-jobs",
        "1",
        "--progress-ui",
        "text",
        "--report",
        r2.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let rep = report(&r2);
    assert_eq!(
        (
            rep["ran"].as_u64(),
            rep["ok"].as_u64(),
            rep["failed"].as_u64()
        ),
        (Some(4), Some(3), Some(1)),
        "{rep}"
    );
    let outcomes = rep["outcomes"].as_array().unwrap();
    let failed: Vec<&Value> = outcomes.iter().filter(|o| o["ok"] == false).collect();
    assert!(
        failed[0]["input"]
            .as_str()
            .unwrap()
            .ends_with("segD/rec.mcap"),
        "{rep}"
    );
    assert!(
        failed[0]["error"].as_str().unwrap().contains("rec.mcap"),
        "{rep}"
    );
    assert!(out.contains("FAILED"), "{out}");
    assert!(
        rep["max_concurrent"]["hardware"].as_u64().unwrap() <= 1,
        "{rep}"
    );
    assert!(
        rep["max_concurrent"]["software"].as_u64().unwrap() <= 1,
        "{rep}"
    );
    let pools: Vec<&str> = outcomes
        .iter()
        .map(|o| o["pool"].as_str().unwrap())
        .collect();
    assert!(
        pools.contains(&"hardware") && pools.contains(&"software"),
        "{pools:?}"
    );
    // Both pools ran at once at some moment (else the limit judged nothing).
    let overlap = outcomes.iter().any(|a| {
        outcomes.iter().any(|b| {
            a["pool"] != b["pool"]
                && a["started_unix_ms"].as_u64() < b["ended_unix_ms"].as_u64()
                && b["started_unix_ms"].as_u64() < a["ended_unix_ms"].as_u64()
        })
    });
    assert!(overlap, "the pools never overlapped: {rep}");
    for o in outcomes.iter().filter(|o| o["ok"] == true) {
        let enc = &o["result"]["encoder"];
        match o["pool"].as_str().unwrap() {
            "hardware" => {
                assert_eq!(o["device"], 0, "{o}");
                assert_eq!(enc["requested"], "auto", "{o}");
            }
            _ => assert_eq!(enc["requested"], "software", "{o}"),
        }
    }
}

/// Kills the tmux session on drop.
struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn capture(session: &str) -> String {
    let o = Command::new("tmux")
        .args(["capture-pane", "-p", "-t", session])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// In a real terminal (a tmux pane, captured as a person would see it):
/// one line per running job with its slot and time, totals and an ETA
/// above them, redrawn in place; at the end only the finished jobs and
/// the totals stay.
#[test]
fn batch_progress_is_a_live_table_in_a_terminal() {
    assert!(
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tmux is missing (scripts/install-deps.sh installs it)"
    );
    let s = Scratch::new("tty");
    let root = tree(&s, "h264", &["zed1"]);
    let done = s.path("exit");
    let session = unique("batch").replace('_', "-");
    let cmd = format!(
        "{} batch export-mp4 {} --recursive --codec h265 --encoder-device software --jobs 2 2>&1; echo $? > {}; sleep 120",
        bin("cvmmap_tools").display(),
        root.display(),
        done.display()
    );
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "30",
            &cmd,
        ])
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(ok.success());
    let _guard = Tmux(session.clone());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut table_seen = None;
    while !done.exists() {
        assert!(Instant::now() < deadline, "{}", capture(&session));
        let screen = capture(&session);
        if screen.contains("running, ") && screen.contains("  [any]") && screen.contains("ETA") {
            table_seen.get_or_insert(screen);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = std::fs::read_to_string(&done).unwrap();
    let end = capture(&session);
    assert_eq!(code.trim(), "0", "{end}");
    let table = table_seen.unwrap_or_else(|| panic!("no live table seen; at the end:\n{end}"));
    eprintln!("live table:\n{table}\nat the end:\n{end}");
    // Redrawn in place: one totals line on screen at a time.
    assert_eq!(table.matches(" done, ").count(), 1, "{table}");
    assert!(
        end.contains("export-mp4: 3/3 done, 0 failed, 0 running"),
        "{end}"
    );
    assert_eq!(end.matches("ok ").count(), 3, "{end}");
    assert!(
        !end.contains("  [any]"),
        "the table is erased at the end: {end}"
    );
}
