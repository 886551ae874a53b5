//! The fault suite's evidence shapes, mirrored by
//! `evidence/schema/fault_result.schema.json` and
//! `fault_summary.schema.json`. They reuse the acceptance pieces (git, host,
//! encoder, processes, peers, checks, counts, latency, tallies) so that a
//! reader of one knows the other. Anything not measured is `null`.

use serde::Serialize;

use crate::model::{
    Check, Counts, EncoderUsed, GitInfo, HostInfo, Latency, Outcome, Peer, ProcessRecord, RunNats,
    SummaryHeader, Tally,
};

/// NATS in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioNats {
    /// A nats-server took part (the run's, or the scenario's own).
    pub server_present: bool,
    pub url: Option<String>,
    /// `run` (the run's server) or `own` (started, and killed, by the
    /// scenario); null without a server.
    pub server: Option<&'static str>,
    pub passed_to: Vec<String>,
    /// The streamer's own `stats.nats_connects` / `nats_disconnects`.
    pub streamer_nats_connects: Option<u64>,
    pub streamer_nats_disconnects: Option<u64>,
    pub note: Option<String>,
}

/// `<scenario>/result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FaultResult {
    pub schema_version: u32,
    pub kind: &'static str,
    pub run_id: String,
    pub scenario: String,
    pub title: String,
    /// The fault injected, in one sentence.
    pub fault: String,
    pub outcome: Outcome,
    pub reason: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub git: GitInfo,
    pub host: HostInfo,
    pub runtime: &'static str,
    /// The image and engine facts when `runtime` is "container".
    pub container: Option<crate::container::ContainerRuntime>,
    pub protocol: &'static str,
    pub codec: &'static str,
    pub encoder: Option<EncoderUsed>,
    pub encoder_note: Option<String>,
    pub peers: Vec<Peer>,
    pub nats: ScenarioNats,
    pub counts: Counts,
    /// The scenario's own measurements (see the schema, per scenario).
    pub figures: serde_json::Value,
    pub latency_ms: Option<Latency>,
    pub latency_note: Option<String>,
    pub checks: Vec<Check>,
    pub processes: Vec<ProcessRecord>,
    pub artifacts: Vec<String>,
}

/// One scenario as the summary lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioEntry {
    pub scenario: String,
    pub title: String,
    pub outcome: Outcome,
    pub reason: String,
    /// The main figures in one line.
    pub detail: String,
    pub duration_ms: u64,
    pub result: Option<String>,
}

/// `summary.json` of a faults run.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSummary {
    #[serde(flatten)]
    pub head: SummaryHeader,
    pub nats: RunNats,
    pub totals: Tally,
    pub scenarios: Vec<ScenarioEntry>,
    pub scenarios_not_selected: Vec<String>,
}

pub const KIND_RESULT: &str = "fault_scenario";
pub const KIND_SUMMARY: &str = "faults_summary";

impl crate::runner::Summarised for FaultSummary {
    fn header(&mut self) -> &mut SummaryHeader {
        &mut self.head
    }
}

impl crate::runner::UnitResult for FaultResult {
    fn closing(&mut self, duration_ms: u64, artifacts: Vec<String>) {
        self.duration_ms = duration_ms;
        self.artifacts = artifacts;
    }
}
