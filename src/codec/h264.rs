//! H.264 / AVC NAL unit helpers (ITU-T H.264 §7.3.1, §7.4.1).
//!
//! The NAL unit header is one byte: `forbidden_zero_bit(1) | nal_ref_idc(2) |
//! nal_unit_type(5)`.

use super::annexb::nal_units;

/// `nal_unit_type` of an H.264 NAL unit (H.264 Table 7-1).
///
/// A newtype rather than an enum so reserved and unspecified values round-trip;
/// the associated constants can be used as `match` patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NalType(pub u8);

impl NalType {
    /// Unspecified (also used by RFC 6184 receivers to signal "invalid").
    pub const UNSPECIFIED: Self = Self(0);
    /// Coded slice of a non-IDR picture.
    pub const SLICE: Self = Self(1);
    /// Coded slice data partition A.
    pub const SLICE_DPA: Self = Self(2);
    /// Coded slice data partition B.
    pub const SLICE_DPB: Self = Self(3);
    /// Coded slice data partition C.
    pub const SLICE_DPC: Self = Self(4);
    /// Coded slice of an IDR picture.
    pub const IDR: Self = Self(5);
    /// Supplemental enhancement information.
    pub const SEI: Self = Self(6);
    /// Sequence parameter set.
    pub const SPS: Self = Self(7);
    /// Picture parameter set.
    pub const PPS: Self = Self(8);
    /// Access unit delimiter.
    pub const AUD: Self = Self(9);
    /// End of sequence.
    pub const END_OF_SEQUENCE: Self = Self(10);
    /// End of stream.
    pub const END_OF_STREAM: Self = Self(11);
    /// Filler data.
    pub const FILLER: Self = Self(12);
    /// Sequence parameter set extension.
    pub const SPS_EXT: Self = Self(13);
    /// Prefix NAL unit (SVC / MVC).
    pub const PREFIX: Self = Self(14);
    /// Subset sequence parameter set.
    pub const SUBSET_SPS: Self = Self(15);
    /// Coded slice of an auxiliary coded picture without partitioning.
    pub const SLICE_AUX: Self = Self(19);
    /// Coded slice extension (SVC / MVC).
    pub const SLICE_EXT: Self = Self(20);

    /// Whether this is a VCL NAL unit (coded slice data, types 1..=5).
    pub fn is_vcl(self) -> bool {
        (1..=5).contains(&self.0)
    }

    /// Whether this is a parameter set (SPS, PPS, SPS extension, subset SPS).
    pub fn is_parameter_set(self) -> bool {
        matches!(
            self,
            Self::SPS | Self::PPS | Self::SPS_EXT | Self::SUBSET_SPS
        )
    }
}

impl From<NalType> for u8 {
    fn from(t: NalType) -> u8 {
        t.0
    }
}

/// The `nal_unit_type` carried in the first byte of an H.264 NAL unit.
pub fn nal_type(first_byte: u8) -> NalType {
    NalType(first_byte & 0x1f)
}

/// The type of `nal`, or `None` for an empty slice.
pub fn nal_type_of(nal: &[u8]) -> Option<NalType> {
    nal.first().copied().map(nal_type)
}

/// SPS and PPS NAL units (header byte included) found in an access unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParameterSets<'a> {
    /// First sequence parameter set of the access unit.
    pub sps: Option<&'a [u8]>,
    /// First picture parameter set of the access unit.
    pub pps: Option<&'a [u8]>,
}

impl ParameterSets<'_> {
    /// Whether both an SPS and a PPS were found.
    pub fn is_complete(&self) -> bool {
        self.sps.is_some() && self.pps.is_some()
    }
}

/// Finds the first SPS and the first PPS in an Annex-B access unit.
pub fn find_parameter_sets(access_unit: &[u8]) -> ParameterSets<'_> {
    let mut found = ParameterSets::default();
    for nal in nal_units(access_unit) {
        match nal_type(nal[0]) {
            NalType::SPS if found.sps.is_none() => found.sps = Some(nal),
            NalType::PPS if found.pps.is_none() => found.pps = Some(nal),
            _ => {}
        }
        if found.is_complete() {
            break;
        }
    }
    found
}

/// Whether the Annex-B access unit contains an IDR slice (a random access point).
pub fn contains_idr(access_unit: &[u8]) -> bool {
    nal_units(access_unit).any(|nal| nal_type(nal[0]) == NalType::IDR)
}

/// The `profile-level-id` of RFC 6184 §8.1: `profile_idc`, the constraint
/// flags byte and `level_idc`, i.e. bytes 1..4 of an SPS NAL unit
/// (H.264 §7.3.2.1.1).
///
/// Returns `None` if `sps` is not an SPS NAL unit (header byte included) or is
/// too short. These three bytes cannot contain an emulation prevention byte
/// for any valid profile, so they are read as is.
pub fn profile_level_id(sps: &[u8]) -> Option<[u8; 3]> {
    match sps {
        [header, profile, constraints, level, ..] if nal_type(*header) == NalType::SPS => {
            Some([*profile, *constraints, *level])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS and PPS emitted by x264 (High profile, level 3.0).
    const SPS: [u8; 26] = [
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03,
        0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
    ];
    const PPS: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    fn access_unit() -> Vec<u8> {
        let mut au = vec![0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1];
        au.extend_from_slice(&SPS);
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(&PPS);
        au.extend_from_slice(&[0, 0, 1, 0x65, 0x88, 0x84]);
        au
    }

    #[test]
    fn nal_types() {
        assert_eq!(nal_type(0x67), NalType::SPS);
        assert_eq!(nal_type(0x68), NalType::PPS);
        assert_eq!(nal_type(0x65), NalType::IDR);
        assert_eq!(nal_type(0x09), NalType::AUD);
        assert_eq!(nal_type(0x06), NalType::SEI);
        assert_eq!(nal_type(0x41), NalType::SLICE);
        assert_eq!(nal_type(0xff), NalType(31));
        assert_eq!(nal_type_of(&[]), None);
        assert!(NalType::IDR.is_vcl() && !NalType::SEI.is_vcl());
        assert!(NalType::PPS.is_parameter_set() && !NalType::IDR.is_parameter_set());
        assert_eq!(u8::from(NalType::AUD), 9);
    }

    #[test]
    fn finds_parameter_sets() {
        let au = access_unit();
        let ps = find_parameter_sets(&au);
        assert_eq!(ps.sps, Some(&SPS[..]));
        assert_eq!(ps.pps, Some(&PPS[..]));
        assert!(ps.is_complete());
        assert!(contains_idr(&au));
        let p_frame = [0, 0, 1, 0x41, 0x9a];
        assert_eq!(find_parameter_sets(&p_frame), ParameterSets::default());
        assert!(!contains_idr(&p_frame));
    }

    #[test]
    fn profile_level_id_of_x264_sps() {
        assert_eq!(profile_level_id(&SPS), Some([0x64, 0x00, 0x1e]));
        assert_eq!(profile_level_id(&SPS[..3]), None);
        assert_eq!(profile_level_id(&PPS), None);
    }
}
