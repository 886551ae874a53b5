//! The streamer's status as JSON: published on `cvmmap_streamer.<key>.status`
//! and returned by the `stats` endpoint. Built from counters only (pure).

use serde::Serialize;

use super::proto::{self, GetSourceInfoResponse, source_flags};
use crate::encode::EncoderReport;
use crate::signals::ProducerState;
use crate::telemetry::StatsSnapshot;

/// Version of the JSON below; bumped on incompatible changes.
pub const STATUS_SCHEMA: u32 = 1;

/// Frames arriving within this long count as streaming.
const STREAMING_WITHIN_MS: u64 = 2000;

/// One word for what the streamer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// No frame yet.
    Waiting,
    Streaming,
    /// Frames stopped without the producer saying OFFLINE.
    Idle,
    /// The producer said OFFLINE and no frames come.
    ProducerOffline,
    /// The streamer is exiting (last status).
    Stopped,
}

impl StreamState {
    pub fn of(producer: ProducerState, since_last_frame_ms: Option<u64>, stopping: bool) -> Self {
        if stopping {
            return Self::Stopped;
        }
        let fresh = since_last_frame_ms.is_some_and(|ms| ms <= STREAMING_WITHIN_MS);
        match (producer, since_last_frame_ms) {
            // OFFLINE wins once the frames it announced have stopped.
            (ProducerState::Offline, Some(ms)) if ms > 200 => Self::ProducerOffline,
            (ProducerState::Offline, None) => Self::ProducerOffline,
            (_, None) => Self::Waiting,
            _ if fresh => Self::Streaming,
            _ => Self::Idle,
        }
    }
}

/// The producer's `source.info` answer, in words.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceInfo {
    /// The subject that answered (`producer.source.info` or `control.source.info`).
    pub subject: String,
    pub error: String,
    pub source_kind: String,
    pub timestamp_domain: String,
    pub flags: u32,
    pub flag_names: Vec<&'static str>,
    pub timeline_start_ns: u64,
    pub timeline_end_ns: u64,
    pub duration_ns: u64,
    pub current_timestamp_ns: u64,
    pub current_frame_count: u32,
}

fn enum_name<E: std::fmt::Debug>(value: i32, parse: fn(i32) -> Option<E>) -> String {
    match parse(value) {
        Some(e) => {
            let debug = format!("{e:?}");
            // CamelCase -> snake_case.
            let mut out = String::new();
            for (i, c) in debug.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        None => format!("unknown({value})"),
    }
}

impl SourceInfo {
    pub fn from_response(subject: &str, r: &GetSourceInfoResponse) -> Self {
        const NAMES: [(u32, &str); 6] = [
            (source_flags::CAN_SEEK, "can_seek"),
            (source_flags::AUTO_LOOP, "auto_loop"),
            (source_flags::HAS_DEPTH, "has_depth"),
            (source_flags::HAS_BODY, "has_body"),
            (source_flags::CAN_RECORD, "can_record"),
            (source_flags::LOOP_EMITS_RESET, "loop_emits_reset"),
        ];
        Self {
            subject: subject.to_owned(),
            error: enum_name(r.error, |v| proto::ErrorCode::try_from(v).ok()),
            source_kind: enum_name(r.source_kind, |v| proto::SourceKind::try_from(v).ok()),
            timestamp_domain: enum_name(r.timestamp_domain, |v| {
                proto::TimestampDomain::try_from(v).ok()
            }),
            flags: r.flags,
            flag_names: NAMES
                .iter()
                .filter(|(bit, _)| r.flags & bit != 0)
                .map(|(_, n)| *n)
                .collect(),
            timeline_start_ns: r.timeline_start_ns,
            timeline_end_ns: r.timeline_end_ns,
            duration_ns: r.duration_ns,
            current_timestamp_ns: r.current_timestamp_ns,
            current_frame_count: r.current_frame_count,
        }
    }
}

/// Frames per second and bitrate over the last status period.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rates {
    last: Option<(u64, u64, u64)>,
    pub fps: f64,
    pub bitrate_kbps: f64,
}

impl Rates {
    /// Updates from counters at `now_ms` (monotonic).
    pub fn sample(&mut self, now_ms: u64, s: &StatsSnapshot) {
        let frames = s.encode.frames_encoded + s.encode.frames_passthrough;
        let bytes = s.encode.access_unit_bytes;
        if let Some((t, f, b)) = self.last
            && now_ms > t
        {
            let dt = (now_ms - t) as f64 / 1000.0;
            self.fps = frames.saturating_sub(f) as f64 / dt;
            self.bitrate_kbps = bytes.saturating_sub(b) as f64 * 8.0 / 1000.0 / dt;
        }
        self.last = Some((now_ms, frames, bytes));
    }
}

/// The JSON status document.
#[derive(Debug, Clone, Serialize)]
pub struct StreamerStatus {
    pub schema: u32,
    pub key: String,
    pub instance: Option<String>,
    pub state: StreamState,
    pub producer: ProducerState,
    pub codec: String,
    /// The encoder in use and why.
    pub encoder: EncoderReport,
    pub fps: f64,
    pub bitrate_kbps: f64,
    pub frames_ingested: u64,
    pub frames_encoded: u64,
    pub frames_dropped: u64,
    pub frames_torn: u64,
    pub reconnects_rtmp: u64,
    pub reconnects_nats: u64,
    pub source_info: Option<SourceInfo>,
    pub uptime_ms: u64,
    /// Wall clock, Unix ns.
    pub timestamp_ns: u64,
    /// Every counter.
    pub stats: StatsSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        use ProducerState::*;
        assert_eq!(StreamState::of(Unknown, None, false), StreamState::Waiting);
        assert_eq!(
            StreamState::of(Online, Some(10), false),
            StreamState::Streaming
        );
        assert_eq!(
            StreamState::of(Online, Some(5000), false),
            StreamState::Idle
        );
        assert_eq!(
            StreamState::of(Offline, Some(10), false),
            StreamState::Streaming
        );
        assert_eq!(
            StreamState::of(Offline, Some(300), false),
            StreamState::ProducerOffline
        );
        assert_eq!(StreamState::of(Online, Some(1), true), StreamState::Stopped);
    }

    #[test]
    fn rates_from_deltas() {
        let mut r = Rates::default();
        let mut s = StatsSnapshot::default();
        r.sample(1000, &s);
        s.encode.frames_encoded = 30;
        s.encode.access_unit_bytes = 125_000;
        r.sample(2000, &s);
        assert_eq!(r.fps, 30.0);
        assert_eq!(r.bitrate_kbps, 1000.0);
    }

    #[test]
    fn source_info_names() {
        let r = GetSourceInfoResponse {
            source_kind: 1,
            timestamp_domain: 2,
            flags: source_flags::HAS_BODY | source_flags::CAN_SEEK,
            error: 9,
            ..Default::default()
        };
        let i = SourceInfo::from_response("s", &r);
        assert_eq!(i.source_kind, "live");
        assert_eq!(i.timestamp_domain, "media_time_ns");
        assert_eq!(i.flag_names, ["can_seek", "has_body"]);
        assert_eq!(i.error, "unknown(9)");
    }
}
