//! H.265 in Enhanced RTMP (veovera `enhanced-rtmp` spec, v1), FourCC `hvc1`.
//!
//! The first byte is the `ExVideoTagHeader`: `IsExHeader(UB1) = 1 |
//! FrameType(UB3) | PacketType(UB4)`, so `0x80 | frame_type << 4 |
//! packet_type`; then the `UI32` video FourCC, here `hvc1`; then, by
//! [`PacketType`]:
//!
//! | `PacketType`        | data                                             |
//! |---------------------|--------------------------------------------------|
//! | 0, `SequenceStart`  | `HEVCDecoderConfigurationRecord`                 |
//! | 1, `CodedFrames`    | `SI24` composition time offset, then NAL units   |
//! | 2, `SequenceEnd`    | empty                                            |
//! | 3, `CodedFramesX`   | NAL units (composition time offset implied 0)    |
//!
//! NAL units carry 4-byte lengths, as the record's `lengthSizeMinusOne` = 3
//! says. `onMetaData` announces the codec with `videocodecid` =
//! [`FOURCC_HVC1_VALUE`].

use super::{
    FRAME_TYPE_KEY, FlvError, frame_type, hevc_record, write_nalus_length_prefixed, write_si24,
};

/// The video FourCC of H.265 in Enhanced RTMP.
pub const FOURCC_HVC1: [u8; 4] = *b"hvc1";

/// [`FOURCC_HVC1`] as a big-endian `u32` (1752589105): the `videocodecid` of
/// `onMetaData` for this form.
pub const FOURCC_HVC1_VALUE: u32 = 0x6876_6331;

/// `IsExHeader` bit of the first byte.
const EX_HEADER: u8 = 0x80;

/// Enhanced RTMP video `PacketType` (the low nibble of `ExVideoTagHeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// Decoder configuration record follows.
    SequenceStart = 0,
    /// `SI24` composition time offset and NAL units follow.
    CodedFrames = 1,
    /// End of the sequence; no data.
    SequenceEnd = 2,
    /// NAL units follow; composition time offset is 0.
    CodedFramesX = 3,
}

/// Appends `ExVideoTagHeader` and the FourCC.
fn write_header(out: &mut Vec<u8>, keyframe: bool, packet_type: PacketType) {
    out.push(EX_HEADER | frame_type(keyframe) << 4 | packet_type as u8);
    out.extend_from_slice(&FOURCC_HVC1);
}

