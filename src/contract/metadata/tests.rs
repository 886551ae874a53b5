//! Hand-built segments (contract section 2) through [`parse_metadata`]: one
//! positive test per layout, one negative test per validation rule.

use super::*;
use crate::contract::EncodedCodec;
use crate::contract::test_support::*;
use crate::contract::test_support::{v2_one_plane as one, v2_three_planes as three};
use MetadataError::{InactiveDescriptorNotZero, InvalidField, PlaneNotPacked, PlaneOutOfBounds};

fn parse(m: &Meta) -> FrameLayout {
    parse_metadata(&m.0, SHM_SIZE).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn parses_v1_bgr_frame() {
    let l = parse(&v1_bgr());
    assert_eq!(
        (l.major, l.minor, l.frame_count, l.timestamp_ns),
        (1, 0, 7, 1_000_000_007)
    );
    assert_eq!(l.publish_seq, None);
    assert_eq!(l.payload_size, 96);
    let want = Plane {
        pixel_format: PixelFormat::Bgr,
        depth: Depth::U8,
        width: 8,
        height: 4,
        stride: 24,
        offset: 0,
        size: 96,
    };
    assert_eq!(l.video, want);
    assert_eq!(
        (l.depth, l.confidence, l.encoded, l.depth_unit),
        (None, None, None, 0)
    );
    assert_eq!(l.video.shm_range(), 256..352);
    assert_eq!(l.required_shm_size(), 352);
    assert_eq!(l.video.row_bytes(), 24);
}

#[test]
fn v1_stride_is_buffer_size_over_height_when_it_divides() {
    let mut m = v1_bgr();
    m.u32(0x20, 128);
    assert_eq!(parse(&m).video.stride, 32);
    m.u32(0x20, 97);
    let l = parse(&m);
    assert_eq!((l.video.stride, l.video.size, l.payload_size), (24, 97, 97));
}

#[test]
fn v1_any_minor_and_extra_bytes_are_accepted() {
    let mut bytes = v1_bgr().0.to_vec();
    bytes[0x09] = 3;
    bytes.extend_from_slice(&[0xAB; 100]);
    assert_eq!(parse_metadata(&bytes, SHM_SIZE).unwrap().minor, 3);
}

#[test]
fn parses_v2_one_plane() {
    let l = parse(&one());
    assert_eq!(
        (l.major, l.minor, l.frame_count, l.timestamp_ns),
        (2, 0, 9, 2_000_000_009)
    );
    assert_eq!(l.publish_seq, Some(11));
    assert_eq!(l.payload_size, 128);
    assert_eq!(l.video.pixel_format, PixelFormat::Bgr);
    assert_eq!((l.video.width, l.video.height, l.video.stride), (8, 4, 32));
    assert_eq!(l.video.payload_range(), 0..128);
    assert_eq!((l.depth, l.confidence, l.encoded), (None, None, None));
}

#[test]
fn parses_v2_three_planes() {
    let l = parse(&three());
    assert_eq!(l.payload_size, 384);
    assert_eq!(l.depth_unit, 1);
    let depth = l.depth.unwrap();
    let confidence = l.confidence.unwrap();
    assert_eq!(
        (depth.pixel_format, depth.depth),
        (PixelFormat::Gray, Depth::F32)
    );
    assert_eq!(depth.payload_range(), 128..256);
    assert_eq!(confidence.payload_range(), 256..384);
    assert_eq!(confidence.shm_range(), 512..640);
    assert_eq!(l.encoded, None);
}

#[test]
fn parses_v2_1_sparse_mask_with_encoded_access_unit() {
    let l = parse(&v2_1_encoded());
    assert_eq!((l.major, l.minor), (2, 1));
    assert_eq!((l.depth, l.confidence), (None, None));
    let au = l.encoded.unwrap();
    assert_eq!(au.codec, EncodedCodec::H264);
    assert!(au.is_annex_b() && au.keyframe);
    assert_eq!(
        (au.frame_rate_num, au.frame_rate_den, au.stream_pts_ns),
        (30, 1, 33_333_333)
    );
    assert_eq!(
        (au.plane.width, au.plane.height, au.plane.stride),
        (37, 1, 37)
    );
    assert_eq!(au.plane.payload_range(), 128..165);
}

#[test]
fn v2_1_keeps_unknown_codec_values_and_flags() {
    let mut m = v2_1_encoded();
    m.u8(0x2D, 9).u16(0x2F, 0x0002);
    let au = parse(&m).encoded.unwrap();
    assert_eq!(au.codec, EncodedCodec::Unknown(9));
    assert_eq!(au.codec.raw(), 9);
    assert!(!au.keyframe);
    m.u8(0x2D, 2);
    assert_eq!(parse(&m).encoded.unwrap().codec, EncodedCodec::H265);
}

#[test]
fn v2_1_without_encoded_plane_and_later_minors() {
    let mut m = one();
    m.u8(0x09, 1).u8(0x2D, 1);
    assert_eq!(parse(&m).encoded, None);
    let mut m = v2_1_encoded();
    m.u8(0x09, 2);
    assert!(parse(&m).encoded.is_some());
}

#[test]
fn counter_and_timestamp_sit_at_the_same_place_in_both_versions() {
    assert_eq!(
        read_counter_and_timestamp(&v1_bgr().0),
        Some((7, 1_000_000_007))
    );
    assert_eq!(
        read_counter_and_timestamp(&v2_1_encoded().0),
        Some((9, 2_000_000_009))
    );
    assert_eq!(
        read_counter_and_timestamp(&v1_bgr().0[..0x18]),
        Some((7, 1_000_000_007))
    );
    assert_eq!(read_counter_and_timestamp(&v1_bgr().0[..0x17]), None);
    assert_eq!(read_counter_and_timestamp(&[]), None);
}

#[test]
fn short_input_is_rejected() {
    for len in [0, 8, 255] {
        let err = parse_metadata(&v1_bgr().0[..len], SHM_SIZE).unwrap_err();
        assert_eq!(err, MetadataError::TooShort { len });
    }
}

#[test]
fn bad_magic_and_zeroed_segment_are_rejected() {
    let err = parse_metadata(&[0u8; 256], SHM_SIZE).unwrap_err();
    assert_eq!(err, MetadataError::BadMagic { found: [0; 8] });
    let mut m = v1_bgr();
    m.u8(7, b'X');
    assert!(matches!(
        parse_metadata(&m.0, SHM_SIZE),
        Err(MetadataError::BadMagic { .. })
    ));
    assert!(err.to_string().contains("magic"));
}

#[test]
fn unknown_major_is_rejected() {
    for major in [0, 3, 255] {
        let mut m = v1_bgr();
        m.u8(0x08, major).u8(0x09, 4);
        let err = parse_metadata(&m.0, SHM_SIZE).unwrap_err();
        assert_eq!(err, MetadataError::UnsupportedVersion { major, minor: 4 });
    }
}

#[test]
fn payload_beyond_the_mapping_asks_for_a_remap() {
    for (m, field, need) in [
        (v1_bgr(), "v1.buffer_size", 352),
        (v2_1_encoded(), "v2.payload_size_bytes", 421),
    ] {
        assert!(parse_metadata(&m.0, need).is_ok());
        let err = parse_metadata(&m.0, need - 1).unwrap_err();
        assert_eq!(err.required_shm_size(), Some(need as u64), "{err}");
        assert!(err.to_string().contains(field), "{err}");
        // A segment smaller than the metadata itself has no payload room at all.
        let err = parse_metadata(&m.0, 100).unwrap_err();
        assert!(matches!(
            err,
            MetadataError::PayloadExceedsSegment {
                capacity: 0,
                shm_size: 100,
                ..
            }
        ));
    }
}

#[test]
fn messages_name_field_and_value() {
    let mut m = one();
    m.u32(64 + 12, 23);
    assert_eq!(
        parse_metadata(&m.0, SHM_SIZE).unwrap_err().to_string(),
        "metadata field v2.plane[0].stride_bytes = 23 is invalid: smaller than width * \
         channels * bytes(depth)"
    );
    let mut m = three();
    m.u32(64 + 24 + 16, 130);
    assert_eq!(
        parse_metadata(&m.0, SHM_SIZE).unwrap_err().to_string(),
        "metadata field v2.plane[1].offset_bytes = 130 is invalid: planes must be packed \
         back to back from payload offset 0, expected 128"
    );
}

/// One test per case: `name: base, |m| edit => Pattern, "field named in the message";`
macro_rules! rejects {
    ($($name:ident: $base:expr, |$m:ident| $edit:expr => $pat:pat, $field:literal;)*) => {$(
        #[test]
        fn $name() {
            let mut $m: Meta = $base;
            $edit;
            let err = parse_metadata(&$m.0, SHM_SIZE).expect_err("must be rejected");
            assert!(matches!(err, $pat), "unexpected variant: {err:?}");
            let text = err.to_string();
            assert!(text.contains($field), "{text:?} does not name {}", $field);
        }
    )*};
}

const D0: usize = 64; // descriptor of slot 0
const D1: usize = 64 + 24; // descriptor of slot 1
const D2: usize = 64 + 48; // descriptor of slot 2
const D3: usize = 64 + 72; // descriptor of slot 3

// v1 rules.
rejects! {
    v1_zero_width: v1_bgr(), |m| m.u16(0x18, 0) => InvalidField { value: 0, .. }, "v1.width";
    v1_zero_height: v1_bgr(), |m| m.u16(0x1A, 0) => InvalidField { .. }, "v1.height";
    v1_zero_channels: v1_bgr(), |m| m.u8(0x1C, 0) => InvalidField { .. }, "v1.channels";
    v1_zero_buffer_size: v1_bgr(), |m| m.u32(0x20, 0) => InvalidField { .. }, "v1.buffer_size";
    v1_unknown_pixel_format: v1_bgr(), |m| m.u8(0x1E, 7)
        => InvalidField { value: 7, .. }, "v1.pixel_format";
    v1_unknown_depth: v1_bgr(), |m| m.u8(0x1D, 8) => InvalidField { value: 8, .. }, "v1.depth";
    v1_channels_disagree_with_format: v1_bgr(), |m| m.u8(0x1C, 4)
        => InvalidField { value: 4, .. }, "v1.channels";
    v1_buffer_too_small: v1_bgr(), |m| m.u32(0x20, 95)
        => InvalidField { value: 95, .. }, "v1.buffer_size";
    v1_buffer_too_small_for_depth: v1_bgr(), |m| m.u8(0x1D, 2) // U16: needs 192
        => InvalidField { value: 96, .. }, "v1.buffer_size";
    v1_buffer_beyond_segment: v1_bgr(), |m| m.u32(0x20, u32::MAX)
        => MetadataError::PayloadExceedsSegment { .. }, "v1.buffer_size";
}

// v2 header rules.
rejects! {
    v2_descriptors_offset: one(), |m| m.u16(0x22, 65)
        => InvalidField { value: 65, .. }, "v2.plane_descriptors_offset";
    v2_descriptor_size: one(), |m| m.u16(0x24, 32)
        => InvalidField { value: 32, .. }, "v2.plane_descriptor_size";
    v2_descriptor_capacity: one(), |m| m.u16(0x26, 8)
        => InvalidField { value: 8, .. }, "v2.plane_descriptor_capacity";
    v2_zero_plane_count: one(), |m| m.u8(0x20, 0) => InvalidField { value: 0, .. }, "v2.plane_count";
    v2_five_planes: one(), |m| m.u8(0x20, 5) => InvalidField { value: 5, .. }, "v2.plane_count";
    v2_mask_upper_nibble: one(), |m| m.u8(0x21, 0x11)
        => InvalidField { value: 0x11, .. }, "v2.plane_presence_mask";
    v2_0_mask_not_contiguous: three(), |m| m.u8(0x21, 0b101)
        => InvalidField { value: 0b101, .. }, "v2.plane_presence_mask";
    v2_0_mask_disagrees_with_count: three(), |m| m.u8(0x20, 2)
        => InvalidField { value: 0b111, .. }, "v2.plane_presence_mask";
    v2_0_slot_3_needs_minor_1: v2_1_encoded(), |m| m.u8(0x09, 0).u8(0x20, 4).u8(0x21, 0xF)
        => InvalidField { value: 4, .. }, "v2.plane_count";
    v2_1_mask_without_left: v2_1_encoded(), |m| m.u8(0x20, 1).u8(0x21, 0b1000)
        => InvalidField { value: 0b1000, .. }, "v2.plane_presence_mask";
    v2_1_count_is_not_popcount: v2_1_encoded(), |m| m.u8(0x20, 3)
        => InvalidField { value: 3, .. }, "v2.plane_count";
    v2_zero_payload: one(), |m| m.u32(0x28, 0)
        => InvalidField { value: 0, .. }, "v2.payload_size_bytes";
    v2_payload_beyond_segment: one(), |m| m.u32(0x28, 4097)
        => MetadataError::PayloadExceedsSegment { payload_size: 4097, .. }, "v2.payload_size_bytes";
    v2_unknown_depth_unit: three(), |m| m.u8(0x2C, 3)
        => InvalidField { value: 3, .. }, "v2.depth_unit";
}

// v2 active plane rules (descriptor fields: +0 type, +1 format, +2 depth, +4 width,
// +8 height, +12 stride, +16 offset, +20 size).
rejects! {
    v2_wrong_plane_type: three(), |m| m.u8(D1, 2)
        => InvalidField { value: 2, .. }, "v2.plane[1].plane_type";
    v2_unknown_pixel_format: one(), |m| m.u8(D0 + 1, 7)
        => InvalidField { value: 7, .. }, "v2.plane[0].pixel_format";
    v2_unknown_depth: one(), |m| m.u8(D0 + 2, 8)
        => InvalidField { value: 8, .. }, "v2.plane[0].depth";
    v2_depth_plane_not_gray: three(), |m| m.u8(D1 + 1, BGR)
        => InvalidField { .. }, "v2.plane[1].pixel_format";
    v2_depth_plane_not_f32: three(), |m| m.u8(D1 + 2, U8)
        => InvalidField { .. }, "v2.plane[1].depth";
    v2_confidence_plane_not_f32: three(), |m| m.u8(D2 + 2, U8)
        => InvalidField { .. }, "v2.plane[2].depth";
    v2_zero_width: one(), |m| m.u32(D0 + 4, 0) => InvalidField { value: 0, .. }, "v2.plane[0].width";
    v2_zero_height: one(), |m| m.u32(D0 + 8, 0)
        => InvalidField { value: 0, .. }, "v2.plane[0].height";
    v2_zero_stride: one(), |m| m.u32(D0 + 12, 0)
        => InvalidField { value: 0, .. }, "v2.plane[0].stride_bytes";
    v2_zero_size: one(), |m| m.u32(D0 + 20, 0)
        => InvalidField { value: 0, .. }, "v2.plane[0].size_bytes";
    v2_stride_below_row_bytes: one(), |m| m.u32(D0 + 12, 23)
        => InvalidField { value: 23, .. }, "v2.plane[0].stride_bytes";
    v2_f32_stride_below_row_bytes: three(), |m| m.u32(D1 + 4, 9) // 9 * 4 > 32
        => InvalidField { value: 32, .. }, "v2.plane[1].stride_bytes";
    v2_size_below_stride_times_height: one(), |m| m.u32(D0 + 20, 127)
        => InvalidField { value: 127, .. }, "v2.plane[0].size_bytes";
    v2_left_not_at_zero: one(), |m| m.u32(D0 + 16, 4).u32(0x28, 256)
        => PlaneNotPacked { offset: 4, expected: 0, .. }, "v2.plane[0].offset_bytes";
    v2_gap_between_planes: three(), |m| m.u32(D2 + 16, 260)
        => PlaneNotPacked { expected: 256, .. }, "v2.plane[2].offset_bytes";
    v2_overlapping_planes: three(), |m| m.u32(D1 + 16, 64)
        => PlaneNotPacked { offset: 64, .. }, "v2.plane[1].offset_bytes";
    v2_plane_past_payload: three(), |m| m.u32(0x28, 383)
        => PlaneOutOfBounds { slot: 2, end: 384, payload_size: 383, .. }, "v2.plane[2].size_bytes";
    v2_inactive_descriptor_not_zero: one(), |m| m.u8(D2 + 3, 1)
        => InactiveDescriptorNotZero { mask: 1, .. }, "v2.plane[2]";
    v2_1_inactive_slot_between_active_ones: v2_1_encoded(), |m| m.desc(1, gray_f32(1, 128))
        => InactiveDescriptorNotZero { mask: 0b1001, .. }, "v2.plane[1]";
}

// v2.1 encoded access unit rules.
rejects! {
    v2_1_au_not_gray: v2_1_encoded(), |m| m.u8(D3 + 1, BGR)
        => InvalidField { .. }, "v2.plane[3].pixel_format";
    v2_1_au_not_u8: v2_1_encoded(), |m| m.u8(D3 + 2, F32) => InvalidField { .. }, "v2.plane[3].depth";
    v2_1_au_height_not_1: v2_1_encoded(),
        |m| m.desc(3, Desc { height: 2, size: 74, ..encoded_au(128, 37) }).u32(0x28, 202)
        => InvalidField { value: 2, .. }, "v2.plane[3].height";
    v2_1_au_stride_not_width: v2_1_encoded(),
        |m| m.desc(3, Desc { stride: 40, size: 40, ..encoded_au(128, 37) }).u32(0x28, 168)
        => InvalidField { value: 40, .. }, "v2.plane[3].size_bytes";
    v2_1_au_size_not_stride: v2_1_encoded(),
        |m| m.desc(3, Desc { size: 38, ..encoded_au(128, 37) }).u32(0x28, 166)
        => InvalidField { value: 38, .. }, "v2.plane[3].size_bytes";
}
