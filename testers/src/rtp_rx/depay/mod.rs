//! The receiver's own depacketizer: RTP payloads -> NAL units -> access units.
//!
//! Written from RFC 6184 (H.264, packetization-mode 0 and 1: single NAL unit
//! packets, STAP-A, FU-A) and RFC 7798 (H.265 without DONL: single NAL unit
//! packets, AP, FU). Each codec module turns one RTP payload into [`Piece`]s
//! without keeping state; [`assembler::Assembler`] joins fragments and groups
//! NAL units into access units by RTP timestamp and marker bit.
//!
//! Nothing here panics on arbitrary bytes: malformed payloads are errors.

pub mod assembler;
pub mod h264;
pub mod h265;

pub use assembler::{AccessUnit, Assembler, DepayCounters, Packet};

/// Video codec of the RTP stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 / AVC (RFC 6184).
    H264,
    /// H.265 / HEVC (RFC 7798).
    H265,
}

impl Codec {
    /// Lower-case name, as on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        }
    }

    /// Encoding name in `a=rtpmap` (RFC 6184 §8.2.1, RFC 7798 §7.2).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
        }
    }

    /// Length of the NAL unit header: 1 byte (H.264 §7.3.1), 2 bytes (H.265 §7.3.1.2).
    pub fn nal_header_len(self) -> usize {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
        }
    }

    /// NAL unit type of a NAL unit (header included); `None` when too short.
    pub fn nal_type(self, nal: &[u8]) -> Option<u8> {
        if nal.len() < self.nal_header_len() {
            return None;
        }
        Some(match self {
            Codec::H264 => nal[0] & 0x1F,
            Codec::H265 => (nal[0] >> 1) & 0x3F,
        })
    }

    /// Whether a NAL type starts a random access point: H.264 IDR slice (5);
    /// H.265 IRAP, types 16..=21 (BLA, IDR, CRA).
    pub fn is_keyframe_type(self, nal_type: u8) -> bool {
        match self {
            Codec::H264 => nal_type == 5,
            Codec::H265 => (16..=21).contains(&nal_type),
        }
    }

    /// Parameter sets a decoder needs before a keyframe: H.264 SPS 7, PPS 8;
    /// H.265 VPS 32, SPS 33, PPS 34.
    pub fn parameter_set_types(self) -> &'static [u8] {
        match self {
            Codec::H264 => &[7, 8],
            Codec::H265 => &[32, 33, 34],
        }
    }

    /// Name of a parameter-set NAL type ("VPS", "SPS", "PPS"), else "other".
    pub fn parameter_set_name(self, nal_type: u8) -> &'static str {
        match (self, nal_type) {
            (Codec::H264, 7) | (Codec::H265, 33) => "SPS",
            (Codec::H264, 8) | (Codec::H265, 34) => "PPS",
            (Codec::H265, 32) => "VPS",
            _ => "other",
        }
    }

    /// Splits one RTP payload into NAL units and FU fragments.
    pub fn parse_payload(self, payload: &[u8]) -> Result<Vec<Piece<'_>>, PayloadError> {
        match self {
            Codec::H264 => h264::parse_payload(payload),
            Codec::H265 => h265::parse_payload(payload),
        }
    }
}

/// What one RTP payload carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole NAL unit, header included (single NAL unit packet, or one
    /// aggregation unit of a STAP-A / AP).
    Nal(&'a [u8]),
    /// One fragment of a fragmented NAL unit (FU-A / FU).
    Fragment(Fragment<'a>),
}

/// One FU-A (RFC 6184 §5.8) or FU (RFC 7798 §4.4.3) fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// S bit: first fragment of the NAL unit.
    pub start: bool,
    /// E bit: last fragment of the NAL unit.
    pub end: bool,
    /// NAL unit header rebuilt from the payload header and FU header;
    /// only the first `header_len` bytes are used.
    pub header: [u8; 2],
    pub header_len: usize,
    /// Fragment bytes that follow the FU header.
    pub data: &'a [u8],
}

impl Fragment<'_> {
    /// The rebuilt NAL unit header.
    pub fn nal_header(&self) -> &[u8] {
        &self.header[..self.header_len]
    }
}

/// Why an RTP payload could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("empty payload")]
    Empty,
    #[error("payload of {0} bytes is shorter than its header")]
    TooShort(usize),
    #[error("forbidden_zero_bit (F) is set")]
    ForbiddenBit,
    #[error("payload type {0} is not allowed in this packetization mode")]
    Unsupported(u8),
    #[error("reserved / undefined NAL unit type {0}")]
    Reserved(u8),
    #[error("aggregation unit truncated at byte {0}")]
    AggregationTruncated(usize),
    #[error("aggregation packet with {0} aggregation units (too few)")]
    AggregationTooFew(usize),
    #[error("aggregated NAL unit of type {0} is not allowed")]
    AggregatedType(u8),
    #[error("FU carries NAL unit type {0}, which cannot be fragmented")]
    FuType(u8),
    #[error("H.265 TID is 0")]
    ZeroTid,
}

/// Annex-B byte stream of `nals`, each behind a 4-byte start code (H.264 / H.265 Annex B).
pub fn annex_b<'a>(nals: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_types_and_keyframes() {
        assert_eq!(Codec::H264.nal_type(&[0x65]), Some(5));
        assert_eq!(Codec::H264.nal_type(&[]), None);
        assert_eq!(Codec::H265.nal_type(&[0x26, 0x01]), Some(19));
        assert_eq!(Codec::H265.nal_type(&[0x26]), None);
        assert!(Codec::H264.is_keyframe_type(5) && !Codec::H264.is_keyframe_type(1));
        assert!((16..=21).all(|t| Codec::H265.is_keyframe_type(t)));
        assert!(!Codec::H265.is_keyframe_type(22) && !Codec::H265.is_keyframe_type(1));
        assert_eq!(Codec::H265.parameter_set_name(32), "VPS");
        assert_eq!(Codec::H264.parameter_set_name(8), "PPS");
    }

    #[test]
    fn annex_b_uses_four_byte_start_codes() {
        let a: &[u8] = &[0x67, 1];
        let b: &[u8] = &[0x68];
        assert_eq!(annex_b([a, b]), vec![0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68]);
    }
}
