//! H.265 / HEVC NAL unit helpers (ITU-T H.265 §7.3.1.2, §7.4.2.2).
//!
//! The NAL unit header is two bytes: `forbidden_zero_bit(1) |
//! nal_unit_type(6) | nuh_layer_id(6) | nuh_temporal_id_plus1(3)`.

use super::annexb::nal_units;

/// `nal_unit_type` of an H.265 NAL unit (H.265 Table 7-1).
///
/// A newtype so reserved values round-trip; the associated constants can be
/// used as `match` patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NalType(pub u8);

impl NalType {
    /// Trailing picture, non-reference.
    pub const TRAIL_N: Self = Self(0);
    /// Trailing picture, reference.
    pub const TRAIL_R: Self = Self(1);
    /// Broken link access with leading pictures.
    pub const BLA_W_LP: Self = Self(16);
    /// Broken link access with RADL pictures.
    pub const BLA_W_RADL: Self = Self(17);
    /// Broken link access without leading pictures.
    pub const BLA_N_LP: Self = Self(18);
    /// IDR with RADL pictures.
    pub const IDR_W_RADL: Self = Self(19);
    /// IDR without leading pictures.
    pub const IDR_N_LP: Self = Self(20);
    /// Clean random access.
    pub const CRA: Self = Self(21);
    /// Video parameter set.
    pub const VPS: Self = Self(32);
    /// Sequence parameter set.
    pub const SPS: Self = Self(33);
    /// Picture parameter set.
    pub const PPS: Self = Self(34);
    /// Access unit delimiter.
    pub const AUD: Self = Self(35);
    /// End of sequence.
    pub const EOS: Self = Self(36);
    /// End of bitstream.
    pub const EOB: Self = Self(37);
    /// Filler data.
    pub const FILLER: Self = Self(38);
    /// Prefix SEI.
    pub const PREFIX_SEI: Self = Self(39);
    /// Suffix SEI.
    pub const SUFFIX_SEI: Self = Self(40);

    /// Whether this is a VCL NAL unit (types 0..=31).
    pub fn is_vcl(self) -> bool {
        self.0 < 32
    }

    /// Whether this is an intra random access point picture (types 16..=23).
    pub fn is_irap(self) -> bool {
        (16..=23).contains(&self.0)
    }
}

impl From<NalType> for u8 {
    fn from(t: NalType) -> u8 {
        t.0
    }
}

/// The `nal_unit_type` carried in the first header byte of an H.265 NAL unit.
pub fn nal_type(first_byte: u8) -> NalType {
    NalType((first_byte >> 1) & 0x3f)
}

/// VPS, SPS and PPS NAL units (header included) found in an access unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParameterSets<'a> {
    /// First video parameter set of the access unit.
    pub vps: Option<&'a [u8]>,
    /// First sequence parameter set of the access unit.
    pub sps: Option<&'a [u8]>,
    /// First picture parameter set of the access unit.
    pub pps: Option<&'a [u8]>,
}

impl ParameterSets<'_> {
    /// Whether a VPS, an SPS and a PPS were all found.
    pub fn is_complete(&self) -> bool {
        self.vps.is_some() && self.sps.is_some() && self.pps.is_some()
    }
}

/// Finds the first VPS, SPS and PPS in an Annex-B access unit. NAL units too
/// short for the 2-byte header are ignored.
pub fn find_parameter_sets(access_unit: &[u8]) -> ParameterSets<'_> {
    let mut found = ParameterSets::default();
    for nal in nal_units(access_unit).filter(|nal| nal.len() >= 2) {
        let slot = match nal_type(nal[0]) {
            NalType::VPS => &mut found.vps,
            NalType::SPS => &mut found.sps,
            NalType::PPS => &mut found.pps,
            _ => continue,
        };
        slot.get_or_insert(nal);
        if found.is_complete() {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_types() {
        assert_eq!(nal_type(0x40), NalType::VPS);
        assert_eq!(nal_type(0x42), NalType::SPS);
        assert_eq!(nal_type(0x44), NalType::PPS);
        assert_eq!(nal_type(0x46), NalType::AUD);
        assert_eq!(nal_type(0x26), NalType::IDR_W_RADL);
        assert_eq!(nal_type(0x02), NalType::TRAIL_R);
        assert!(NalType::CRA.is_irap() && NalType::CRA.is_vcl());
        assert!(!NalType::SPS.is_vcl() && !NalType::TRAIL_R.is_irap());
    }

    #[test]
    fn finds_parameter_sets() {
        let au = [
            0, 0, 0, 1, 0x46, 0x01, 0x50, //
            0, 0, 0, 1, 0x40, 0x01, 0x0c, //
            0, 0, 0, 1, 0x42, 0x01, 0x01, //
            0, 0, 0, 1, 0x44, 0x01, 0xc1, //
            0, 0, 1, 0x26, 0x01, 0xaf,
        ];
        let ps = find_parameter_sets(&au);
        assert_eq!(ps.vps, Some(&[0x40, 0x01, 0x0c][..]));
        assert_eq!(ps.sps, Some(&[0x42, 0x01, 0x01][..]));
        assert_eq!(ps.pps, Some(&[0x44, 0x01, 0xc1][..]));
        assert!(ps.is_complete());
        assert_eq!(
            find_parameter_sets(&[0, 0, 1, 0x40]),
            ParameterSets::default()
        );
    }
}
