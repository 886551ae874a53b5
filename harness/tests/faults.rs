//! `harness faults` end to end, split into three runs so that each stays
//! well inside the suite's per-test bound: every scenario passes with its
//! figures, and every JSON file the runs write validates against
//! evidence/schema/fault_*.schema.json. An unknown scenario is one line and
//! exit 2. The other binaries come from the same target dir.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Validates result.json files against fault_result.schema.json and
/// summary.json against fault_summary.schema.json; checks every other JSON
/// file parses. Returns how many harness files were validated.
fn validate_faults_run(run: &Path) -> usize {
    validate_run_with(run, "fault_result.schema.json", "fault_summary.schema.json")
}

/// Runs `harness faults --scenarios LIST`, asserts a full pass with valid
/// evidence, and returns each scenario's result.json.
fn run_faults(tag: &str, scenarios: &[&str]) -> Vec<Value> {
    let ev = Scratch::new(tag);
    let list = scenarios.join(",");
    let out = harness(&[
        "faults",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--scenarios",
        &list,
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let run = run_dir(&stdout);
    let n = scenarios.len();
    let results: Vec<Value> = scenarios
        .iter()
        .map(|s| read(&run.join(s).join("result.json")))
        .collect();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r["outcome"] != "pass")
        .map(|r| format!("{}: {} ({})", r["scenario"], r["outcome"], r["reason"]))
        .collect();
    assert!(
        failed.is_empty() && out.status.code() == Some(0),
        "{failed:#?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some(format!("total={n} pass={n} fail=0 skip=0").as_str()),
        "{stdout}"
    );
    assert_eq!(validate_faults_run(&run), n + 1);
    let latest = std::fs::read_link(ev.0.join("latest")).unwrap();
    assert_eq!(ev.0.join(latest), run);
    let s = read(&run.join("summary.json"));
    assert_eq!(
        (
            s["outcome"].as_str(),
            s["status"].as_str(),
            s["kind"].as_str()
        ),
        (Some("pass"), Some("complete"), Some("faults_summary"))
    );
    for r in &results {
        let dir = run.join(r["scenario"].as_str().unwrap());
        for p in r["processes"].as_array().unwrap() {
            for log in ["stdout_log", "stderr_log"] {
                assert!(dir.join(p[log].as_str().unwrap()).is_file(), "{p:#}");
            }
        }
        assert!(r["encoder"]["element"].is_string(), "{r:#}");
        let files = r["artifacts"].as_array().unwrap();
        assert!(files.contains(&"streamer.events.jsonl".into()), "{r:#}");
    }
    results
}

fn fig<'a>(r: &'a Value, k: &str) -> &'a Value {
    &r["figures"][k]
}

#[test]
fn torn_reads_and_the_latency_guard() {
    let r = run_faults("faults_a", &["torn_read", "latency_guard"]);
    assert!(
        fig(&r[0], "frames_torn").as_u64().unwrap() > 0,
        "{:#}",
        r[0]
    );
    assert_eq!(fig(&r[0], "stamp_mismatches"), 0);
    assert!(fig(&r[0], "stamps_checked").as_u64().unwrap() > 0);
    assert!(fig(&r[1], "latency_p99_ms").as_f64().unwrap() < 45.0);
    assert!(r[1]["latency_ms"]["samples"].as_u64().unwrap() > 0);
}

#[test]
fn sink_stall_and_rtmp_server_restart() {
    let r = run_faults("faults_b", &["sink_stall", "rtmp_server_restart"]);
    assert!(
        fig(&r[0], "rss_growth_mib").as_f64().unwrap() < 32.0,
        "{:#}",
        r[0]
    );
    assert_eq!(fig(&r[0], "resume_keyframe"), true);
    assert!(fig(&r[0], "rtmp_units_dropped").as_u64().unwrap() > 0);
    assert!(fig(&r[0], "keyframes_forced").as_u64().unwrap() <= 2);
    assert!(fig(&r[0], "rtp_keyframe_min_gap_ms").as_f64().unwrap() >= 250.0);
    assert!(fig(&r[1], "reconnect_ms").as_f64().unwrap() <= 3000.0);
}

#[test]
fn reset_storm_producer_restart_and_nats_loss() {
    let r = run_faults(
        "faults_c",
        &["reset_storm", "producer_restart", "nats_server_killed"],
    );
    assert!(fig(&r[0], "resets").as_u64().unwrap() >= 50, "{:#}", r[0]);
    assert_eq!(fig(&r[0], "rtp_timestamps_backwards"), 0);
    assert!(fig(&r[1], "reattach_ms").as_f64().unwrap() < 1000.0);
    assert!(fig(&r[2], "received_pct").as_f64().unwrap() >= 95.0);
}

/// Issue 13: the producer shrinks its segment in place (no SIGBUS, every
/// new size streamed), NATS floods the keyframe endpoint (the limiter
/// holds), and the contract's payload-first tear is measured.
#[test]
fn shrink_in_place_keyframe_flood_and_payload_first_tears() {
    let r = run_faults(
        "faults_d",
        &["torn_payload_first", "shrink_in_place", "keyframe_flood"],
    );
    assert!(
        fig(&r[0], "stamps_checked").as_u64().unwrap() > 0,
        "{:#}",
        r[0]
    );
    assert!(fig(&r[0], "mismatch_pct").as_f64().unwrap() <= 30.0);
    assert_eq!(fig(&r[1], "shrinks"), 10, "{:#}", r[1]);
    assert!(fig(&r[1], "resume_small_max_ms").as_f64().is_some());
    let forced = fig(&r[2], "forced_keyframes_in_flood").as_u64().unwrap();
    assert!(forced <= fig(&r[2], "forced_keyframes_bound").as_u64().unwrap());
    assert!(fig(&r[2], "streamer_keyframes_deferred").as_u64().unwrap() > 0);
}

