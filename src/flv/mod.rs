//! FLV video tag bodies for H.264 and H.265, pure byte building.
//!
//! Everything here produces the *body* of an FLV video tag, which is also the
//! payload of an RTMP type-9 (video) message: the tag header (type, size,
//! timestamp, stream id) and the RTMP chunking belong to the caller. No I/O,
//! no clocks, no GStreamer: access units come in as Annex-B bytes (as the
//! encoder hands them over) and leave as length-prefixed NAL units.
//!
//! Three forms, one module each, selected by [`VideoTagForm`]:
//!
//! - [`avc`]: legacy H.264, FLV `CodecID` 7 (Adobe FLV spec v10.1 §E.4.3.1
//!   `VIDEODATA` / `AVCVIDEOPACKET`), sequence header carrying an
//!   `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3).
//! - [`enhanced`]: H.265 in Enhanced RTMP (veovera `enhanced-rtmp` spec,
//!   `ExVideoTagHeader`, FourCC `hvc1`), sequence start carrying an
//!   `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3), built by
//!   [`hevc_record`].
//! - [`domestic`]: H.265 as FLV `CodecID` 12, the de-facto extension used by
//!   Chinese CDNs (and FFmpeg forks / SRS): the legacy AVC layout with the
//!   HEVC record in the sequence header.
//!
//! All three write coded frames with the shared
//! [`write_nalus_length_prefixed`]: each NAL unit as a 4-byte big-endian
//! length (the records' `lengthSizeMinusOne` is 3) followed by the NAL unit.
//!
//! Timestamps: the composition time offset (`CompositionTime` / the Enhanced
//! RTMP `SI24 compositionTimeOffset`) is PTS - DTS in milliseconds, a signed
//! 24-bit big-endian integer; values outside its range (about ±2.3 hours)
//! saturate.

pub mod avc;
mod avc_reorder;
mod bits;
pub mod domestic;
pub mod enhanced;
pub mod hevc_record;
#[cfg(test)]
pub(crate) mod test_support;

use std::fmt;

use crate::codec::nal_units;

pub use enhanced::FOURCC_HVC1_VALUE;

/// Which parameter set an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterSet {
    /// H.265 video parameter set.
    Vps,
    /// Sequence parameter set (H.264 or H.265).
    Sps,
    /// Picture parameter set (H.264 or H.265).
    Pps,
}

impl fmt::Display for ParameterSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Vps => "VPS",
            Self::Sps => "SPS",
            Self::Pps => "PPS",
        })
    }
}

/// Why a sequence header / decoder configuration record could not be built.
///
/// Coded frames never fail: they carry whatever NAL units the access unit
/// holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlvError {
    /// The parameter set slice is empty.
    #[error("missing {which}")]
    MissingParameterSet {
        /// The parameter set that is missing.
        which: ParameterSet,
    },
    /// The NAL unit is shorter than its header (or, for an H.264 SPS, than
    /// the header plus the profile/constraint/level bytes).
    #[error("{which} is {len} bytes, too short for its header")]
    ParameterSetTooShort {
        /// The parameter set that is too short.
        which: ParameterSet,
        /// Its length in bytes.
        len: usize,
    },
    /// The NAL unit type is not the one of the expected parameter set.
    #[error("{which} expected, got NAL unit type {nal_type}")]
    WrongNalType {
        /// The parameter set that was expected.
        which: ParameterSet,
        /// The `nal_unit_type` found.
        nal_type: u8,
    },
    /// The parameter set does not fit the records' 16-bit length field.
    #[error("{which} is {len} bytes, over the 65535 a decoder configuration record can hold")]
    ParameterSetTooLong {
        /// The parameter set that is too long.
        which: ParameterSet,
        /// Its length in bytes.
        len: usize,
    },
    /// The SPS could not be parsed far enough, or holds values the record
    /// cannot represent.
    #[error("bad SPS: {reason}")]
    BadSps {
        /// What went wrong.
        reason: &'static str,
    },
}

/// The three ways this crate can put video into FLV / RTMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoTagForm {
    /// Legacy H.264, `CodecID` 7 ([`avc`]).
    Avc,
    /// H.265 in Enhanced RTMP with FourCC `hvc1` ([`enhanced`]).
    EnhancedHvc1,
    /// H.265 as FLV `CodecID` 12 ([`domestic`]).
    DomesticHevc12,
}

