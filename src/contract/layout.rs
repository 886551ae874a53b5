//! The validated result of parsing a segment's metadata: where each plane lies
//! (contract section 2), and the errors that reject a metadata block.
//!
//! A [`FrameLayout`] is only ever built by
//! [`parse_metadata`](super::parse_metadata), which guarantees:
//!
//! - `PAYLOAD_OFFSET + payload_size <= shm_size` (the mapped size it was given), and
//! - for every plane present, `offset + size <= payload_size`.
//!
//! So a consumer holding a mapping of at least `shm_size` bytes may slice
//! [`Plane::shm_range`] without further checks.

use std::ops::Range;

use thiserror::Error;

use super::PAYLOAD_OFFSET;
use super::pixel::{Depth, PixelFormat};

/// Where a frame's planes lie in the segment, from one metadata block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLayout {
    /// `versions_major`: 1 or 2.
    pub major: u8,
    /// `versions_minor`.
    pub minor: u8,
    /// Frame counter at 0x0C (v1 `frame_count`, v2 `frame_id`).
    pub frame_count: u32,
    /// Timestamp at 0x10 (v1 `timestamp_ns`, v2 `capture_ts_ns`).
    pub timestamp_ns: u64,
    /// v2 `publish_seq` (0x18); `None` for v1.
    pub publish_seq: Option<u64>,
    /// Bytes from [`PAYLOAD_OFFSET`] holding all planes
    /// (v1 `buffer_size`, v2 `payload_size_bytes`). Never zero.
    pub payload_size: usize,
    /// Slot 0, the LEFT image (v1: the only image).
    pub video: Plane,
    /// Slot 1, DEPTH (GRAY/F32), when present.
    pub depth: Option<Plane>,
    /// Slot 2, CONFIDENCE (GRAY/F32), when present.
    pub confidence: Option<Plane>,
    /// v2 `depth_unit`: 0 unknown, 1 millimetre, 2 metre (always 0 for v1).
    pub depth_unit: u8,
    /// Slot 3 plus the header extension at 0x2D (v2 minor >= 1 only).
    pub encoded: Option<EncodedAccessUnit>,
}

impl FrameLayout {
    /// Bytes of the segment this frame needs: `PAYLOAD_OFFSET + payload_size`.
    pub fn required_shm_size(&self) -> usize {
        // Cannot overflow: parse_metadata checked it is <= shm_size.
        PAYLOAD_OFFSET + self.payload_size
    }

    /// The byte range of the payload in the segment.
    pub fn payload_shm_range(&self) -> Range<usize> {
        PAYLOAD_OFFSET..self.required_shm_size()
    }
}

/// One image plane (v2 plane descriptor, or the v1 image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    /// Pixel layout.
    pub pixel_format: PixelFormat,
    /// Channel storage type.
    pub depth: Depth,
    /// Width in pixels (non-zero).
    pub width: u32,
    /// Height in rows (non-zero).
    pub height: u32,
    /// Bytes per row, at least `width * channels * bytes(depth)`.
    pub stride: usize,
    /// Start of the plane, relative to the payload start ([`PAYLOAD_OFFSET`]).
    pub offset: usize,
    /// Bytes of the plane, at least `stride * height`.
    pub size: usize,
}

impl Plane {
    /// Bytes of pixel data in one row: `width * channels * bytes(depth)`
    /// (at most `stride`; the rest of a row is padding).
    pub fn row_bytes(&self) -> usize {
        // Validated <= stride, so no overflow.
        self.width as usize
            * usize::from(self.pixel_format.channels())
            * usize::from(self.depth.bytes())
    }

    /// The plane's bytes relative to the payload start.
    pub fn payload_range(&self) -> Range<usize> {
        self.offset..self.offset + self.size
    }

    /// The plane's bytes relative to the start of the segment.
    pub fn shm_range(&self) -> Range<usize> {
        PAYLOAD_OFFSET + self.offset..PAYLOAD_OFFSET + self.offset + self.size
    }
}

/// Codec of the v2.1 encoded access unit (extension byte 0x2D).
///
/// Open enum: values the contract does not name are kept, so a newer producer's
/// frames still parse and the caller decides what to do with the access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodedCodec {
    /// 1: H.264 / AVC.
    H264,
    /// 2: H.265 / HEVC.
    H265,
    /// 0 ("unknown" on the wire) or any value the contract does not name.
    Unknown(u8),
}

impl EncodedCodec {
    /// Decodes the wire byte.
    pub const fn from_raw(raw: u8) -> Self {
        match raw {
            1 => Self::H264,
            2 => Self::H265,
            other => Self::Unknown(other),
        }
    }

    /// The wire byte.
    pub const fn raw(self) -> u8 {
        match self {
            Self::H264 => 1,
            Self::H265 => 2,
            Self::Unknown(raw) => raw,
        }
    }
}

