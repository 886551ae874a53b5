//! The evidence shapes, one Rust type per JSON object, mirrored by
//! `evidence/schema/*.schema.json` (a test keeps the two in step). Anything
//! not measured is `null` (or a check with outcome `skip`), never a guess.

use serde::{Deserialize, Serialize};

/// Pass, fail, or skip (something the check needs is absent, or the run was
/// interrupted before it): a skip is never counted as a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// `kind` of an acceptance row's `result.json` and of its run's summary.
pub const KIND_ROW: &str = "acceptance_row";
pub const KIND_SUMMARY: &str = "acceptance_summary";

/// Where the commit came from: `git rev-parse HEAD` in the source tree the
/// harness was built from, `$CVMMAP_GIT_COMMIT`, or neither.
#[derive(Debug, Clone, Serialize)]
pub struct GitInfo {
    pub commit: String,
    pub source: &'static str,
    /// Uncommitted changes to tracked files; null when git was not asked.
    pub dirty: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub cpu_model: String,
    pub cpu_cores: u32,
    pub memory_bytes: Option<u64>,
    /// `nvidia-smi -L` lines joined with "; ", or "none".
    pub gpu: String,
}

/// The streamer's `--summary-json` `encoder` object, as it reported it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderUsed {
    pub requested: String,
    pub backend: String,
    pub element: String,
    pub reason: String,
    pub fallback_at_frame: Option<u64>,
}

/// One process the harness ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessRecord {
    pub name: String,
    pub argv: Vec<String>,
    /// `argv` quoted for a POSIX shell: paste it to rerun by hand.
    pub command_line: String,
    pub pid: u32,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stopped_by_harness: Option<String>,
    pub duration_ms: u64,
    pub stdout_log: String,
    pub stderr_log: String,
}

/// A tester, decoder or server that took part in a row, or did not.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub name: String,
    pub role: String,
    pub ran: bool,
    /// Why it did not run, or what it did.
    pub note: Option<String>,
}

/// One verified property of a row.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub expected: String,
    /// What was measured; null when the check could not run.
    pub actual: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub frames_requested: Option<u64>,
    pub frames_published: Option<u64>,
    pub frames_ingested: Option<u64>,
    pub frames_encoded: Option<u64>,
    pub access_units_sent: Option<u64>,
    pub rtp_packets_sent: Option<u64>,
    pub rtmp_units_sent: Option<u64>,
    pub rtmp_units_dropped: Option<u64>,
    /// Complete access units at the RTP receiver.
    pub access_units_received: Option<u64>,
    /// Coded video frames at the RTMP stub.
    pub video_frames_received: Option<u64>,
    pub decoded_frames: Option<u64>,
    /// What the receiving tester had to reach.
    pub receive_threshold: Option<u64>,
}

/// Capture-to-arrival latency from the RTP receiver (RTCP sender reports).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: u64,
}

/// NATS in one row: whether the processes were pointed at the run's server
/// and whether any client actually connected to it meanwhile.
#[derive(Debug, Clone, Serialize)]
pub struct RowNats {
    pub server_present: bool,
    pub url: Option<String>,
    pub passed_to: Vec<String>,
    /// New client connections the server counted during the row.
    pub server_connections_during_row: Option<u64>,
    /// The streamer's own `stats.nats_connects`, when it reports one.
    pub streamer_nats_connects: Option<u64>,
    /// Connections seen (true), none (false), or not measurable (null).
    pub took_part: Option<bool>,
}

/// NATS for the whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunNats {
    pub present: bool,
    pub url: Option<String>,
    pub version: Option<String>,
    pub monitoring_url: Option<String>,
    /// Binaries whose --help lists --nats-url (so they were given the URL).
    pub passed_to: Vec<String>,
    /// Why NATS was skipped, or null when it ran.
    pub skipped_reason: Option<String>,
}

/// `<row>/result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    pub schema_version: u32,
    pub kind: &'static str,
    pub run_id: String,
    pub row: String,
    pub title: String,
    pub protocol: String,
    pub codec: String,
    pub rtmp_mode: Option<String>,
    /// The invalid row: passes when the streamer refuses it.
    pub negative: bool,
    pub outcome: Outcome,
    pub reason: String,
    /// `--break-row` sabotage applied to this row, if any.
    pub broken_on_purpose: Option<String>,
    pub started_at: String,
    pub duration_ms: u64,
    pub git: GitInfo,
    pub host: HostInfo,
    pub runtime: &'static str,
    /// The image and engine facts when `runtime` is "container".
    pub container: Option<crate::container::ContainerRuntime>,
    pub encoder: Option<EncoderUsed>,
    pub encoder_note: Option<String>,
    pub peers: Vec<Peer>,
    pub nats: RowNats,
    pub counts: Counts,
    pub latency_ms: Option<Latency>,
    pub latency_note: Option<String>,
    pub checks: Vec<Check>,
    pub processes: Vec<ProcessRecord>,
    /// Files in the row folder besides result.json.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    pub total: u32,
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
}

impl Tally {
    pub fn add(&mut self, o: Outcome) {
        self.total += 1;
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skip => self.skip += 1,
        }
    }
}

/// One row as the summary lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RowEntry {
    pub row: String,
    pub title: String,
    pub negative: bool,
    pub outcome: Outcome,
    pub reason: String,
    /// The main figures in one line (published, received, decoded,
    /// latency, encoder), as the progress line shows them.
    pub detail: String,
    pub duration_ms: u64,
    /// Path of its result.json relative to the run folder; null when the row
    /// never started (interrupted or stopped before it).
    pub result: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HarnessInfo {
    pub version: &'static str,
    pub argv: Vec<String>,
    pub bin_dir: String,
}

/// The fields every run's summary starts with (acceptance's and faults'
/// `summary.json`, bench's `result.json`), embedded in each with
/// `#[serde(flatten)]`, so that the files keep their flat shape.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryHeader {
    pub schema_version: u32,
    pub kind: &'static str,
    pub run_id: String,
    /// `running` (rewritten after every row), `complete` or `interrupted`.
    pub status: &'static str,
    /// "pass" only when every selected row passed. Absent from bench's
    /// result, which judges each side apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    pub git: GitInfo,
    pub host: HostInfo,
    pub runtime: &'static str,
    /// The image and engine facts when `runtime` is "container", else
    /// null; absent from bench's result (bench always runs locally).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Option<crate::container::ContainerRuntime>>,
    pub harness: HarnessInfo,
}

/// `summary.json`: rewritten after every row (`status` "running") and at
/// the end ("complete" or "interrupted").
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub head: SummaryHeader,
    pub nats: RunNats,
    /// The mandatory rows that were selected.
    pub totals: Tally,
    /// The invalid row(s), counted apart.
    pub negative: Tally,
    pub rows: Vec<RowEntry>,
    pub rows_not_selected: Vec<String>,
}

impl crate::runner::Summarised for Summary {
    fn header(&mut self) -> &mut SummaryHeader {
        &mut self.head
    }
}

impl crate::runner::UnitResult for RowResult {
    fn closing(&mut self, duration_ms: u64, artifacts: Vec<String>) {
        self.duration_ms = duration_ms;
        self.artifacts = artifacts;
    }
}