impl VideoTagForm {
    /// The `videocodecid` number for the `onMetaData` script tag: the FLV
    /// `CodecID` for the legacy forms, the FourCC as a big-endian `u32` for
    /// Enhanced RTMP (AMF0 numbers are doubles).
    pub fn videocodecid_for_metadata(self) -> f64 {
        match self {
            Self::Avc => f64::from(avc::CODEC_ID),
            Self::EnhancedHvc1 => f64::from(FOURCC_HVC1_VALUE),
            Self::DomesticHevc12 => f64::from(domestic::CODEC_ID),
        }
    }
}

/// FLV `FrameType` 1: key frame (for AVC, a seekable frame).
const FRAME_TYPE_KEY: u8 = 1;
/// FLV `FrameType` 2: inter frame (for AVC, a non-seekable frame).
const FRAME_TYPE_INTER: u8 = 2;

/// `AVCPacketType` (FLV spec v10.1 §E.4.3.1), shared by `CodecID` 12.
const PACKET_SEQUENCE_HEADER: u8 = 0;
/// `AVCPacketType` 1: NAL units.
const PACKET_NALU: u8 = 1;
/// `AVCPacketType` 2: end of sequence.
const PACKET_END_OF_SEQUENCE: u8 = 2;

fn frame_type(keyframe: bool) -> u8 {
    if keyframe {
        FRAME_TYPE_KEY
    } else {
        FRAME_TYPE_INTER
    }
}

/// Largest value of a signed 24-bit integer.
const SI24_MAX: i32 = (1 << 23) - 1;
/// Smallest value of a signed 24-bit integer.
const SI24_MIN: i32 = -(1 << 23);

/// Appends `value` as an FLV `SI24` (big-endian two's complement), saturating
/// to -8388608..=8388607 (about ±2.3 hours in milliseconds, far beyond any
/// reordering delay).
fn write_si24(out: &mut Vec<u8>, value: i32) {
    let clamped = value.clamp(SI24_MIN, SI24_MAX);
    out.extend_from_slice(&clamped.to_be_bytes()[1..]);
}

/// Appends the 5-byte legacy `VIDEODATA` + `AVCVIDEOPACKET` header:
/// `FrameType(4) | CodecID(4)`, `AVCPacketType`, `SI24 CompositionTime`.
fn write_legacy_header(
    out: &mut Vec<u8>,
    keyframe: bool,
    codec_id: u8,
    packet_type: u8,
    composition_time_ms: i32,
) {
    out.push(frame_type(keyframe) << 4 | codec_id);
    out.push(packet_type);
    write_si24(out, composition_time_ms);
}

/// A legacy-layout sequence header: key frame, `packet_type` 0, composition
/// time 0, then the decoder configuration record.
fn legacy_sequence_header(codec_id: u8, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + record.len());
    write_legacy_header(&mut out, true, codec_id, PACKET_SEQUENCE_HEADER, 0);
    out.extend_from_slice(record);
    out
}

/// A legacy-layout end-of-sequence body: `FrameType` 1, `AVCPacketType` 2,
/// composition time 0 and no data.
fn legacy_end_of_sequence(codec_id: u8) -> [u8; 5] {
    [
        FRAME_TYPE_KEY << 4 | codec_id,
        PACKET_END_OF_SEQUENCE,
        0,
        0,
        0,
    ]
}

