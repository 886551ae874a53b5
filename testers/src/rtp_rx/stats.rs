//! Statistics over the received RTP packets, and the JSON summary line.
//!
//! Sequence numbers are 16-bit and wrap (RFC 3550 §5.1); a forward step is a
//! modular difference below 2^15. Missing numbers are counted on forward jumps;
//! duplicates and late (reordered) packets add nothing.

use serde::Serialize;

use super::header::RtpHeader;

/// Counts sequence-number gaps of one SSRC, handling 16-bit wrap-around.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqTracker {
    highest: Option<u16>,
    /// Sequence numbers skipped by forward jumps.
    pub gaps: u64,
    /// Packets with an already-seen or older sequence number.
    pub late_or_duplicate: u64,
}

impl SeqTracker {
    /// Forgets the stream (used when the SSRC changes); counters are kept.
    pub fn restart(&mut self) {
        self.highest = None;
    }

    pub fn observe(&mut self, seq: u16) {
        let Some(prev) = self.highest else {
            self.highest = Some(seq);
            return;
        };
        let delta = seq.wrapping_sub(prev);
        if delta != 0 && delta < 0x8000 {
            self.gaps += u64::from(delta - 1);
            self.highest = Some(seq);
        } else {
            self.late_or_duplicate += 1;
        }
    }
}

/// Running totals for one receiver run.
#[derive(Clone, Debug, Default)]
pub struct RxStats {
    pub packets: u64,
    pub invalid_packets: u64,
    pub bytes: u64,
    pub matching_packets: u64,
    pub seen_pt: Option<u8>,
    pub ssrc: Option<u32>,
    current_ssrc: Option<u32>,
    pub ssrc_changes: u64,
    pub first_seq: Option<u16>,
    pub last_seq: Option<u16>,
    pub seq: SeqTracker,
    pub markers: u64,
    pub first_packet_ms: Option<f64>,
}

impl RxStats {
    /// Records one valid RTP packet of `len` bytes received `at_ms` after start.
    pub fn record(&mut self, h: &RtpHeader, len: usize, expected_pt: u8, at_ms: f64) {
        self.packets += 1;
        self.bytes += len as u64;
        if h.payload_type == expected_pt {
            self.matching_packets += 1;
        }
        self.seen_pt = Some(h.payload_type);
        self.first_packet_ms.get_or_insert(at_ms);
        self.ssrc.get_or_insert(h.ssrc);
        match self.current_ssrc {
            Some(s) if s != h.ssrc => {
                self.ssrc_changes += 1;
                self.seq.restart();
            }
            _ => {}
        }
        self.current_ssrc = Some(h.ssrc);
        self.first_seq.get_or_insert(h.sequence);
        self.last_seq = Some(h.sequence);
        self.seq.observe(h.sequence);
        if h.marker {
            self.markers += 1;
        }
    }
}

/// How a run ended, with the seed README's exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Packet threshold (and frame threshold, when given) reached: 0.
    Pass,
    /// A valid RTP packet with another PT arrived: 3.
    PtMismatch,
    /// Something arrived, but not enough before the timeout: 4.
    ThresholdNotMet,
    /// `--strict` and a strict check failed (seed README: protocol validation error): 7.
    StrictViolation,
    /// Nothing arrived before the timeout: 124.
    Timeout,
    /// `--expect-body` and a body message was invalid or its timestamp did
    /// not match its access unit (a protocol validation error): 7.
    BodyCheckFailed,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Pass => 0,
            Outcome::PtMismatch => 3,
            Outcome::ThresholdNotMet => 4,
            Outcome::StrictViolation | Outcome::BodyCheckFailed => 7,
            Outcome::Timeout => 124,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::PtMismatch => "pt_mismatch",
            Outcome::ThresholdNotMet => "threshold_not_met",
            Outcome::StrictViolation => "strict_violation",
            Outcome::Timeout => "timeout",
            Outcome::BodyCheckFailed => "body_check_failed",
        }
    }
}

/// The one-line JSON written by `--json` (field order is the documented one).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub result: &'static str,
    pub exit_code: i32,
    pub packets: u64,
    pub invalid_packets: u64,
    pub bytes: u64,
    pub expected_pt: u8,
    pub seen_pt: Option<u8>,
    pub ssrc: Option<u32>,
    pub ssrc_changes: u64,
    pub first_seq: Option<u16>,
    pub last_seq: Option<u16>,
    pub seq_gaps: u64,
    pub markers: u64,
    pub first_packet_ms: Option<f64>,
    pub elapsed_ms: f64,
    pub threshold: u64,
}

