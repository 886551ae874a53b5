//! Parser for the 256-byte metadata block at the start of the segment
//! (contract section 2: v1, v2.0 and v2.1).
//!
//! Pure and total: any input (short, garbage, hostile) gives `Ok` or `Err`, never a
//! panic, and all arithmetic is done in `u64` on values read as at most `u32`, so
//! nothing can overflow. Every rule of the contract is checked and anything else is
//! rejected (fail closed); see [`parse_metadata`] for the list.

mod v2;

use super::layout::{FrameLayout, MetadataError, Plane};
use super::pixel::{Depth, PixelFormat};
use super::{MAGIC, METADATA_SIZE, PAYLOAD_OFFSET};

/// Reads the frame counter (u32 at 0x0C) and timestamp (u64 at 0x10), which sit at
/// the same place in v1 and v2 (contract section 2, "Producer write order and torn
/// reads"). Compare the pair before and after copying a payload; `None` when `meta`
/// is shorter than 0x18 bytes. Does not look at the magic or version.
pub fn read_counter_and_timestamp(meta: &[u8]) -> Option<(u32, u64)> {
    let counter = meta.get(0x0C..0x10)?.try_into().ok()?;
    let timestamp = meta.get(0x10..0x18)?.try_into().ok()?;
    Some((u32::from_le_bytes(counter), u64::from_le_bytes(timestamp)))
}

/// Parses and validates the metadata block (contract section 2).
///
/// `meta` is the start of the segment (at least [`METADATA_SIZE`] bytes; only the
/// first 256 are read) and `shm_size` the size of the mapping the caller will read
/// the payload from. On `Ok`, `PAYLOAD_OFFSET + payload_size <= shm_size` and every
/// plane lies inside `0..payload_size`.
///
/// Rejected, with the field named in the error:
/// - short input, wrong magic, major other than 1 or 2;
/// - v1: zero width/height/channels/buffer_size, unknown pixel_format or depth,
///   channels != pixel_format channels, buffer_size < w*h*channels*bytes(depth);
/// - v2: descriptors offset != 64, size != 24, capacity != 4; plane_count outside
///   1..=4; mask with upper bits; minor 0 mask != `(1<<plane_count)-1` or using slot
///   3; minor >= 1 mask without slot 0 or plane_count != popcount; depth_unit > 2;
///   active plane with wrong plane_type, unknown format, wrong format for its slot
///   (1, 2: GRAY/F32; 3: GRAY/U8 with height 1 and width == stride == size), zero
///   geometry, stride < row bytes, size < stride*height, not packed back to back
///   from offset 0, or ending after payload_size_bytes; inactive descriptor not
///   all zero;
/// - both: payload size 0 or above `shm_size - 256`
///   ([`MetadataError::PayloadExceedsSegment`]: the producer may have grown the
///   segment, so remap and retry).
///
/// Minor versions above 1 are read with v2.1 rules (as upstream's reader does):
/// later minors only add meaning to reserved bytes.
pub fn parse_metadata(meta: &[u8], shm_size: usize) -> Result<FrameLayout, MetadataError> {
    let m: &[u8; METADATA_SIZE] = meta
        .get(..METADATA_SIZE)
        .and_then(|head| head.try_into().ok())
        .ok_or(MetadataError::TooShort { len: meta.len() })?;
    let r = Reader(m);
    let found = r.bytes8(0);
    if found != MAGIC {
        return Err(MetadataError::BadMagic { found });
    }
    let capacity = u64::try_from(shm_size)
        .unwrap_or(u64::MAX)
        .saturating_sub(PAYLOAD_OFFSET as u64);
    let check_payload = |field: &'static str, payload_size: u64| {
        if payload_size == 0 {
            return Err(invalid(field, 0, "must be non-zero"));
        }
        if payload_size > capacity {
            return Err(MetadataError::PayloadExceedsSegment {
                field,
                payload_size,
                capacity,
                shm_size,
            });
        }
        to_usize(field, payload_size)
    };
    match (r.u8(0x08), r.u8(0x09)) {
        (1, _) => parse_v1(r, check_payload),
        (2, _) => v2::parse_v2(r, check_payload),
        (major, minor) => Err(MetadataError::UnsupportedVersion { major, minor }),
    }
}

