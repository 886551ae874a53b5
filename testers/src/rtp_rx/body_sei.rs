//! The `body_sei` object of the report: body-tracking SEI messages
//! (docs/body-sei.md) found in the complete access units, validated
//! ([`super::body`]), and their `timestamp_ns` compared with the access
//! unit's capture time from the RTCP sender report ([`super::latency`]).

use serde::Serialize;

use super::body::{self, BodyError, BodyHeader};
use super::depay::Codec;
use super::sei;

/// How many frame_count values `first_frame_counts` keeps.
pub const FIRST_FRAME_COUNTS: usize = 32;
/// A body timestamp matches its access unit within this (1 ms).
pub const TS_TOLERANCE_NS: u64 = 1_000_000;

/// Running totals; serialized as the `body_sei` object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BodySeiStats {
    /// Complete access units with at least one body SEI message.
    pub units_with_body: u64,
    /// Body SEI messages (our UUID), valid or not.
    pub messages: u64,
    /// Messages that failed validation (or were cut short).
    pub invalid: u64,
    /// frame_count of the first valid messages, in arrival order.
    pub first_frame_counts: Vec<u32>,
    /// |timestamp_ns − capture time| <= 1 ms.
    pub ts_matched: u64,
    /// Older than the unit: its frame had already gone out when the message
    /// arrived, so it rides on a later unit (docs/body-sei.md "Which access
    /// unit": allowed, and counted by the streamer as `body_late`).
    pub ts_late: u64,
    /// Newer than the unit: a message put in front of its own frame, which
    /// the attachment rule never does.
    pub ts_mismatched: u64,
    /// No sender report for the unit's SSRC yet.
    pub ts_unchecked: u64,
    /// Largest |timestamp_ns − capture time| among checked messages, in ns.
    pub max_ts_delta_ns: Option<u64>,
    /// SEI NAL units (ours or not) whose RBSP could not be read to its end.
    pub sei_malformed: u64,
    pub first_invalid: Option<String>,
    pub first_mismatch: Option<String>,
}

impl BodySeiStats {
    /// One complete access unit (`nals` without start codes); `capture_ns`
    /// is its capture time in Unix ns from the sender report, if any.
    pub fn observe(&mut self, codec: Codec, nals: &[Vec<u8>], capture_ns: Option<i64>) {
        let mut found = 0u64;
        for nal in nals {
            let Some(scan) = sei::scan_nal(codec, nal) else {
                continue;
            };
            if let Some(e) = scan.error {
                self.sei_malformed += 1;
                tracing::debug!("SEI NAL unit of {} bytes: {e}", nal.len());
            }
            for _ in 0..scan.truncated_bodies {
                found += 1;
                self.invalid(BodyError::Truncated);
            }
            for b in &scan.bodies {
                found += 1;
                match body::parse(b) {
                    Ok(h) => self.valid(&h, capture_ns),
                    Err(e) => self.invalid(e),
                }
            }
        }
        self.messages += found;
        if found > 0 {
            self.units_with_body += 1;
        }
    }

    fn invalid(&mut self, e: BodyError) {
        self.invalid += 1;
        tracing::debug!("invalid body message: {e}");
        self.first_invalid.get_or_insert_with(|| e.to_string());
    }

    fn valid(&mut self, h: &BodyHeader, capture_ns: Option<i64>) {
        if self.first_frame_counts.len() < FIRST_FRAME_COUNTS {
            self.first_frame_counts.push(h.frame_count);
        }
        let Some(capture) = capture_ns else {
            self.ts_unchecked += 1;
            return;
        };
        let delta = (i128::from(h.timestamp_ns) - i128::from(capture)).unsigned_abs();
        let delta = u64::try_from(delta).unwrap_or(u64::MAX);
        self.max_ts_delta_ns = Some(self.max_ts_delta_ns.map_or(delta, |m| m.max(delta)));
        if delta <= TS_TOLERANCE_NS {
            self.ts_matched += 1;
        } else if i128::from(h.timestamp_ns) < i128::from(capture) {
            self.ts_late += 1;
        } else {
            self.ts_mismatched += 1;
            self.first_mismatch.get_or_insert_with(|| {
                format!(
                    "frame_count {} timestamp_ns {} is {delta} ns after the access unit's capture time {capture}",
                    h.frame_count, h.timestamp_ns
                )
            });
        }
    }

    /// An invalid or mismatched message was seen (fails `--expect-body`).
    pub fn violated(&self) -> bool {
        self.invalid > 0 || self.ts_mismatched > 0
    }

