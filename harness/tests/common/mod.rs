//! Helpers for the harness's integration tests: the harness binary, the
//! other binaries next to it, scratch evidence folders, schema validation.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cvmmap_harness::events::{self, Events};
use serde_json::Value;

pub const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

/// The target dir holding the harness and, if built, the other binaries.
pub fn bin_dir() -> PathBuf {
    let dir = Path::new(HARNESS).parent().unwrap().to_path_buf();
    for name in [
        "cvmmap_sim",
        "cvmmap_streamer",
        "rtp_receiver_tester",
        "rtmp_stub_tester",
    ] {
        assert!(
            dir.join(name).is_file(),
            "{name} is missing from {}: run `cargo build --workspace --bins` first",
            dir.display()
        );
    }
    dir
}

/// A fresh evidence folder, removed on drop unless KEEP_EVIDENCE is set.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("harness_it_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_EVIDENCE").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn harness(args: &[&str]) -> Output {
    bin_dir();
    Command::new(HARNESS)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run harness")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn read(path: &Path) -> Value {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn validator(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../evidence/schema")
        .join(name);
    jsonschema::draft202012::new(&read(&path)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Validates every result.json and summary.json of an acceptance run.
pub fn validate_run(run: &Path) -> usize {
    validate_run_with(run, "result.schema.json", "summary.schema.json")
}

/// Validates every result.json under `run` against `result_schema` and
/// every summary.json against `summary_schema`, and checks that every
/// other .json file there is JSON; returns how many harness files were
/// validated.
pub fn validate_run_with(run: &Path, result_schema: &str, summary_schema: &str) -> usize {
    let (result, summary) = (validator(result_schema), validator(summary_schema));
    let mut validated = 0;
    let mut stack = vec![run.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let doc = read(&path);
            let schema = match name.as_str() {
                "result.json" => &result,
                "summary.json" => &summary,
                _ => continue, // a tester's, the simulator's or the streamer's own report
            };
            let errors: Vec<String> = schema
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            validated += 1;
        }
    }
    validated
}

/// The run folder from the `evidence DIR` line.
pub fn run_dir(stdout: &str) -> PathBuf {
    let line = stdout.lines().find_map(|l| l.strip_prefix("evidence "));
    PathBuf::from(line.unwrap_or_else(|| panic!("no evidence line in:\n{stdout}")))
}

/// Checks that the harness exited with `code`; returns its stdout.
pub fn exited(out: &Output, code: i32) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Runs `harness ARGS`, checks it exits 0 with `last` as its last stdout
/// line, and returns its stdout.
pub fn harness_passes(args: &[&str], last: &str) -> String {
    let stdout = exited(&harness(args), 0);
    assert_eq!(stdout.lines().last(), Some(last), "{stdout}");
    stdout
}

/// Runs `harness ARGS` (writing to `evidence`) and sends it SIGINT, as
/// Ctrl-C does, once the streamer of `unit` reports its first frame (the
/// unit is streaming). Checks that the harness then exits 130 with `tally`
/// as its last line and an `interrupted` summary; returns the run folder.
pub fn interrupt_while_streaming(
    evidence: &Path,
    args: &[&str],
    unit: &str,
    tally: &str,
) -> PathBuf {
    bin_dir();
    let mut child = Command::new(HARNESS)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let streaming = || {
        std::fs::read_dir(evidence).ok()?.flatten().find(|run| {
            let file = events::file(&run.path().join(unit), "streamer");
            Events::read(&file).first(events::FIRST_FRAME).is_some()
        })
    };
    // A bounded poll of the event, not a fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(90);
    while streaming().is_none() {
        if child.try_wait().unwrap().is_some() || Instant::now() >= deadline {
            let out = child.wait_with_output().unwrap();
            panic!(
                "{unit} never streamed:\n{}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(child.id(), 2);
    let stdout = exited(&child.wait_with_output().unwrap(), 130);
    assert_eq!(stdout.lines().last(), Some(tally));
    let run = run_dir(&stdout);
    let s = read(&run.join("summary.json"));
    assert_eq!(
        (s["status"].as_str(), s["exit_code"].as_i64()),
        (Some("interrupted"), Some(130))
    );
    run
}

/// Sends signal `sig` to `pid`.
pub fn kill(pid: u32, sig: i32) {
    // SAFETY: plain kill(2) on a child of the test.
    unsafe { libc_kill(pid as i32, sig) };
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