/// v1 (major 1): one image of `buffer_size` bytes at the payload start.
fn parse_v1(
    r: Reader<'_>,
    check_payload: impl Fn(&'static str, u64) -> Result<usize, MetadataError>,
) -> Result<FrameLayout, MetadataError> {
    let width = r.u16(0x18);
    let height = r.u16(0x1A);
    let channels = r.u8(0x1C);
    let buffer_size = u64::from(r.u32(0x20));
    nonzero("v1.width", width.into())?;
    nonzero("v1.height", height.into())?;
    nonzero("v1.channels", channels.into())?;
    nonzero("v1.buffer_size", buffer_size)?;
    let pixel_format = pixel_format("v1.pixel_format", r.u8(0x1E))?;
    let depth = depth("v1.depth", r.u8(0x1D))?;
    if channels != pixel_format.channels() {
        return Err(invalid(
            "v1.channels",
            channels.into(),
            "must equal the channel count of pixel_format",
        ));
    }
    let row = u64::from(width) * u64::from(channels) * u64::from(depth.bytes());
    if buffer_size < row * u64::from(height) {
        return Err(invalid(
            "v1.buffer_size",
            buffer_size,
            "smaller than width * height * channels * bytes(depth)",
        ));
    }
    let payload_size = check_payload("v1.buffer_size", buffer_size)?;
    let stride = if buffer_size % u64::from(height) == 0 {
        buffer_size / u64::from(height)
    } else {
        row
    };
    Ok(FrameLayout {
        major: 1,
        minor: r.u8(0x09),
        frame_count: r.u32(0x0C),
        timestamp_ns: r.u64(0x10),
        publish_seq: None,
        payload_size,
        video: Plane {
            pixel_format,
            depth,
            width: width.into(),
            height: height.into(),
            stride: to_usize("v1.stride", stride)?,
            offset: 0,
            size: payload_size,
        },
        depth: None,
        confidence: None,
        depth_unit: 0,
        encoded: None,
    })
}

/// Little-endian reads at fixed offsets of the 256-byte block. Every offset used
/// in this file is a constant below 256 minus the field width, so the indexing
/// cannot go out of bounds.
#[derive(Clone, Copy)]
struct Reader<'a>(&'a [u8; METADATA_SIZE]);

impl Reader<'_> {
    fn u8(self, at: usize) -> u8 {
        self.0[at]
    }
    fn u16(self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }
    fn u32(self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }
    fn bytes8(self, at: usize) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&self.0[at..at + 8]);
        out
    }
    fn u64(self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes8(at))
    }
}

fn invalid(field: &'static str, value: u64, reason: &'static str) -> MetadataError {
    MetadataError::InvalidField {
        field,
        value,
        reason,
    }
}

fn nonzero(field: &'static str, value: u64) -> Result<(), MetadataError> {
    if value == 0 {
        return Err(invalid(field, 0, "must be non-zero"));
    }
    Ok(())
}

fn to_usize(field: &'static str, value: u64) -> Result<usize, MetadataError> {
    usize::try_from(value).map_err(|_| invalid(field, value, "does not fit in usize"))
}

fn pixel_format(field: &'static str, raw: u8) -> Result<PixelFormat, MetadataError> {
    PixelFormat::try_from(raw)
        .map_err(|_| invalid(field, raw.into(), "unknown pixel format (0..=6)"))
}

fn depth(field: &'static str, raw: u8) -> Result<Depth, MetadataError> {
    Depth::try_from(raw).map_err(|_| invalid(field, raw.into(), "unknown depth (0..=7)"))
}

#[cfg(test)]
mod tests;