/// `bitstream_format` value for Annex B (start-code delimited NAL units).
pub const BITSTREAM_FORMAT_ANNEX_B: u8 = 1;

/// Keyframe bit of the extension `flags`.
pub const ENCODED_FLAG_KEYFRAME: u16 = 0x0001;

/// The v2.1 encoded access unit: slot 3 plus the extension at 0x2D
/// (contract section 2, v2 header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedAccessUnit {
    /// Codec of the access unit.
    pub codec: EncodedCodec,
    /// Raw `bitstream_format` (1 = Annex B, see [`BITSTREAM_FORMAT_ANNEX_B`]).
    pub bitstream_format: u8,
    /// Extension flag bit 0x0001.
    pub keyframe: bool,
    /// Frame rate numerator (0 when the producer does not say).
    pub frame_rate_num: u16,
    /// Frame rate denominator (0 when the producer does not say).
    pub frame_rate_den: u16,
    /// Presentation time of the access unit in the encoded stream, ns.
    pub stream_pts_ns: u64,
    /// The bytes: GRAY/U8, height 1, `width == stride == size` = AU length.
    pub plane: Plane,
}

impl EncodedAccessUnit {
    /// True when `bitstream_format` is Annex B.
    pub fn is_annex_b(&self) -> bool {
        self.bitstream_format == BITSTREAM_FORMAT_ANNEX_B
    }
}

/// Why a metadata block was rejected. Every variant names the offending field
/// (e.g. `v2.plane[0].stride`) and value; the parser fails closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// Fewer than 256 bytes of metadata were given.
    #[error("metadata is {len} bytes, need at least 256")]
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The first 8 bytes are not `CV-MMAP\0` (also what a zeroed segment shows).
    #[error("metadata field magic = {found:02x?} is invalid: expected \"CV-MMAP\\0\"")]
    BadMagic {
        /// The 8 bytes found.
        found: [u8; 8],
    },
    /// A version this parser does not know (major other than 1 and 2).
    #[error("unsupported metadata version {major}.{minor} (supported: major 1 and 2)")]
    UnsupportedVersion {
        /// `versions_major`.
        major: u8,
        /// `versions_minor`.
        minor: u8,
    },
    /// A field holds a value the contract forbids.
    #[error("metadata field {field} = {value} is invalid: {reason}")]
    InvalidField {
        /// Field name, e.g. `v2.plane[1].pixel_format`.
        field: &'static str,
        /// The value found.
        value: u64,
        /// What the contract requires.
        reason: &'static str,
    },
    /// The payload does not fit in the mapped segment. The producer may have
    /// grown the segment: re-stat and remap to [`Self::required_shm_size`].
    #[error(
        "metadata field {field} = {payload_size} exceeds the mapped payload capacity \
         {capacity} (shm size {shm_size} - 256)"
    )]
    PayloadExceedsSegment {
        /// `v1.buffer_size` or `v2.payload_size_bytes`.
        field: &'static str,
        /// The payload size asked for.
        payload_size: u64,
        /// `shm_size - 256` (0 when the segment is smaller than the metadata).
        capacity: u64,
        /// The mapped size given to the parser.
        shm_size: usize,
    },
    /// A plane does not start where the previous one ends (slot 0 at 0).
    #[error(
        "metadata field {field} = {offset} is invalid: planes must be packed back to \
         back from payload offset 0, expected {expected}"
    )]
    PlaneNotPacked {
        /// `v2.plane[N].offset_bytes`.
        field: &'static str,
        /// Offset found.
        offset: u64,
        /// Offset required.
        expected: u64,
    },
    /// A plane ends after `payload_size_bytes`.
    #[error(
        "metadata field {field}: plane {slot} ends at payload byte {end}, beyond \
         payload_size_bytes {payload_size}"
    )]
    PlaneOutOfBounds {
        /// `v2.plane[N].size_bytes`.
        field: &'static str,
        /// Slot 0..=3.
        slot: usize,
        /// `offset + size`.
        end: u64,
        /// `payload_size_bytes`.
        payload_size: u64,
    },
    /// A slot that the presence mask marks inactive has a non-zero descriptor.
    #[error(
        "metadata field {field} is invalid: slot is inactive (plane_presence_mask = \
         {mask:#04x}) but its descriptor is not all zero"
    )]
    InactiveDescriptorNotZero {
        /// `v2.plane[N]`.
        field: &'static str,
        /// The presence mask in effect.
        mask: u8,
    },
}

impl MetadataError {
    /// For [`Self::PayloadExceedsSegment`], the segment size the metadata asks for
    /// (`256 + payload_size`): map at least this much and parse again.
    pub fn required_shm_size(&self) -> Option<u64> {
        match self {
            Self::PayloadExceedsSegment { payload_size, .. } => {
                Some(PAYLOAD_OFFSET as u64 + payload_size)
            }
            _ => None,
        }
    }
}