/// Appends every NAL unit of the Annex-B `access_unit` for which `keep`
/// returns true, each as a 4-byte big-endian length followed by the NAL unit
/// (start codes and trailing zeros removed, emulation prevention kept), and
/// returns how many were written.
///
/// This is the `NALU` payload format shared by all three forms; 4 bytes
/// matches `lengthSizeMinusOne = 3` in both decoder configuration records.
///
/// # Panics
///
/// If a NAL unit is 4 GiB or larger, which a 4-byte length cannot express.
pub fn write_nalus_length_prefixed(
    access_unit: &[u8],
    out: &mut Vec<u8>,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> usize {
    let mut written = 0;
    for nal in nal_units(access_unit).filter(|nal| keep(nal)) {
        let len = u32::try_from(nal.len()).expect("NAL unit of 4 GiB or more");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
        written += 1;
    }
    written
}

/// Appends `nal` with its 16-bit big-endian length, as the parameter-set
/// entries of both decoder configuration records; the length must have been
/// checked with [`u16_len`].
fn push_u16_prefixed(out: &mut Vec<u8>, len: u16, nal: &[u8]) {
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(nal);
}

/// The length of a parameter set as the records' 16-bit field.
fn u16_len(which: ParameterSet, nal: &[u8]) -> Result<u16, FlvError> {
    u16::try_from(nal.len()).map_err(|_| FlvError::ParameterSetTooLong {
        which,
        len: nal.len(),
    })
}

/// Checks that `nal` is a non-empty parameter set of at least `min_len`
/// bytes whose type, read by `nal_type`, is `expected`.
fn check_parameter_set(
    which: ParameterSet,
    nal: &[u8],
    min_len: usize,
    nal_type: impl Fn(u8) -> u8,
    expected: u8,
) -> Result<(), FlvError> {
    let Some(&first) = nal.first() else {
        return Err(FlvError::MissingParameterSet { which });
    };
    let found = nal_type(first);
    if found != expected {
        return Err(FlvError::WrongNalType {
            which,
            nal_type: found,
        });
    }
    if nal.len() < min_len {
        return Err(FlvError::ParameterSetTooShort {
            which,
            len: nal.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn si24_sign_extension_and_saturation() {
        let si24 = |v| {
            let mut out = Vec::new();
            write_si24(&mut out, v);
            out
        };
        assert_eq!(si24(0), [0, 0, 0]);
        assert_eq!(si24(33), [0x00, 0x00, 0x21]);
        assert_eq!(si24(-33), [0xff, 0xff, 0xdf]);
        assert_eq!(si24(SI24_MAX), [0x7f, 0xff, 0xff]);
        assert_eq!(si24(i32::MAX), [0x7f, 0xff, 0xff]);
        assert_eq!(si24(SI24_MIN), [0x80, 0x00, 0x00]);
        assert_eq!(si24(i32::MIN), [0x80, 0x00, 0x00]);
    }

    #[test]
    fn length_prefixing_filters_and_counts() {
        let au = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x06, 0x05,
        ];
        let mut out = vec![0xaa];
        let n = write_nalus_length_prefixed(&au, &mut out, |nal| nal[0] != 0x09);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            [0xaa, 0, 0, 0, 3, 0x65, 0x88, 0x84, 0, 0, 0, 2, 0x06, 0x05]
        );
        assert_eq!(write_nalus_length_prefixed(&[], &mut out, |_| true), 0);
    }

    #[test]
    fn metadata_codec_ids() {
        assert_eq!(VideoTagForm::Avc.videocodecid_for_metadata(), 7.0);
        assert_eq!(
            VideoTagForm::EnhancedHvc1.videocodecid_for_metadata(),
            1_752_589_105.0
        );
        assert_eq!(
            VideoTagForm::DomesticHevc12.videocodecid_for_metadata(),
            12.0
        );
    }

    #[test]
    fn error_messages() {
        let e = FlvError::MissingParameterSet {
            which: ParameterSet::Vps,
        };
        assert_eq!(e.to_string(), "missing VPS");
        let e = FlvError::WrongNalType {
            which: ParameterSet::Pps,
            nal_type: 5,
        };
        assert_eq!(e.to_string(), "PPS expected, got NAL unit type 5");
    }

    proptest! {
        /// Length-prefixed output re-parses into exactly the kept NAL units.
        #[test]
        fn length_prefixed_round_trip(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut out = Vec::new();
            let n = write_nalus_length_prefixed(&data, &mut out, |nal| nal[0] & 1 == 0);
            let expected: Vec<&[u8]> = nal_units(&data).filter(|nal| nal[0] & 1 == 0).collect();
            prop_assert_eq!(n, expected.len());
            let mut rest = &out[..];
            for nal in expected {
                let (len, tail) = rest.split_at(4);
                let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
                prop_assert_eq!(&tail[..len], nal);
                rest = &tail[len..];
            }
            prop_assert!(rest.is_empty());
        }
    }
}
