//! The run's verdict, selection bookkeeping, and the summary header's two
//! shapes (the JSON Schemas refuse any other key).

use super::*;
use crate::model::{GitInfo, HostInfo};

fn t(pass: u32, fail: u32, skip: u32) -> Tally {
    Tally {
        total: pass + fail + skip,
        pass,
        fail,
        skip,
    }
}

#[test]
fn overall_outcome() {
    assert_eq!(verdict(&[t(7, 0, 0)], false), ("pass", 0));
    assert_eq!(verdict(&[t(6, 1, 0)], false), ("fail", 1));
    assert_eq!(verdict(&[t(6, 0, 1)], false), ("incomplete", 1));
    assert_eq!(verdict(&[t(5, 0, 0), t(0, 0, 1)], false), ("incomplete", 1));
    assert_eq!(verdict(&[t(5, 0, 0), t(0, 1, 0)], false), ("fail", 1));
    assert_eq!(verdict(&[t(1, 0, 0)], true), ("incomplete", 130));
}

#[test]
fn lists_what_was_not_selected_in_order() {
    let all = ["a", "b", "c", "d"];
    let picked = [&all[3], &all[1]];
    assert_eq!(not_selected(&all, &picked, |s| s), ["a", "c"]);
}

fn header(verdict: bool) -> SummaryHeader {
    SummaryHeader {
        schema_version: 1,
        kind: "k",
        run_id: "r".into(),
        status: "running",
        outcome: verdict.then_some("incomplete"),
        exit_code: None,
        started_at: "t".into(),
        finished_at: None,
        duration_ms: 0,
        git: GitInfo {
            commit: "c".into(),
            source: "unknown",
            dirty: None,
        },
        host: HostInfo {
            hostname: "h".into(),
            os: "o".into(),
            kernel: "k".into(),
            cpu_model: "m".into(),
            cpu_cores: 2,
            memory_bytes: None,
            gpu: "none".into(),
        },
        runtime: "local",
        container: verdict.then_some(None),
        harness: HarnessInfo {
            version: "0",
            argv: Vec::new(),
            bin_dir: "d".into(),
        },
    }
}

fn keys(h: SummaryHeader) -> Vec<String> {
    let v = serde_json::to_value(h).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn header_shapes() {
    // serde_json's map is sorted: the order of keys in the files is the
    // struct's; what is checked here is which keys there are.
    let with = keys(header(true));
    assert!(with.contains(&"outcome".into()) && with.contains(&"container".into()));
    let v = serde_json::to_value(header(true)).unwrap();
    assert!(v["container"].is_null());
    let bench = keys(header(false));
    assert!(!bench.contains(&"outcome".into()) && !bench.contains(&"container".into()));
    assert_eq!(with.len(), bench.len() + 2);
}
