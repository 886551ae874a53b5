//! Everything a run learns from its datagrams, independent of sockets:
//! RTP header statistics, access-unit assembly, keyframe checks, RTCP sender
//! reports and latency, and the optional decoder and unit dump.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use super::body_sei::BodySeiStats;
use super::checks::KeyframeChecks;
use super::decode::Decoder;
use super::depay::{AccessUnit, Assembler, Packet};
use super::dump::UnitDump;
use super::feedback_plan::{FeedbackPlan, PlanArgs};
use super::header;
use super::latency::{self, LatencySamples};
use super::rtcp::{self, RtcpPacket, SenderReport};
use super::settings::Settings;
use super::stats::{Outcome, RxStats};
use super::timing::UnitTiming;

/// RTCP totals.
#[derive(Clone, Debug, Default)]
pub struct RtcpStats {
    /// Valid compound packets.
    pub packets: u64,
    /// Datagrams on the RTCP port that failed validation.
    pub invalid: u64,
    pub sender_reports: u64,
    pub byes: u64,
    /// Latest sender report per SSRC.
    pub latest_sr: HashMap<u32, SenderReport>,
}

/// The state of one run.
pub struct Session {
    pub settings: Settings,
    pub stats: RxStats,
    pub assembler: Assembler,
    pub checks: KeyframeChecks,
    pub rtcp: RtcpStats,
    pub latency: LatencySamples,
    /// Complete AUs that arrived with no sender report of their SSRC yet.
    pub latency_without_sr: u64,
    /// Complete units left out of `latency` (`--latency-warmup-units`).
    pub latency_warmup_skipped: u64,
    pub decoder: Option<Decoder>,
    pub dump: Option<UnitDump>,
    pub dump_error: Option<String>,
    /// Body-tracking SEI found in the complete access units.
    pub body: BodySeiStats,
    /// Complete access units so far.
    pub complete_units: u64,
    /// Indices (among the complete units) of the first keyframe units.
    pub keyframe_indices: Vec<u64>,
    /// Timestamps, arrival gaps and keyframe arrivals of the complete units.
    pub timing: UnitTiming,
    /// RTCP we send back (PLI, FIR, RR) and what it measures; idle unless
    /// set up with its flags.
    pub feedback: FeedbackPlan,
    scratch: Vec<AccessUnit>,
}

/// How many keyframe indices the report keeps.
pub const KEYFRAME_INDICES: usize = 64;

