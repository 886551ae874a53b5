//! v2 metadata (major 2, minor 0 and 1): the 64-byte header and the four fixed
//! plane descriptor slots at 64, 88, 112 and 136 (contract section 2, "v2 header").

use super::{Reader, depth, invalid, nonzero, pixel_format, to_usize};
use crate::contract::layout::{
    ENCODED_FLAG_KEYFRAME, EncodedAccessUnit, EncodedCodec, FrameLayout, MetadataError, Plane,
};
use crate::contract::pixel::{Depth, PixelFormat};

/// v2 descriptors start here (`plane_descriptors_offset`).
const V2_DESCRIPTORS_OFFSET: u16 = 64;
/// v2 descriptor size (`plane_descriptor_size`).
const V2_DESCRIPTOR_SIZE: u16 = 24;
/// v2 descriptor slots (`plane_descriptor_capacity`).
const V2_DESCRIPTOR_CAPACITY: u16 = 4;
/// Slot of the encoded access unit (v2 minor >= 1).
const ENCODED_SLOT: usize = 3;

/// v2 (major 2): up to four planes described at 64, 88, 112, 136.
pub(super) fn parse_v2(
    r: Reader<'_>,
    check_payload: impl Fn(&'static str, u64) -> Result<usize, MetadataError>,
) -> Result<FrameLayout, MetadataError> {
    let minor = r.u8(0x09);
    expect_u16(
        r,
        0x22,
        V2_DESCRIPTORS_OFFSET,
        "v2.plane_descriptors_offset",
        "must be 64",
    )?;
    expect_u16(
        r,
        0x24,
        V2_DESCRIPTOR_SIZE,
        "v2.plane_descriptor_size",
        "must be 24",
    )?;
    expect_u16(
        r,
        0x26,
        V2_DESCRIPTOR_CAPACITY,
        "v2.plane_descriptor_capacity",
        "must be 4",
    )?;
    let mask = r.u8(0x21);
    check_presence(minor, r.u8(0x20), mask)?;
    let payload_size = check_payload("v2.payload_size_bytes", r.u32(0x28).into())?;
    let depth_unit = r.u8(0x2C);
    if depth_unit > 2 {
        let reason = "must be 0 (unknown), 1 (millimetre) or 2 (metre)";
        return Err(invalid("v2.depth_unit", depth_unit.into(), reason));
    }

    let mut planes: [Option<Plane>; 4] = [None; 4];
    let mut next_offset = 0u64;
    for (slot, names) in SLOT_FIELDS.iter().enumerate() {
        let d = Descriptor::read(r, slot);
        if mask & (1 << slot) == 0 {
            if d.raw.iter().any(|&b| b != 0) {
                return Err(MetadataError::InactiveDescriptorNotZero {
                    field: names.descriptor,
                    mask,
                });
            }
            continue;
        }
        let plane = d.validate(slot, names, next_offset, payload_size as u64)?;
        next_offset += plane.size as u64;
        planes[slot] = Some(plane);
    }
    let [Some(video), depth, confidence, encoded_plane] = planes else {
        // Unreachable: bit 0 of the mask is always set here.
        let reason = "slot 0 missing";
        return Err(invalid("v2.plane_presence_mask", mask.into(), reason));
    };
    let encoded = encoded_plane.map(|plane| EncodedAccessUnit {
        codec: EncodedCodec::from_raw(r.u8(0x2D)),
        bitstream_format: r.u8(0x2E),
        keyframe: r.u16(0x2F) & ENCODED_FLAG_KEYFRAME != 0,
        frame_rate_num: r.u16(0x31),
        frame_rate_den: r.u16(0x33),
        stream_pts_ns: r.u64(0x35),
        plane,
    });
    Ok(FrameLayout {
        major: 2,
        minor,
        frame_count: r.u32(0x0C),
        timestamp_ns: r.u64(0x10),
        publish_seq: Some(r.u64(0x18)),
        payload_size,
        video,
        depth,
        confidence,
        depth_unit,
        encoded,
    })
}

fn expect_u16(
    r: Reader<'_>,
    at: usize,
    want: u16,
    field: &'static str,
    reason: &'static str,
) -> Result<(), MetadataError> {
    match r.u16(at) {
        found if found == want => Ok(()),
        found => Err(invalid(field, found.into(), reason)),
    }
}

/// Checks `plane_count` against `plane_presence_mask` (contract section 2):
/// minor 0 needs the contiguous mask `(1 << plane_count) - 1` without slot 3;
/// minor >= 1 allows a sparse mask with slot 0 and `plane_count == popcount`.
fn check_presence(minor: u8, count: u8, mask: u8) -> Result<(), MetadataError> {
    if !(1..=4).contains(&count) {
        return Err(invalid("v2.plane_count", count.into(), "must be in 1..=4"));
    }
    if mask & 0xF0 != 0 {
        let reason = "upper nibble must be zero";
        return Err(invalid("v2.plane_presence_mask", mask.into(), reason));
    }
    if minor == 0 {
        if mask != (1u8 << count) - 1 {
            let reason = "minor 0 requires the contiguous mask (1 << plane_count) - 1";
            return Err(invalid("v2.plane_presence_mask", mask.into(), reason));
        }
        if mask & (1 << ENCODED_SLOT) != 0 {
            let reason = "slot 3 (encoded access unit) requires minor >= 1";
            return Err(invalid("v2.plane_count", count.into(), reason));
        }
    } else {
        if mask & 1 == 0 {
            let reason = "slot 0 (LEFT) must be present";
            return Err(invalid("v2.plane_presence_mask", mask.into(), reason));
        }
        if u32::from(count) != mask.count_ones() {
            let reason = "must equal popcount(plane_presence_mask)";
            return Err(invalid("v2.plane_count", count.into(), reason));
        }
    }
    Ok(())
}

/// One raw 24-byte v2 plane descriptor.
struct Descriptor {
    raw: [u8; 24],
    plane_type: u8,
    pixel_format: u8,
    depth: u8,
    width: u32,
    height: u32,
    stride: u32,
    offset: u32,
    size: u32,
}

impl Descriptor {
    fn read(r: Reader<'_>, slot: usize) -> Self {
        let at = usize::from(V2_DESCRIPTORS_OFFSET) + slot * usize::from(V2_DESCRIPTOR_SIZE);
        let mut raw = [0u8; 24];
        raw.copy_from_slice(&r.0[at..at + 24]);
        Self {
            raw,
            plane_type: r.u8(at),
            pixel_format: r.u8(at + 1),
            depth: r.u8(at + 2),
            width: r.u32(at + 4),
            height: r.u32(at + 8),
            stride: r.u32(at + 12),
            offset: r.u32(at + 16),
            size: r.u32(at + 20),
        }
    }

    /// Checks an active descriptor in `slot`, which must start at `expected_offset`.
    fn validate(
        &self,
        slot: usize,
        names: &SlotFields,
        expected_offset: u64,
        payload_size: u64,
    ) -> Result<Plane, MetadataError> {
        if usize::from(self.plane_type) != slot {
            let reason = "must equal the slot (0 LEFT, 1 DEPTH, 2 CONFIDENCE, 3 ENCODED)";
            return Err(invalid(names.plane_type, self.plane_type.into(), reason));
        }
        let pixel_format = pixel_format(names.pixel_format, self.pixel_format)?;
        let depth = depth(names.depth, self.depth)?;
        let (want_depth, why) = match slot {
            1 | 2 => (
                Some(Depth::F32),
                "depth and confidence planes must be GRAY/F32",
            ),
            ENCODED_SLOT => (
                Some(Depth::U8),
                "the encoded access unit plane must be GRAY/U8",
            ),
            _ => (None, ""),
        };
        if let Some(want_depth) = want_depth {
            if pixel_format != PixelFormat::Gray {
                return Err(invalid(names.pixel_format, self.pixel_format.into(), why));
            }
            if depth != want_depth {
                return Err(invalid(names.depth, self.depth.into(), why));
            }
        }
        nonzero(names.width, self.width.into())?;
        nonzero(names.height, self.height.into())?;
        nonzero(names.stride, self.stride.into())?;
        nonzero(names.size, self.size.into())?;
        let (stride, size) = (u64::from(self.stride), u64::from(self.size));
        let row =
            u64::from(self.width) * u64::from(pixel_format.channels()) * u64::from(depth.bytes());
        if stride < row {
            let reason = "smaller than width * channels * bytes(depth)";
            return Err(invalid(names.stride, stride, reason));
        }
        if size < stride * u64::from(self.height) {
            return Err(invalid(names.size, size, "smaller than stride * height"));
        }
        if slot == ENCODED_SLOT {
            if self.height != 1 {
                let reason = "the encoded access unit plane must have height 1";
                return Err(invalid(names.height, self.height.into(), reason));
            }
            if stride != u64::from(self.width) || size != stride {
                let reason = "the encoded access unit plane needs width == stride == size";
                return Err(invalid(names.size, size, reason));
            }
        }
        let offset = u64::from(self.offset);
        if offset != expected_offset {
            return Err(MetadataError::PlaneNotPacked {
                field: names.offset,
                offset,
                expected: expected_offset,
            });
        }
        let end = offset + size;
        if end > payload_size {
            return Err(MetadataError::PlaneOutOfBounds {
                field: names.size,
                slot,
                end,
                payload_size,
            });
        }
        Ok(Plane {
            pixel_format,
            depth,
            width: self.width,
            height: self.height,
            stride: to_usize(names.stride, stride)?,
            offset: to_usize(names.offset, offset)?,
            size: to_usize(names.size, size)?,
        })
    }
}

/// Field names of one descriptor slot, for error messages.
struct SlotFields {
    descriptor: &'static str,
    plane_type: &'static str,
    pixel_format: &'static str,
    depth: &'static str,
    width: &'static str,
    height: &'static str,
    stride: &'static str,
    offset: &'static str,
    size: &'static str,
}

macro_rules! slot_fields {
    ($slot:literal) => {
        SlotFields {
            descriptor: concat!("v2.plane[", $slot, "]"),
            plane_type: concat!("v2.plane[", $slot, "].plane_type"),
            pixel_format: concat!("v2.plane[", $slot, "].pixel_format"),
            depth: concat!("v2.plane[", $slot, "].depth"),
            width: concat!("v2.plane[", $slot, "].width"),
            height: concat!("v2.plane[", $slot, "].height"),
            stride: concat!("v2.plane[", $slot, "].stride_bytes"),
            offset: concat!("v2.plane[", $slot, "].offset_bytes"),
            size: concat!("v2.plane[", $slot, "].size_bytes"),
        }
    };
}

const SLOT_FIELDS: [SlotFields; 4] = [
    slot_fields!(0),
    slot_fields!(1),
    slot_fields!(2),
    slot_fields!(3),
];