#[test]
fn ctrl_c_stops_the_scenario_and_still_writes_evidence() {
    let ev = Scratch::new("faults_sigint");
    let args = [
        "faults",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--scenarios",
        "torn_read,latency_guard",
    ];
    let tally = "total=2 pass=0 fail=0 skip=2";
    let run = interrupt_while_streaming(&ev.0, &args, "torn_read", tally);
    assert_eq!(validate_faults_run(&run), 3);
    let r = read(&run.join("latency_guard/result.json"));
    assert!(
        r["reason"].as_str().unwrap().contains("interrupted"),
        "{r:#}"
    );
    for p in r["processes"].as_array().unwrap() {
        let pid = p["pid"].as_u64().unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{p:#} still runs"
        );
    }
}

#[test]
fn an_unknown_scenario_is_one_line_and_exit_2() {
    let ev = Scratch::new("faults_unknown");
    let out = harness(&[
        "faults",
        "--evidence",
        ev.0.to_str().unwrap(),
        "--scenarios",
        "torn_read,nope",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown scenario \"nope\""), "{stderr}");
    assert!(!ev.0.exists(), "no run folder for a usage error");
}

/// A torn_read result that failed on its stamp check, as the harness
/// writes one (every field, every figure).
fn failed_torn_result() -> Value {
    let figures: serde_json::Map<String, Value> = [
        "frames_published",
        "frames_written_in_place",
        "torn_max_delay_us",
        "torn_after_frames",
        "frames_torn",
        "frames_unannounced",
        "frames_ingested",
        "stamps_checked",
        "stamp_mismatches",
        "frames_encoded",
        "access_units_sent",
        "access_units_received",
    ]
    .iter()
    .map(|k| (k.to_string(), Value::from(1)))
    .chain([
        ("stamp_mismatch_log".to_string(), serde_json::json!(["x"])),
        ("ingested_pct".to_string(), Value::from(90.5)),
        ("received_pct".to_string(), Value::Null),
        ("max_unit_gap_ms".to_string(), Value::from(40.0)),
    ])
    .collect();
    let counts: serde_json::Map<String, Value> = [
        "frames_requested",
        "frames_published",
        "frames_ingested",
        "frames_encoded",
        "access_units_sent",
        "rtp_packets_sent",
        "rtmp_units_sent",
        "rtmp_units_dropped",
        "access_units_received",
        "video_frames_received",
        "decoded_frames",
        "receive_threshold",
    ]
    .iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect();
    serde_json::json!({
        "schema_version": 1,
        "kind": "fault_scenario",
        "run_id": "20261126T071500Z-faults-3f2a",
        "scenario": "torn_read",
        "title": "Torn reads",
        "fault": "in-place rewrites",
        "outcome": "fail",
        "reason": "1 check(s) failed: stamp mismatches: expected 0, got 1",
        "started_at": "2026-11-26T07:15:00.123Z",
        "duration_ms": 1,
        "git": {"commit": "unknown", "source": "unknown", "dirty": null},
        "host": {"hostname": "h", "os": "o", "kernel": "k", "cpu_model": "c",
                 "cpu_cores": 2, "memory_bytes": null, "gpu": "none"},
        "runtime": "local",
        "container": null,
        "protocol": "rtp",
        "codec": "h264",
        "encoder": null,
        "encoder_note": "none",
        "peers": [],
        "nats": {"server_present": false, "url": null, "server": null, "passed_to": [],
                 "streamer_nats_connects": null, "streamer_nats_disconnects": null,
                 "note": null},
        "counts": counts,
        "figures": figures,
        "latency_ms": null,
        "latency_note": null,
        "checks": [
            {"name": "frames published", "outcome": "pass", "expected": "300", "actual": "300"},
            {"name": "stamp mismatches", "outcome": "fail", "expected": "0", "actual": "1"}
        ],
        "processes": [],
        "artifacts": []
    })
}

#[test]
fn the_schemas_refuse_a_dishonest_result() {
    let schema = validator("fault_result.schema.json");
    let r = failed_torn_result();
    let errors: Vec<String> = schema.iter_errors(&r).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut lie = r.clone();
    lie["outcome"] = "pass".into();
    assert!(!schema.is_valid(&lie), "a pass with a failed check");
    let mut extra = r.clone();
    extra["figures"]["bonus"] = 1.into();
    assert!(
        !schema.is_valid(&extra),
        "a figure the schema does not know"
    );
    let mut missing = r.clone();
    missing["figures"]
        .as_object_mut()
        .unwrap()
        .remove("stamp_mismatches");
    assert!(
        !schema.is_valid(&missing),
        "a judged scenario without a figure"
    );
    let mut skip = r.clone();
    skip["outcome"] = "skip".into();
    skip["reason"] = "not run".into();
    assert!(!schema.is_valid(&skip), "a skip must say why");
}