/// Unix time of a `SystemTime`, in ns (negative before 1970).
pub fn unix_ns(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

impl Session {
    pub fn new(settings: Settings, decoder: Option<Decoder>, dump: Option<UnitDump>) -> Self {
        let checks = KeyframeChecks::new(settings.codec, settings.sdp_parameter_sets());
        Self {
            assembler: Assembler::new(settings.codec),
            checks,
            settings,
            stats: RxStats::default(),
            rtcp: RtcpStats::default(),
            latency: LatencySamples::default(),
            latency_without_sr: 0,
            latency_warmup_skipped: 0,
            decoder,
            dump,
            dump_error: None,
            body: BodySeiStats::default(),
            complete_units: 0,
            keyframe_indices: Vec::new(),
            timing: UnitTiming::default(),
            feedback: FeedbackPlan::new(PlanArgs::default(), 0),
            scratch: Vec::new(),
        }
    }

    /// One datagram from the RTP port, received `at_ms` after the start at
    /// wall-clock time `arrival`. Returns an outcome once one is decided.
    pub fn on_rtp(&mut self, datagram: &[u8], at_ms: f64, arrival: SystemTime) -> Option<Outcome> {
        let h = match header::parse(datagram) {
            Ok(h) => h,
            Err(e) => {
                self.stats.invalid_packets += 1;
                tracing::debug!("invalid packet of {} bytes: {e}", datagram.len());
                return None;
            }
        };
        self.stats
            .record(&h, datagram.len(), self.settings.expect_pt, at_ms);
        if h.payload_type != self.settings.expect_pt {
            return Some(Outcome::PtMismatch);
        }
        self.feedback.on_rtp(h.ssrc, h.sequence, h.timestamp, at_ms);
        let payload = &datagram[h.payload_offset..h.payload_offset + h.payload_len];
        let mut units = std::mem::take(&mut self.scratch);
        self.assembler.push(
            &Packet {
                ssrc: h.ssrc,
                sequence: h.sequence,
                timestamp: h.timestamp,
                marker: h.marker,
                payload,
                arrival,
            },
            &mut units,
        );
        for au in units.drain(..) {
            self.on_access_unit(&au);
        }
        self.scratch = units;

        if self.settings.strict && !self.strict_failures().is_empty() {
            return Some(Outcome::StrictViolation);
        }
        if self.settings.expect_body.is_some() && self.body.violated() {
            return Some(Outcome::BodyCheckFailed);
        }
        self.passed().then_some(Outcome::Pass)
    }

    fn on_access_unit(&mut self, au: &AccessUnit) {
        self.checks.observe(au);
        if !au.is_complete() {
            tracing::debug!(
                "incomplete access unit ts={} seq {}..={} (marker={} lost={} fu_error={} malformed={})",
                au.timestamp,
                au.first_seq,
                au.last_seq,
                au.marker,
                au.lost,
                au.fu_error,
                au.malformed
            );
            return;
        }
        let sr = self.rtcp.latest_sr.get(&au.ssrc);
        match sr {
            _ if self.latency_warmup_skipped < self.settings.latency_warmup_units => {
                self.latency_warmup_skipped += 1;
            }
            Some(sr) => {
                self.latency
                    .push(latency::latency_ms(sr, au.timestamp, unix_ns(au.arrival)))
            }
            None => self.latency_without_sr += 1,
        }
        let capture_ns = sr.map(|sr| latency::capture_unix_ns(sr, au.timestamp));
        self.body.observe(self.settings.codec, &au.nals, capture_ns);
        let keyframe = au.has_keyframe(self.settings.codec);
        self.timing
            .observe(au.timestamp, unix_ns(au.arrival), keyframe);
        if keyframe {
            self.feedback.on_keyframe(au.timestamp);
        }
        if keyframe && self.keyframe_indices.len() < KEYFRAME_INDICES {
            self.keyframe_indices.push(self.complete_units);
        }
        self.complete_units += 1;
        if let Some(dump) = self.dump.as_mut()
            && self.dump_error.is_none()
            && let Err(e) = dump.write(&au.annex_b())
        {
            tracing::error!("--dump-units: {e}");
            self.dump_error = Some(e.to_string());
        }
        if let Some(decoder) = self.decoder.as_mut() {
            decoder.feed(au);
        }
    }

    /// One datagram from the RTCP port.
    pub fn on_rtcp(&mut self, datagram: &[u8]) {
        self.on_rtcp_from(datagram, None, 0.0);
    }

    /// One datagram from the RTCP port, from `peer`, `at_ms` after the
    /// start: a sender report also tells the feedback plan where the
    /// sender's RTCP socket is and what to echo as LSR.
    pub fn on_rtcp_from(&mut self, datagram: &[u8], peer: Option<SocketAddr>, at_ms: f64) {
        match rtcp::parse_compound(datagram) {
            Ok(packets) => {
                self.rtcp.packets += 1;
                for p in packets {
                    match p {
                        RtcpPacket::SenderReport(sr) => {
                            self.rtcp.sender_reports += 1;
                            tracing::debug!("RTCP SR {sr:?}");
                            self.rtcp.latest_sr.insert(sr.ssrc, sr);
                            if let Some(peer) = peer {
                                self.feedback.on_sr(&sr, peer, at_ms);
                            }
                        }
                        RtcpPacket::Bye { .. } => self.rtcp.byes += 1,
                        _ => {}
                    }
                }
            }
            Err(e) => {
                self.rtcp.invalid += 1;
                tracing::debug!("invalid RTCP datagram of {} bytes: {e}", datagram.len());
            }
        }
    }

    /// Packet threshold met and, when given, frame threshold and body
    /// message count met.
    pub fn passed(&self) -> bool {
        self.stats.matching_packets >= self.settings.packet_threshold
            && self
                .settings
                .frame_threshold
                .is_none_or(|n| self.assembler.counters.access_units_complete >= n)
            && self
                .settings
                .expect_body
                .is_none_or(|n| self.body.messages >= n)
    }

    /// Names of the strict checks that failed so far.
    pub fn strict_failures(&self) -> Vec<&'static str> {
        let c = &self.assembler.counters;
        let mut failed = Vec::new();
        if self.stats.ssrc_changes > 0 {
            failed.push("ssrc_changed");
        }
        if self.checks.parameter_sets_before_first_keyframe == Some(false) {
            failed.push("parameter_sets_missing_before_first_keyframe");
        }
        if c.missing_marker > 0 {
            failed.push("missing_marker");
        }
        if c.fu_errors > 0 {
            failed.push("fu_errors");
        }
        if c.malformed_packets > 0 {
            failed.push("malformed_packets");
        }
        failed
    }
}