impl Summary {
    pub fn new(
        outcome: Outcome,
        s: &RxStats,
        expected_pt: u8,
        threshold: u64,
        elapsed_ms: f64,
    ) -> Self {
        Self {
            result: outcome.as_str(),
            exit_code: outcome.exit_code(),
            packets: s.packets,
            invalid_packets: s.invalid_packets,
            bytes: s.bytes,
            expected_pt,
            seen_pt: s.seen_pt,
            ssrc: s.ssrc,
            ssrc_changes: s.ssrc_changes,
            first_seq: s.first_seq,
            last_seq: s.last_seq,
            seq_gaps: s.seq.gaps,
            markers: s.markers,
            first_packet_ms: s.first_packet_ms,
            elapsed_ms,
            threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(seqs: &[u16]) -> (u64, u64) {
        let mut t = SeqTracker::default();
        seqs.iter().for_each(|&s| t.observe(s));
        (t.gaps, t.late_or_duplicate)
    }

    #[test]
    fn consecutive_has_no_gaps() {
        assert_eq!(gaps(&[10, 11, 12, 13]), (0, 0));
    }

    #[test]
    fn forward_jump_counts_missing() {
        assert_eq!(gaps(&[10, 11, 15, 16, 20]), (3 + 3, 0));
    }

    #[test]
    fn wrap_around_is_continuous() {
        assert_eq!(gaps(&[65533, 65534, 65535, 0, 1]), (0, 0));
        // 65534 -> 1 skips 65535 and 0
        assert_eq!(gaps(&[65534, 1]), (2, 0));
    }

    #[test]
    fn duplicates_and_late_packets_add_no_gaps() {
        assert_eq!(gaps(&[5, 5, 7, 6, 8]), (1, 2));
        assert_eq!(gaps(&[0, 65535]), (0, 1)); // backwards across the wrap
    }

    fn header(seq: u16, ssrc: u32, pt: u8, marker: bool) -> RtpHeader {
        RtpHeader {
            padding: false,
            extension: false,
            marker,
            payload_type: pt,
            sequence: seq,
            timestamp: 0,
            ssrc,
            csrcs: vec![],
            extension_profile: None,
            extension_len: 0,
            payload_offset: 12,
            payload_len: 0,
            padding_len: 0,
        }
    }

    #[test]
    fn ssrc_change_restarts_sequence_tracking() {
        let mut s = RxStats::default();
        for (seq, ssrc) in [(100, 1), (101, 1), (9000, 2), (9002, 2), (9003, 1)] {
            s.record(&header(seq, ssrc, 96, seq % 2 == 0), 20, 96, 1.5);
        }
        assert_eq!(s.ssrc, Some(1));
        assert_eq!(s.ssrc_changes, 2);
        assert_eq!(s.seq.gaps, 1); // 9000 -> 9002 only
        assert_eq!((s.first_seq, s.last_seq), (Some(100), Some(9003)));
        assert_eq!((s.packets, s.bytes, s.markers), (5, 100, 3));
        assert_eq!(s.first_packet_ms, Some(1.5));
    }

    #[test]
    fn summary_json_shape() {
        let mut s = RxStats::default();
        s.record(&header(7, 0xABCD, 97, true), 30, 96, 2.0);
        let json = serde_json::to_value(Summary::new(Outcome::PtMismatch, &s, 96, 1, 3.0)).unwrap();
        assert_eq!(json["result"], "pt_mismatch");
        assert_eq!(json["exit_code"], 3);
        assert_eq!(json["seen_pt"], 97);
        assert_eq!(json["ssrc"], 0xABCD);
        assert_eq!(json["seq_gaps"], 0);
        let empty = serde_json::to_value(Summary::new(
            Outcome::Timeout,
            &RxStats::default(),
            96,
            1,
            3.0,
        ))
        .unwrap();
        assert!(
            empty["ssrc"].is_null()
                && empty["first_seq"].is_null()
                && empty["first_packet_ms"].is_null()
        );
        assert_eq!(empty["exit_code"], 124);
    }
}
