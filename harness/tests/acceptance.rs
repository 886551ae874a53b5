//! `harness acceptance` end to end: the whole matrix passes and its evidence
//! validates against evidence/schema/; a row broken on purpose fails with a
//! reason; Ctrl-C stops every child and still writes the evidence; a missing
//! binary is one line and exit 2. The other binaries come from the same
//! target dir (`cargo build --workspace` builds them).

mod common;

use std::path::Path;

use common::*;

#[test]
fn full_acceptance_passes_and_its_evidence_validates() {
    let ev = Scratch::new("full");
    let args = ["acceptance", "--evidence", ev.0.to_str().unwrap()];
    let stdout = harness_passes(&args, "total=5 pass=5 fail=0 skip=0");
    assert!(
        stdout.contains("negative=1 pass=1 fail=0 skip=0"),
        "{stdout}"
    );
    let run = run_dir(&stdout);
    let latest = std::fs::read_link(ev.0.join("latest")).unwrap();
    assert_eq!(ev.0.join(latest), run);
    // Five rows, the invalid row and the summary.
    assert_eq!(validate_run(&run), 7);
    let s = read(&run.join("summary.json"));
    assert_eq!(
        (s["outcome"].as_str(), s["status"].as_str()),
        (Some("pass"), Some("complete"))
    );
    for row in s["rows"].as_array().unwrap() {
        let r = read(&run.join(row["result"].as_str().unwrap()));
        assert_eq!(r["outcome"], "pass", "{r:#}");
        for p in r["processes"].as_array().unwrap() {
            for log in ["stdout_log", "stderr_log"] {
                let dir = run.join(r["row"].as_str().unwrap());
                assert!(dir.join(p[log].as_str().unwrap()).is_file(), "{p:#}");
            }
        }
        if r["negative"] == false {
            assert!(r["encoder"]["element"].is_string(), "{r:#}");
            // The streamer's events are among the row's files.
            let files = r["artifacts"].as_array().unwrap();
            assert!(files.contains(&"streamer.events.jsonl".into()), "{r:#}");
            assert!(
                r["counts"]["frames_published"].as_u64().unwrap() > 0,
                "{r:#}"
            );
        }
        if r["protocol"] == "rtp" {
            assert!(r["latency_ms"]["samples"].as_u64().unwrap() > 0, "{r:#}");
        }
    }
}

#[test]
fn a_row_broken_on_purpose_fails_with_its_reason() {
    let ev = Scratch::new("broken");
    let out = harness(&[
        "acceptance",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--rows",
        "rtp_h265",
        "--break-row",
        "rtp_h265=wrong-pt",
    ]);
    let stdout = exited(&out, 1);
    assert_eq!(stdout.lines().last(), Some("total=1 pass=0 fail=1 skip=0"));
    let run = run_dir(&stdout);
    assert_eq!(validate_run(&run), 2);
    let r = read(&run.join("rtp_h265/result.json"));
    assert_eq!(r["outcome"], "fail");
    assert_eq!(r["broken_on_purpose"], "wrong-pt");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("payload type mismatch"), "{reason}");
    let s = read(&run.join("summary.json"));
    assert_eq!(s["totals"]["fail"], 1);
    assert_eq!(s["outcome"], "fail");
    assert_eq!(s["rows"][0]["reason"], reason);
    // The schema itself refuses a dishonest result: a pass with a failed
    // check, or a field it does not know.
    let result = validator("result.schema.json");
    let mut lie = r.clone();
    lie["outcome"] = "pass".into();
    assert!(!result.is_valid(&lie));
    let mut extra = r.clone();
    extra["bonus"] = 1.into();
    assert!(!result.is_valid(&extra));
}

#[test]
fn ctrl_c_stops_every_child_and_still_writes_evidence() {
    let ev = Scratch::new("sigint");
    let args = [
        "acceptance",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--rows",
        "rtp_h265,rtmp_h264",
    ];
    // Interrupted once the first row streams (its streamer got a frame).
    let tally = "total=2 pass=0 fail=0 skip=2";
    let run = interrupt_while_streaming(&ev.0, &args, "rtp_h265", tally);
    assert_eq!(validate_run(&run), 3);
    for row in ["rtp_h265", "rtmp_h264"] {
        let r = read(&run.join(format!("{row}/result.json")));
        assert_eq!(r["outcome"], "skip", "{r:#}");
        assert!(
            r["reason"].as_str().unwrap().contains("interrupted"),
            "{r:#}"
        );
    }
    // Every child that was started has gone.
    let r = read(&run.join("rtp_h265/result.json"));
    let procs = r["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 3, "{r:#}");
    for p in procs {
        let pid = p["pid"].as_u64().unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{p:#} still runs"
        );
    }
}

#[test]
fn a_missing_binary_is_one_line_and_exit_2() {
    let ev = Scratch::new("missing");
    let empty = ev.0.join("no-binaries-here");
    let out = harness(&[
        "acceptance",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--bin-dir",
        empty.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cvmmap_sim not found"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
}
