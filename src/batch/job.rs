//! One batch job: a verb of `cvmmap_tools` on one input, run as a child
//! process (a crash or a hang of one job never takes the batch with it),
//! and what came of it. The same job runs in a local pool or on a queue
//! worker.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The verbs a batch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    ExportMp4,
    Grid,
    Recover,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::ExportMp4 => "export-mp4",
            Verb::Grid => "grid",
            Verb::Recover => "recover",
        }
    }
}

/// One job. `id` is stable (the verb, input and flags hashed), so a job
/// published twice is one job, and its result is kept once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    pub id: String,
    pub verb: Verb,
    pub input: PathBuf,
    /// The verb's flags, as given to the batch.
    pub args: Vec<String>,
    /// What it writes (known before it runs; empty when the input could
    /// not be read to say).
    pub outputs: Vec<PathBuf>,
    /// Whether it encodes video (a pool with an encoder device matters).
    pub encodes: bool,
}

impl Job {
    pub fn new(
        verb: Verb,
        input: PathBuf,
        args: Vec<String>,
        outputs: Vec<PathBuf>,
        encodes: bool,
    ) -> Self {
        // FNV-1a 64 over the parts: stable across runs and machines.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for &x in b.iter().chain(&[0u8]) {
                h ^= u64::from(x);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(verb.name().as_bytes());
        eat(input.to_string_lossy().as_bytes());
        for a in &args {
            eat(a.as_bytes());
        }
        Self {
            id: format!("{h:016x}"),
            verb,
            input,
            args,
            outputs,
            encodes,
        }
    }

    /// One line for listings: `export-mp4 IN -> OUT, OUT`.
    pub fn describe(&self) -> String {
        let outs: Vec<String> = self
            .outputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "{} {} -> {}",
            self.verb.name(),
            self.input.display(),
            if outs.is_empty() {
                "(outputs unknown)".into()
            } else {
                outs.join(", ")
            }
        )
    }
}

/// Where a job runs: which encoder device its pool gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "pool")]
pub enum Slot {
    /// `--jobs N`: the verb's own flags decide.
    Any,
    /// `--hardware-jobs`: `--encoder-device auto` (NVENC, software where it
    /// cannot run), pinned to one GPU (`CUDA_VISIBLE_DEVICES`).
    Hardware { device: u32 },
    /// `--software-jobs`: `--encoder-device software`.
    Software,
}

/// What came of a job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub id: String,
    pub verb: Verb,
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub ok: bool,
    pub exit_code: Option<i32>,
    /// The job's last error line, when it failed.
    pub error: Option<String>,
    /// E.g. "recovered with losses".
    pub note: Option<String>,
    #[serde(flatten)]
    pub slot: Slot,
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    pub seconds: f64,
    /// Who ran it (host:pid of the batch or worker).
    pub worker: String,
    /// Which delivery of the job this was (1 locally).
    pub delivery: u64,
    /// The verb's own JSON result (`--json`), e.g. the encoder used.
    pub result: Option<serde_json::Value>,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This process, named for reports.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// The child process of `job` in `slot`: `tools VERB INPUT FLAGS --json`.
pub fn command(tools: &Path, job: &Job, slot: Slot) -> Command {
    let mut c = Command::new(tools);
    c.arg(job.verb.name())
        .arg(&job.input)
        .args(&job.args)
        .arg("--json");
    // The job dies with whoever runs it: a worker killed mid-job must not
    // leave its child writing the output another worker is redoing.
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    if job.encodes {
        match slot {
            Slot::Any => {}
            Slot::Hardware { device } => {
                c.args(["--encoder-device", "auto"]);
                c.env("CUDA_VISIBLE_DEVICES", device.to_string());
            }
            Slot::Software => {
                c.args(["--encoder-device", "software"]);
            }
        }
    }
    c
}

/// Runs `job` to its end (the child's exit), `delivery` its attempt.
pub fn run(tools: &Path, job: &Job, slot: Slot, delivery: u64) -> Outcome {
    let started_unix_ms = unix_ms();
    let t0 = Instant::now();
    let mut outcome = Outcome {
        id: job.id.clone(),
        verb: job.verb,
        input: job.input.clone(),
        outputs: job.outputs.clone(),
        ok: false,
        exit_code: None,
        error: None,
        note: None,
        slot,
        started_unix_ms,
        ended_unix_ms: 0,
        seconds: 0.0,
        worker: worker_name(),
        delivery,
        result: None,
    };
    let child = command(tools, job, slot)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Err(e) => outcome.error = Some(format!("cannot start {}: {e}", tools.display())),
        Ok(mut child) => {
            // stderr on its own thread: a chatty job never blocks on a
            // full pipe while we read stdout.
            let mut err = child.stderr.take().expect("piped");
            let errs = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            });
            let mut last_json = None;
            let mut last_line = None;
            if let Some(out) = child.stdout.take() {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                        last_json = Some(v);
                    } else if !line.trim().is_empty() {
                        last_line = Some(line);
                    }
                }
            }
            let status = child.wait();
            let stderr = errs.join().unwrap_or_default();
            let code = status.as_ref().ok().and_then(|s| s.code());
            outcome.exit_code = code;
            outcome.result = last_json;
            // `recover` says 2 when it recovered with losses: an output
            // was written, the job did its work.
            let lossy = job.verb == Verb::Recover && code == Some(2) && last_line.is_none();
            outcome.ok = code == Some(0) || lossy;
            if lossy {
                outcome.note = Some("recovered with losses".into());
            }
            if !outcome.ok {
                let last_err = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_owned);
                outcome.error = Some(match (last_err, &status) {
                    (Some(l), _) => l,
                    (None, Ok(s)) => format!("exited with {s}"),
                    (None, Err(e)) => e.to_string(),
                });
            }
        }
    }
    outcome.ended_unix_ms = unix_ms();
    outcome.seconds = t0.elapsed().as_secs_f64();
    outcome
}
