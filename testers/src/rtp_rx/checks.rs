//! Decoder-readiness checks on the access units: the parameter sets a decoder
//! needs (H.264 SPS + PPS, ITU-T H.264 §7.4.1.2.1; H.265 VPS + SPS + PPS,
//! ITU-T H.265 §7.4.2.4.4) must be known before the first keyframe (H.264 IDR;
//! H.265 IRAP), either in-band or from the SDP's `sprop-*` (RFC 6184 §8.1,
//! RFC 7798 §7.1).
//!
//! The first keyframe is the first keyframe NAL unit of a *complete* access
//! unit, so that a lost packet does not pass for a missing parameter set.
//! Parameter sets are collected from every whole NAL unit received, in order.

use super::depay::{AccessUnit, Codec};

/// State of the keyframe / parameter-set checks.
#[derive(Clone, Debug)]
pub struct KeyframeChecks {
    codec: Codec,
    /// Parameter-set NAL types known so far.
    known: Vec<u8>,
    first_keyframe_seen: bool,
    /// Access units (complete or not) before the first complete keyframe unit.
    pub units_before_keyframe: u64,
    /// Complete access units with a keyframe.
    pub keyframes: u64,
    /// `None` until the first keyframe.
    pub parameter_sets_before_first_keyframe: Option<bool>,
    /// Names of the parameter sets missing at the first keyframe.
    pub missing_parameter_sets: Vec<&'static str>,
}

impl KeyframeChecks {
    /// Starts with the parameter sets of the SDP.
    pub fn new(codec: Codec, sdp_parameter_sets: &[Vec<u8>]) -> Self {
        let mut c = Self {
            codec,
            known: Vec::new(),
            first_keyframe_seen: false,
            units_before_keyframe: 0,
            keyframes: 0,
            parameter_sets_before_first_keyframe: None,
            missing_parameter_sets: Vec::new(),
        };
        for nal in sdp_parameter_sets {
            c.learn(nal);
        }
        c
    }

    fn learn(&mut self, nal: &[u8]) {
        if let Some(t) = self.codec.nal_type(nal)
            && self.codec.parameter_set_types().contains(&t)
            && !self.known.contains(&t)
        {
            self.known.push(t);
        }
    }

    /// Observes one access unit.
    pub fn observe(&mut self, au: &AccessUnit) {
        let complete = au.is_complete();
        let mut keyframe = false;
        for nal in &au.nals {
            self.learn(nal);
            let Some(t) = self.codec.nal_type(nal) else {
                continue;
            };
            if complete && self.codec.is_keyframe_type(t) {
                keyframe = true;
                if !self.first_keyframe_seen {
                    self.first_keyframe_seen = true;
                    self.missing_parameter_sets = self
                        .codec
                        .parameter_set_types()
                        .iter()
                        .filter(|t| !self.known.contains(t))
                        .map(|&t| self.codec.parameter_set_name(t))
                        .collect();
                    self.parameter_sets_before_first_keyframe =
                        Some(self.missing_parameter_sets.is_empty());
                }
            }
        }
        if keyframe {
            self.keyframes += 1;
        }
        if !self.first_keyframe_seen {
            self.units_before_keyframe += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn au(nals: &[&[u8]], complete: bool) -> AccessUnit {
        AccessUnit {
            ssrc: 1,
            timestamp: 0,
            nals: nals.iter().map(|n| n.to_vec()).collect(),
            packets: 1,
            first_seq: 0,
            last_seq: 0,
            marker: true,
            lost: !complete,
            fu_error: false,
            malformed: false,
            arrival: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn in_band_parameter_sets_before_the_idr() {
        let mut c = KeyframeChecks::new(Codec::H264, &[]);
        c.observe(&au(&[&[0x41, 0]], true)); // P slice before any keyframe
        c.observe(&au(&[&[0x67, 0], &[0x68, 0], &[0x65, 0]], true));
        c.observe(&au(&[&[0x41, 0]], true));
        assert_eq!(c.parameter_sets_before_first_keyframe, Some(true));
        assert_eq!((c.units_before_keyframe, c.keyframes), (1, 1));
        assert!(c.missing_parameter_sets.is_empty());
    }

    #[test]
    fn parameter_sets_after_the_idr_are_too_late() {
        let mut c = KeyframeChecks::new(Codec::H264, &[]);
        c.observe(&au(&[&[0x67, 0], &[0x65, 0], &[0x68, 0]], true));
        assert_eq!(c.parameter_sets_before_first_keyframe, Some(false));
        assert_eq!(c.missing_parameter_sets, vec!["PPS"]);
    }

    #[test]
    fn sdp_parameter_sets_count_and_incomplete_keyframes_wait() {
        let mut c = KeyframeChecks::new(Codec::H265, &[vec![32 << 1, 1], vec![33 << 1, 1]]);
        assert_eq!(c.parameter_sets_before_first_keyframe, None);
        c.observe(&au(&[&[19 << 1, 1]], false)); // IDR, but incomplete
        assert_eq!(c.parameter_sets_before_first_keyframe, None);
        c.observe(&au(&[&[34 << 1, 1], &[21 << 1, 1]], true)); // PPS + CRA
        assert_eq!(c.parameter_sets_before_first_keyframe, Some(true));
        assert_eq!((c.units_before_keyframe, c.keyframes), (1, 1));
    }

    #[test]
    fn h265_missing_vps() {
        let mut c = KeyframeChecks::new(Codec::H265, &[]);
        c.observe(&au(&[&[33 << 1, 1], &[34 << 1, 1], &[20 << 1, 1]], true));
        assert_eq!(c.parameter_sets_before_first_keyframe, Some(false));
        assert_eq!(c.missing_parameter_sets, vec!["VPS"]);
    }
}
