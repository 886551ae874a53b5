//! The evidence shapes of `harness interop`: one `result.json` per row and
//! a `summary.json`, beside acceptance's but with their own `kind`s, since
//! a row here may also be `recorded` (run and written down, not judged).
//! Anything not measured is `null`, never a guess.

use serde::Serialize;

use crate::model::{
    Check, Counts, EncoderUsed, GitInfo, HostInfo, ProcessRecord, RunNats, SummaryHeader,
};

pub const KIND_ROW: &str = "interop_row";
pub const KIND_SUMMARY: &str = "interop_summary";

/// `pass`/`fail` for judged rows; `recorded` for rows that ran but whose
/// behaviour is only written down (nginx-rtmp with H.265); `skip` when the
/// peer was not given or the run was interrupted. Only `fail` fails a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Recorded,
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Recorded => "recorded",
            Verdict::Skip => "skip",
        }
    }
}

/// The RTMP server of a row, as it was reached.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// nginx, srs, zlm or mediamtx.
    pub kind: &'static str,
    /// `started` (by the harness, config in the run folder), `external`
    /// (`--server-url`), or `none` (skipped).
    pub how: &'static str,
    pub program: Option<String>,
    /// What the program or its API says about its version.
    pub version: Option<String>,
    /// The RTMP application URL; the row's stream name is appended.
    pub rtmp_url: Option<String>,
    pub api_url: Option<String>,
    /// The generated configuration, relative to the run folder.
    pub config: Option<String>,
    pub note: Option<String>,
}

/// What the server's own HTTP API said about the row's stream (the last
/// answer that listed it, plus when the player was first seen).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerView {
    /// e.g. "nginx /stat", "SRS /api/v1/streams/".
    pub source: String,
    /// Answers read while the row ran, and how many listed the stream.
    pub polls: u64,
    pub polls_listing_stream: u64,
    pub stream: Option<String>,
    pub video_codec: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub bytes_in: Option<u64>,
    /// Bytes sent to the players (nginx `bytes_out`, SRS `send_bytes`,
    /// MediaMTX `bytesSent`; ZLMediaKit reports none).
    pub bytes_out: Option<u64>,
    pub frames: Option<u64>,
    /// Players attached (publisher not counted).
    pub readers: Option<u64>,
    pub publishing: Option<bool>,
    /// Milliseconds after the simulator started at which the server first
    /// listed a player; negative when before (the player waited for the
    /// publish), null when never seen.
    pub reader_seen_at_ms: Option<i64>,
    /// The last API error, when answers failed.
    pub error: Option<String>,
}

/// The far-side player: ffmpeg pulling the stream back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlayerReport {
    pub program: String,
    pub version: Option<String>,
    pub url: String,
    /// Frames ffmpeg decoded (its `-progress` `frame=`, `-fps_mode
    /// passthrough`, so no frame is duplicated or dropped on output).
    pub frames_decoded: Option<u64>,
    /// ffmpeg's own description of the stream it probed.
    pub stream_line: Option<String>,
    /// Error-looking lines from its log (at most a few).
    pub errors: Vec<String>,
    pub exit: Option<String>,
    /// How the harness ended it, when it did not end by itself.
    pub stopped: Option<String>,
    /// How the threshold was derived, in words.
    pub counting: String,
}

/// `<row>/result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct InteropResult {
    pub schema_version: u32,
    pub kind: &'static str,
    pub run_id: String,
    pub row: String,
    pub title: String,
    pub server: ServerInfo,
    pub codec: &'static str,
    pub rtmp_mode: &'static str,
    /// Whether pass/fail applies (false: the row is only recorded).
    pub judged: bool,
    pub outcome: Verdict,
    pub reason: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub git: GitInfo,
    pub host: HostInfo,
    pub encoder: Option<EncoderUsed>,
    pub encoder_note: Option<String>,
    pub counts: Counts,
    /// Frames the player had to decode for a pass.
    pub decode_threshold: Option<u64>,
    pub server_view: Option<ServerView>,
    pub player: Option<PlayerReport>,
    /// What happened, in sentences (the substance of a recorded row).
    pub observations: Vec<String>,
    pub checks: Vec<Check>,
    pub processes: Vec<ProcessRecord>,
    pub artifacts: Vec<String>,
}

impl crate::runner::UnitResult for InteropResult {
    fn closing(&mut self, duration_ms: u64, artifacts: Vec<String>) {
        self.duration_ms = duration_ms;
        self.artifacts = artifacts;
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct InteropTally {
    pub total: u32,
    pub pass: u32,
    pub fail: u32,
    pub recorded: u32,
    pub skip: u32,
}

impl InteropTally {
    pub fn add(&mut self, v: Verdict) {
        self.total += 1;
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Recorded => self.recorded += 1,
            Verdict::Skip => self.skip += 1,
        }
    }
}

/// One row as the summary lists it.
#[derive(Debug, Clone, Serialize)]
pub struct InteropEntry {
    pub row: String,
    pub server: &'static str,
    pub judged: bool,
    pub outcome: Verdict,
    pub reason: String,
    pub detail: String,
    pub duration_ms: u64,
    pub result: Option<String>,
}

/// Versions of the third-party tools the run used.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tools {
    pub ffmpeg: Option<String>,
    pub ffmpeg_version: Option<String>,
    /// Why there is no player, when there is none.
    pub ffmpeg_missing: Option<String>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct InteropSummary {
    #[serde(flatten)]
    pub head: SummaryHeader,
    pub nats: RunNats,
    pub tools: Tools,
    pub servers: Vec<ServerInfo>,
    pub totals: InteropTally,
    pub rows: Vec<InteropEntry>,
}

impl crate::runner::Summarised for InteropSummary {
    fn header(&mut self) -> &mut SummaryHeader {
        &mut self.head
    }
}
