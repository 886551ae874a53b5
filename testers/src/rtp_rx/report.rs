//! The `--json` line: the original [`Summary`] fields first, unchanged, then
//! the access-unit, strict-check, RTCP/latency, decode and dump fields.
//! Values that were not measured are `null`, never invented.

use serde::Serialize;

use super::body_sei::BodySeiReport;
use super::decode::DecodeReport;
use super::depay::Codec;
use super::feedback_plan::FeedbackReport;
use super::latency::LatencySummary;
use super::session::Session;
use super::settings::RtcpPort;
use super::stats::{Outcome, Summary};
use super::timing::Gap;

/// The full JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub summary: Summary,
    pub codec: Codec,
    pub sdp: Option<String>,
    pub sdp_parameter_sets: usize,
    pub rtcp_port: Option<u16>,
    pub frame_threshold: Option<u64>,
    pub strict: bool,
    /// Strict checks that failed (reported with or without `--strict`).
    pub strict_failures: Vec<&'static str>,
    pub access_units_complete: u64,
    pub access_units_incomplete: u64,
    pub missing_marker: u64,
    pub fu_errors: u64,
    pub malformed_packets: u64,
    pub late_or_duplicate_packets: u64,
    pub keyframes: u64,
    pub units_before_keyframe: u64,
    pub parameter_sets_before_first_keyframe: Option<bool>,
    pub missing_parameter_sets: Vec<&'static str>,
    pub rtcp_packets: u64,
    pub rtcp_invalid: u64,
    pub rtcp_sender_reports: u64,
    pub rtcp_byes: u64,
    pub latency_ms: Option<LatencySummary>,
    /// Complete AUs that came before any sender report of their SSRC.
    pub latency_units_without_sr: u64,
    /// Why `latency_ms` is null.
    pub latency_note: Option<String>,
    pub decoded_frames: Option<u64>,
    pub decoded_format: Option<String>,
    pub decoded_width: Option<u32>,
    pub decoded_height: Option<u32>,
    pub decoder_units_fed: Option<u64>,
    pub decode_error: Option<String>,
    pub dumped_units: Option<u64>,
    pub dump_error: Option<String>,
    /// Indices, among the complete access units, of the first 64 keyframe units.
    pub keyframe_indices: Vec<u64>,
    /// Body-tracking SEI (docs/body-sei.md), with `--expect-body`'s verdict.
    pub body_sei: BodySeiReport,
    /// Complete units whose RTP timestamp is not after the previous one's
    /// (modulo 2^32).
    pub rtp_timestamps_backwards: u64,
    /// Largest arrival gap between consecutive complete units; null with
    /// fewer than two.
    pub max_unit_gap_ms: Option<f64>,
    /// Gaps over 100 ms (the first 64): arrival of the unit that ended the
    /// gap (Unix ns), its length, and whether that unit is a keyframe.
    pub unit_gaps: Vec<Gap>,
    pub unit_gaps_not_listed: u64,
    /// Arrival (Unix ns) of the first 1024 keyframe units.
    pub keyframe_arrivals_unix_ns: Vec<i64>,
    pub first_unit_unix_ns: Option<i64>,
    pub last_unit_unix_ns: Option<i64>,
    /// `--linger-ms`, when given.
    pub linger_ms: Option<u64>,
    /// `--latency-warmup-units`, and how many units it left out.
    pub latency_warmup_units: u64,
    pub latency_warmup_units_skipped: u64,
    /// RTCP feedback we sent (`--send-pli-after-ms`, `--send-fir-after-ms`,
    /// `--rr-interval-ms`) and the keyframes that answered it.
    #[serde(flatten)]
    pub feedback: FeedbackReport,
}

impl Report {
    /// `rtcp_bound`: the RTCP port that was actually bound, if any.
    pub fn new(
        outcome: Outcome,
        session: &Session,
        elapsed_ms: f64,
        rtcp_bound: Option<u16>,
        decode: Option<DecodeReport>,
    ) -> Self {
        let s = &session.settings;
        let c = &session.assembler.counters;
        let latency_ms = session.latency.summary();
        let latency_note = match (&latency_ms, rtcp_bound) {
            (Some(_), _) => None,
            (None, None) => Some(match s.rtcp_port {
                RtcpPort::None => "no RTCP port (RTP port 65535)".to_string(),
                RtcpPort::Explicit(p) | RtcpPort::Default(p) => {
                    format!("RTCP port {p} could not be bound")
                }
            }),
            (None, Some(_)) if session.rtcp.sender_reports == 0 => {
                Some("no RTCP sender report received".to_string())
            }
            (None, Some(_)) if session.latency_without_sr > 0 => Some(
                "no sender report for the SSRC of the complete access units before they arrived"
                    .to_string(),
            ),
            (None, Some(_)) => {
                Some("no complete access unit after the first sender report".to_string())
            }
        };
        let d = decode.as_ref();
        Self {
            summary: Summary::new(
                outcome,
                &session.stats,
                s.expect_pt,
                s.packet_threshold,
                elapsed_ms,
            ),
            codec: s.codec,
            sdp: s.sdp_path.as_ref().map(|p| p.display().to_string()),
            sdp_parameter_sets: s.sdp_parameter_sets().len(),
            rtcp_port: rtcp_bound,
            frame_threshold: s.frame_threshold,
            strict: s.strict,
            strict_failures: session.strict_failures(),
            access_units_complete: c.access_units_complete,
            access_units_incomplete: c.access_units_incomplete,
            missing_marker: c.missing_marker,
            fu_errors: c.fu_errors,
            malformed_packets: c.malformed_packets,
            late_or_duplicate_packets: c.late_or_duplicate,
            keyframes: session.checks.keyframes,
            units_before_keyframe: session.checks.units_before_keyframe,
            parameter_sets_before_first_keyframe: session
                .checks
                .parameter_sets_before_first_keyframe,
            missing_parameter_sets: session.checks.missing_parameter_sets.clone(),
            rtcp_packets: session.rtcp.packets,
            rtcp_invalid: session.rtcp.invalid,
            rtcp_sender_reports: session.rtcp.sender_reports,
            rtcp_byes: session.rtcp.byes,
            latency_ms,
            latency_units_without_sr: session.latency_without_sr,
            latency_note,
            decoded_frames: d.map(|d| d.frames),
            decoded_format: d.and_then(|d| d.format.clone()),
            decoded_width: d.and_then(|d| d.width),
            decoded_height: d.and_then(|d| d.height),
            decoder_units_fed: d.map(|d| d.fed_units),
            decode_error: d.and_then(|d| d.error.clone()),
            dumped_units: session.dump.as_ref().map(|d| d.units),
            dump_error: session.dump_error.clone(),
            keyframe_indices: session.keyframe_indices.clone(),
            body_sei: BodySeiReport {
                stats: session.body.clone(),
                expect: s.expect_body,
                failure: session.body.failure(s.expect_body),
            },
            rtp_timestamps_backwards: session.timing.backwards,
            max_unit_gap_ms: session.timing.max_gap_ms,
            unit_gaps: session.timing.gaps.clone(),
            unit_gaps_not_listed: session.timing.gaps_not_listed,
            keyframe_arrivals_unix_ns: session.timing.keyframe_arrivals_unix_ns.clone(),
            first_unit_unix_ns: session.timing.first_unit_unix_ns,
            last_unit_unix_ns: session.timing.last_unit_unix_ns(),
            linger_ms: s.linger_ms,
            latency_warmup_units: s.latency_warmup_units,
            latency_warmup_units_skipped: session.latency_warmup_skipped,
            feedback: session.feedback.finish(),
        }
    }
}