    /// Why `--expect-body N` fails, if it does.
    pub fn failure(&self, expect: Option<u64>) -> Option<String> {
        let n = expect?;
        if self.invalid > 0 {
            return Some(format!(
                "{} invalid body message(s), first: {}",
                self.invalid,
                self.first_invalid.as_deref().unwrap_or("?")
            ));
        }
        if self.ts_mismatched > 0 {
            return Some(format!(
                "{} body message(s) more than 1 ms newer than their access unit's capture time, first: {}",
                self.ts_mismatched,
                self.first_mismatch.as_deref().unwrap_or("?")
            ));
        }
        (self.messages < n).then(|| {
            format!(
                "{} body message(s) arrived, --expect-body {n} wanted",
                self.messages
            )
        })
    }
}

/// The JSON `body_sei` object: the totals, the expectation and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct BodySeiReport {
    #[serde(flatten)]
    pub stats: BodySeiStats,
    /// `--expect-body N`.
    pub expect: Option<u64>,
    /// Why `--expect-body` failed; null when it passed or was not given.
    pub failure: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::body::tests::message;
    use super::*;

    const UUID: [u8; 16] = [
        0xd4, 0x05, 0xbd, 0x7e, 0x6c, 0x92, 0x41, 0x28, 0xa2, 0x8c, 0x98, 0x44, 0x92, 0xbc, 0x96,
        0xeb,
    ];

    /// An H.264 SEI NAL unit with one user_data_unregistered message per
    /// payload (no zero runs in these payloads' escaping matters: the
    /// scanner's own tests cover emulation prevention).
    fn sei_nal(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut rbsp = Vec::new();
        for p in payloads {
            rbsp.push(5);
            let mut size = UUID.len() + p.len();
            while size >= 255 {
                rbsp.push(0xFF);
                size -= 255;
            }
            rbsp.push(size as u8);
            rbsp.extend_from_slice(&UUID);
            rbsp.extend_from_slice(p);
        }
        rbsp.push(0x80);
        let mut nal = vec![0x06];
        let mut zeros = 0;
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                nal.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            nal.push(b);
        }
        nal
    }

    #[test]
    fn counts_matches_and_mismatches() {
        let mut s = BodySeiStats::default();
        let idr = vec![0x65, 0x88];
        let au = vec![sei_nal(&[message(7, 1_000_000_000, 1)]), idr.clone()];
        s.observe(Codec::H264, &au, Some(1_000_500_000)); // 0.5 ms off: match
        s.observe(Codec::H264, &au, Some(1_002_000_000)); // 2 ms older: late
        s.observe(Codec::H264, &au, Some(998_000_000)); // 2 ms newer
        s.observe(Codec::H264, &au, None);
        s.observe(Codec::H264, &[idr], Some(0)); // no SEI
        let two = vec![sei_nal(&[message(8, 5, 2), message(9, 5, 0)])];
        s.observe(Codec::H264, &two, Some(5));
        assert_eq!((s.units_with_body, s.messages, s.invalid), (5, 6, 0));
        assert_eq!(s.first_frame_counts, [7, 7, 7, 7, 8, 9]);
        assert_eq!(
            (s.ts_matched, s.ts_late, s.ts_mismatched, s.ts_unchecked),
            (3, 1, 1, 1)
        );
        assert_eq!(s.max_ts_delta_ns, Some(2_000_000));
        assert!(s.violated());
        let f = s.failure(Some(1)).unwrap();
        assert!(f.contains("more than 1 ms"), "{f}");
        assert_eq!(s.failure(None), None);
    }

    #[test]
    fn invalid_and_too_few() {
        let mut s = BodySeiStats::default();
        let mut bad = message(1, 1, 1);
        bad[3] = 1; // minor 1
        s.observe(Codec::H264, &[sei_nal(&[bad])], None);
        assert_eq!((s.messages, s.invalid), (1, 1));
        assert!(s.first_frame_counts.is_empty());
        assert!(s.failure(Some(1)).unwrap().contains("invalid"));
        let mut ok = BodySeiStats::default();
        ok.observe(Codec::H264, &[sei_nal(&[message(1, 1, 0)])], None);
        assert!(!ok.violated());
        assert_eq!(ok.failure(Some(1)), None);
        assert!(ok.failure(Some(2)).unwrap().contains("--expect-body 2"));
    }

    #[test]
    fn first_frame_counts_are_bounded() {
        let mut s = BodySeiStats::default();
        for fc in 0..40 {
            s.observe(Codec::H264, &[sei_nal(&[message(fc, 0, 0)])], None);
        }
        assert_eq!(s.first_frame_counts, (0..32).collect::<Vec<_>>());
        assert_eq!(s.messages, 40);
    }
}