/// The `SequenceStart` tag body: `0x90` (key frame, `SequenceStart`),
/// `hvc1`, then the [`hevc_record::decoder_configuration_record`] of the
/// given VPS, SPS and PPS (NAL units with header, no start code).
pub fn sequence_start(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, FlvError> {
    let record = hevc_record::decoder_configuration_record(vps, sps, pps)?;
    let mut out = Vec::with_capacity(5 + record.len());
    write_header(&mut out, true, PacketType::SequenceStart);
    out.extend_from_slice(&record);
    Ok(out)
}

/// Appends a `CodedFrames` tag body to `out`: header (`0x91` key frame,
/// `0xA1` inter frame), `hvc1`, `composition_time_ms` as SI24 (PTS - DTS,
/// saturated), then the NAL units of the Annex-B `access_unit` with 4-byte
/// lengths. Access unit delimiters are dropped, in-band parameter sets kept.
///
/// Use [`coded_frame_auto`] to save the three bytes when the offset is 0.
pub fn coded_frame(
    access_unit: &[u8],
    keyframe: bool,
    composition_time_ms: i32,
    out: &mut Vec<u8>,
) {
    write_header(out, keyframe, PacketType::CodedFrames);
    write_si24(out, composition_time_ms);
    write_nalus_length_prefixed(access_unit, out, hevc_record::keep_in_coded_frame);
}

/// Appends a `CodedFramesX` tag body to `out`: like [`coded_frame`] without
/// the composition time offset, which the receiver takes as 0 (header `0x93`
/// key frame, `0xA3` inter frame).
pub fn coded_frame_x(access_unit: &[u8], keyframe: bool, out: &mut Vec<u8>) {
    write_header(out, keyframe, PacketType::CodedFramesX);
    write_nalus_length_prefixed(access_unit, out, hevc_record::keep_in_coded_frame);
}

/// [`coded_frame_x`] when `composition_time_ms` is 0 (no B-frames, the
/// low-latency case), else [`coded_frame`]; returns the packet type used.
pub fn coded_frame_auto(
    access_unit: &[u8],
    keyframe: bool,
    composition_time_ms: i32,
    out: &mut Vec<u8>,
) -> PacketType {
    if composition_time_ms == 0 {
        coded_frame_x(access_unit, keyframe, out);
        PacketType::CodedFramesX
    } else {
        coded_frame(access_unit, keyframe, composition_time_ms, out);
        PacketType::CodedFrames
    }
}

/// The `SequenceEnd` tag body: `0x92` (key frame, `SequenceEnd`), `hvc1`.
pub fn sequence_end() -> [u8; 5] {
    let [a, b, c, d] = FOURCC_HVC1;
    [
        EX_HEADER | FRAME_TYPE_KEY << 4 | PacketType::SequenceEnd as u8,
        a,
        b,
        c,
        d,
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        HEVC_PPS, HEVC_SPS, HEVC_VPS, annexb, hex_dump, split_length_prefixed,
    };
    use super::*;

    const AUD: &[u8] = &[0x46, 0x01, 0x50];
    const IDR: &[u8] = &[0x26, 0x01, 0xaf, 0x09, 0x40];
    const TRAIL: &[u8] = &[0x02, 0x01, 0xd0, 0x10];

    #[test]
    fn fourcc_value() {
        assert_eq!(FOURCC_HVC1_VALUE, u32::from_be_bytes(FOURCC_HVC1));
        assert_eq!(FOURCC_HVC1_VALUE, 1_752_589_105);
    }

    #[test]
    fn sequence_start_snapshot() {
        let body = sequence_start(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap();
        assert_eq!(&body[..5], b"\x90hvc1");
        assert_eq!(
            body[5..],
            hevc_record::decoder_configuration_record(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap()
        );
        insta::assert_snapshot!(hex_dump(&body));
    }

    #[test]
    fn sequence_start_propagates_errors() {
        assert!(matches!(
            sequence_start(HEVC_VPS, &[], HEVC_PPS),
            Err(FlvError::MissingParameterSet { .. })
        ));
    }

    #[test]
    fn coded_frames_with_negative_offset() {
        let mut out = Vec::new();
        coded_frame(&annexb(&[AUD, TRAIL]), false, -33, &mut out);
        assert_eq!(out[..8], [0xa1, b'h', b'v', b'c', b'1', 0xff, 0xff, 0xdf]);
        assert_eq!(split_length_prefixed(&out[8..]), [TRAIL]);
        insta::assert_snapshot!(hex_dump(&out), @"a1 68 76 63 31 ff ff df 00 00 00 04 02 01 d0 10");
    }

    #[test]
    fn keyframe_keeps_parameter_sets_and_drops_aud() {
        let au = annexb(&[AUD, HEVC_VPS, HEVC_SPS, HEVC_PPS, IDR]);
        let mut out = vec![0xee]; // appends, never clears
        coded_frame(&au, true, 66, &mut out);
        assert_eq!(out[..9], [0xee, 0x91, b'h', b'v', b'c', b'1', 0, 0, 66]);
        assert_eq!(
            split_length_prefixed(&out[9..]),
            [HEVC_VPS, HEVC_SPS, HEVC_PPS, IDR]
        );
    }

    #[test]
    fn auto_picks_coded_frames_x_for_zero_offset() {
        let au = annexb(&[AUD, IDR]);
        let mut out = Vec::new();
        assert_eq!(
            coded_frame_auto(&au, true, 0, &mut out),
            PacketType::CodedFramesX
        );
        assert_eq!(out[..5], *b"\x93hvc1");
        assert_eq!(split_length_prefixed(&out[5..]), [IDR]);
        insta::assert_snapshot!(hex_dump(&out), @"93 68 76 63 31 00 00 00 05 26 01 af 09 40");

        let mut out = Vec::new();
        assert_eq!(
            coded_frame_auto(&au, false, 0, &mut out),
            PacketType::CodedFramesX
        );
        assert_eq!(out[0], 0xa3);

        let mut out = Vec::new();
        assert_eq!(
            coded_frame_auto(&au, true, 1, &mut out),
            PacketType::CodedFrames
        );
        assert_eq!(out[..8], *b"\x91hvc1\x00\x00\x01");
    }

    #[test]
    fn sequence_end_body() {
        assert_eq!(sequence_end(), *b"\x92hvc1");
    }
}
