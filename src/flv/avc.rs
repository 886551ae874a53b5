//! Legacy H.264 in FLV: `CodecID` 7.
//!
//! Adobe FLV spec v10.1 §E.4.3.1: a `VIDEODATA` body is
//! `FrameType(UB4) | CodecID(UB4)` followed, for `CodecID` 7, by an
//! `AVCVIDEOPACKET`: `AVCPacketType(UI8)`, `CompositionTime(SI24)` and data:
//!
//! | `AVCPacketType`        | data                                   |
//! |------------------------|----------------------------------------|
//! | 0, AVC sequence header | `AVCDecoderConfigurationRecord`        |
//! | 1, AVC NALU            | NAL units, each with a length prefix   |
//! | 2, end of sequence     | empty                                  |
//!
//! The `AVCDecoderConfigurationRecord` is ISO/IEC 14496-15 §5.3.3.1; we
//! always use 4-byte NAL unit lengths (`lengthSizeMinusOne` = 3).

use super::avc_reorder::{Head, PROFILES_WITH_CHROMA_FIELDS, reorder_after_id};
use super::bits::{BitError, Rbsp};
use super::{
    FlvError, PACKET_NALU, ParameterSet, check_parameter_set, legacy_end_of_sequence,
    legacy_sequence_header, push_u16_prefixed, u16_len, write_legacy_header,
    write_nalus_length_prefixed,
};
use crate::codec::h264::{NalType, nal_type};

/// FLV `CodecID` of AVC / H.264.
pub const CODEC_ID: u8 = 7;

/// `profile_idc` values whose `AVCDecoderConfigurationRecord` carries the
/// chroma format / bit depth extension (ISO/IEC 14496-15 §5.3.3.1.2).
const PROFILES_WITH_RECORD_EXTENSION: [u8; 4] = [100, 110, 122, 144];

/// What the `AVCDecoderConfigurationRecord` needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// `profile_idc`, the record's `AVCProfileIndication`.
    pub profile_idc: u8,
    /// The constraint flags byte, the record's `profile_compatibility`.
    pub profile_compatibility: u8,
    /// `level_idc`, the record's `AVCLevelIndication`.
    pub level_idc: u8,
    /// `chroma_format_idc`; 1 (4:2:0) when the SPS does not carry it
    /// (H.264 §7.4.2.1.1).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8`; 0 when the SPS does not carry it.
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8`; 0 when the SPS does not carry it.
    pub bit_depth_chroma_minus8: u8,
    /// `max_num_reorder_frames` (VUI, inferred per §E.2.1 when absent); `None`
    /// when the SPS ends or breaks before it. Not part of the record: the
    /// SPS stays usable for it either way.
    pub max_num_reorder_frames: Option<u8>,
}

impl SpsInfo {
    /// Whether the record gets the High profile extension (`chroma_format`,
    /// bit depths, `numOfSequenceParameterSetExt`).
    pub fn has_record_extension(&self) -> bool {
        PROFILES_WITH_RECORD_EXTENSION.contains(&self.profile_idc)
    }
}

/// Reads profile, constraint flags and level from the SPS header bytes, and
/// for the High profiles of [`SpsInfo::has_record_extension`] the
/// `chroma_format_idc` and bit depths (H.264 §7.3.2.1.1), after removing
/// emulation prevention bytes.
pub fn parse_sps(sps: &[u8]) -> Result<SpsInfo, FlvError> {
    check_parameter_set(ParameterSet::Sps, sps, 4, |b| nal_type(b).0, NalType::SPS.0)?;
    let mut info = SpsInfo {
        profile_idc: sps[1],
        profile_compatibility: sps[2],
        level_idc: sps[3],
        chroma_format_idc: 1,
        bit_depth_luma_minus8: 0,
        bit_depth_chroma_minus8: 0,
        max_num_reorder_frames: None,
    };
    let mut r = Rbsp::new(&sps[4..]);
    let mut head = Head {
        profile_idc: info.profile_idc,
        constraint_flags: info.profile_compatibility,
        level_idc: info.level_idc,
        chroma_format_idc: None,
    };
    let record = info.has_record_extension();
    if record || PROFILES_WITH_CHROMA_FIELDS.contains(&info.profile_idc) {
        match chroma_fields(&mut r) {
            Ok(c) => {
                if record {
                    info.chroma_format_idc = c.chroma_format_idc;
                    info.bit_depth_luma_minus8 = c.bit_depth_luma_minus8;
                    info.bit_depth_chroma_minus8 = c.bit_depth_chroma_minus8;
                }
                head.chroma_format_idc = Some(u32::from(c.chroma_format_idc));
            }
            // The record needs these fields; the reorder walk (e.g. for 244,
            // which has no record extension) goes without.
            Err(reason) if record => return Err(FlvError::BadSps { reason }),
            Err(_) => return Ok(info),
        }
    } else if r.ue().is_err() {
        return Ok(info); // seq_parameter_set_id
    }
    // Lenient: the record only needs the fields above.
    info.max_num_reorder_frames = reorder_after_id(&mut r, &head).ok().map(|n| n as u8);
    Ok(info)
}

/// The chroma format and bit depths of the SPS's High-profile branch.
struct ChromaFields {
    chroma_format_idc: u8,
    bit_depth_luma_minus8: u8,
    bit_depth_chroma_minus8: u8,
}

/// Reads `seq_parameter_set_id` through `bit_depth_chroma_minus8`
/// (H.264 §7.3.2.1.1), range-checked.
fn chroma_fields(r: &mut Rbsp) -> Result<ChromaFields, BitError> {
    if r.ue()? > 31 {
        return Err("seq_parameter_set_id over 31");
    }
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return Err("chroma_format_idc over 3");
    }
    if chroma_format_idc == 3 {
        r.skip(1)?; // separate_colour_plane_flag
    }
    let bit_depth_luma_minus8 = r.ue()?;
    let bit_depth_chroma_minus8 = r.ue()?;
    if bit_depth_luma_minus8 > 6 || bit_depth_chroma_minus8 > 6 {
        return Err("bit depth over 14");
    }
    // All three were range-checked above.
    Ok(ChromaFields {
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
        bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
    })
}

/// Builds the `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §5.3.3.1)
/// for one SPS and one PPS (NAL units with their header byte, no start
/// code):
///
/// ```text
/// configurationVersion = 1, AVCProfileIndication, profile_compatibility,
/// AVCLevelIndication, 0xFF (reserved 111111 | lengthSizeMinusOne 3),
/// 0xE1 (reserved 111 | numOfSequenceParameterSets 1), u16 length, SPS,
/// numOfPictureParameterSets 1, u16 length, PPS,
/// [High profiles: 0xFC | chroma_format, 0xF8 | bit_depth_luma_minus8,
///  0xF8 | bit_depth_chroma_minus8, numOfSequenceParameterSetExt 0]
/// ```
pub fn decoder_configuration_record(sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, FlvError> {
    let info = parse_sps(sps)?;
    check_parameter_set(ParameterSet::Pps, pps, 1, |b| nal_type(b).0, NalType::PPS.0)?;
    let sps_len = u16_len(ParameterSet::Sps, sps)?;
    let pps_len = u16_len(ParameterSet::Pps, pps)?;

    let mut out = Vec::with_capacity(11 + sps.len() + pps.len() + 4);
    out.extend_from_slice(&[
        1,
        info.profile_idc,
        info.profile_compatibility,
        info.level_idc,
        0xfc | 3,
        0xe0 | 1,
    ]);
    push_u16_prefixed(&mut out, sps_len, sps);
    out.push(1);
    push_u16_prefixed(&mut out, pps_len, pps);
    if info.has_record_extension() {
        out.extend_from_slice(&[
            0xfc | info.chroma_format_idc,
            0xf8 | info.bit_depth_luma_minus8,
            0xf8 | info.bit_depth_chroma_minus8,
            0,
        ]);
    }
    Ok(out)
}

/// The AVC sequence header tag body: `0x17` (key frame, AVC), `0x00` (AVC
/// sequence header), composition time 0, then the
/// [`decoder_configuration_record`].
pub fn sequence_header(sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, FlvError> {
    Ok(legacy_sequence_header(
        CODEC_ID,
        &decoder_configuration_record(sps, pps)?,
    ))
}

/// Appends the tag body of one coded access unit to `out`:
/// `FrameType << 4 | 7` (1 key frame, 2 inter frame), `0x01` (AVC NALU),
/// `composition_time_ms` as SI24 (PTS - DTS, saturated), then every NAL unit
/// of the Annex-B `access_unit` with a 4-byte length.
///
/// Access unit delimiters (type 9) are dropped: they mean nothing once
/// framing is by tag. In-band SPS / PPS are kept: decoders that joined
/// without the sequence header (or after an encoder reconfiguration) can use
/// them, and common servers (nginx-rtmp, SRS, MediaMTX) pass them through.
pub fn coded_frame(
    access_unit: &[u8],
    keyframe: bool,
    composition_time_ms: i32,
    out: &mut Vec<u8>,
) {
    write_legacy_header(out, keyframe, CODEC_ID, PACKET_NALU, composition_time_ms);
    write_nalus_length_prefixed(access_unit, out, |nal| nal_type(nal[0]) != NalType::AUD);
}

/// The AVC end-of-sequence tag body: `0x17 0x02 00 00 00`.
pub fn end_of_sequence() -> [u8; 5] {
    legacy_end_of_sequence(CODEC_ID)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        H264_PPS, H264_SPS, H264_SPS_REORDER_0, H264_SPS_REORDER_1, H264_SPS_REORDER_2_HRD, annexb,
        hex_dump, split_length_prefixed,
    };
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_high_profile_sps() {
        assert_eq!(
            parse_sps(H264_SPS),
            Ok(SpsInfo {
                profile_idc: 100,
                profile_compatibility: 0,
                level_idc: 30,
                chroma_format_idc: 1,
                bit_depth_luma_minus8: 0,
                bit_depth_chroma_minus8: 0,
                max_num_reorder_frames: Some(2),
            })
        );
    }

    #[test]
    fn reorder_depth_matches_ffmpeg() {
        // Expected values: ffmpeg's trace_headers on the same SPSs.
        for (sps, reorder) in [
            (H264_SPS_REORDER_0, 0),
            (H264_SPS_REORDER_1, 1),
            (H264_SPS_REORDER_2_HRD, 2),
            (H264_SPS, 2),
        ] {
            assert_eq!(
                parse_sps(sps).unwrap().max_num_reorder_frames,
                Some(reorder)
            );
        }
    }

    #[test]
    fn reorder_depth_is_lenient_and_inferred() {
        // Cut inside the VUI: the record fields still parse.
        let info = parse_sps(&H264_SPS[..20]).unwrap();
        assert_eq!((info.profile_idc, info.max_num_reorder_frames), (100, None));
        // Baseline without a VUI: no B slices, 0. Constrained Baseline,
        // level 3.0, 320x240, vui_parameters_present_flag 0:
        // id 0, log2_max_frame_num-4 0, poc type 2, refs 1, gaps 0,
        // width-1 19, height-1 14, frame_mbs_only 1, direct 1, crop 0, vui 0.
        let baseline = [0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe4];
        assert_eq!(
            parse_sps(&baseline).unwrap().max_num_reorder_frames,
            Some(0)
        );
        // The same as Main (77): MaxDpbFrames of level 3.0 at 20x15 MBs,
        // 8100 / 300 = 27, capped at 16.
        let main = [0x67, 0x4d, 0x40, 0x1e, 0xda, 0x05, 0x07, 0xe4];
        assert_eq!(parse_sps(&main).unwrap().max_num_reorder_frames, Some(16));
        // Found by fuzzing: a picture 2^32 x 2^32 macroblocks overflowed the
        // frame size in the MaxDpbFrames inference (Main, no VUI).
        let huge = [
            0x67, 0x4d, 0x40, 0x1e, 0xda, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
            0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0x90,
        ];
        assert_eq!(parse_sps(&huge).unwrap().max_num_reorder_frames, Some(0));
    }

    #[test]
    fn sequence_header_snapshot() {
        let body = sequence_header(H264_SPS, H264_PPS).unwrap();
        // Hand-checked: header, record fields, SPS/PPS, High extension.
        assert_eq!(
            &body[..11],
            [0x17, 0, 0, 0, 0, 1, 0x64, 0x00, 0x1e, 0xff, 0xe1]
        );
        assert_eq!(&body[11..13], [0x00, 26]);
        assert_eq!(&body[13..39], H264_SPS);
        assert_eq!(&body[39..42], [1, 0x00, 6]);
        assert_eq!(&body[42..48], H264_PPS);
        assert_eq!(&body[48..], [0xfd, 0xf8, 0xf8, 0x00]);
        insta::assert_snapshot!(hex_dump(&body));
    }

    #[test]
    fn baseline_record_has_no_extension() {
        // Constrained Baseline, level 3.1: profile 66 has no record extension,
        // so the rest of the SPS is not even parsed.
        let sps = [0x67, 0x42, 0xc0, 0x1f, 0xff];
        let record = decoder_configuration_record(&sps, H264_PPS).unwrap();
        assert_eq!(record.len(), 11 + sps.len() + H264_PPS.len());
        assert_eq!(&record[..6], [1, 0x42, 0xc0, 0x1f, 0xff, 0xe1]);
        assert_eq!(parse_sps(&sps).unwrap().chroma_format_idc, 1);
    }

    #[test]
    fn high_profile_extension_fields() {
        // profile 122 (the parser does not check profile constraints), sps id 0 (1), chroma 3 (00100), separate
        // colour plane 0, luma +2 (011), chroma +2 (011), then stop bit.
        // Bits: 1 00100 0 011 011 1 -> 1001_0000 1101_1100
        let sps = [0x67, 122, 0, 40, 0b1001_0000, 0b1101_1100];
        let info = parse_sps(&sps).unwrap();
        assert_eq!(
            (
                info.chroma_format_idc,
                info.bit_depth_luma_minus8,
                info.bit_depth_chroma_minus8
            ),
            (3, 2, 2)
        );
        let record = decoder_configuration_record(&sps, H264_PPS).unwrap();
        assert_eq!(record[record.len() - 4..], [0xff, 0xfa, 0xfa, 0x00]);
    }

    #[test]
    fn parameter_set_errors() {
        assert_eq!(
            sequence_header(&[], H264_PPS),
            Err(FlvError::MissingParameterSet {
                which: ParameterSet::Sps
            })
        );
        assert_eq!(
            sequence_header(H264_SPS, &[]),
            Err(FlvError::MissingParameterSet {
                which: ParameterSet::Pps
            })
        );
        assert_eq!(
            sequence_header(H264_PPS, H264_SPS),
            Err(FlvError::WrongNalType {
                which: ParameterSet::Sps,
                nal_type: 8
            })
        );
        assert_eq!(
            sequence_header(&[0x67, 0x42, 0x00], H264_PPS),
            Err(FlvError::ParameterSetTooShort {
                which: ParameterSet::Sps,
                len: 3
            })
        );
        // High profile SPS cut before the bit depths.
        assert!(matches!(
            parse_sps(&H264_SPS[..4]),
            Err(FlvError::BadSps { .. })
        ));
        let long_pps = vec![0x68; 70_000];
        assert_eq!(
            sequence_header(H264_SPS, &long_pps),
            Err(FlvError::ParameterSetTooLong {
                which: ParameterSet::Pps,
                len: 70_000
            })
        );
    }

    #[test]
    fn coded_frame_layout() {
        let aud: &[u8] = &[0x09, 0xf0];
        let idr: &[u8] = &[0x65, 0x88, 0x84, 0x00, 0x21];
        let au = annexb(&[aud, H264_SPS, H264_PPS, idr]);

        let mut out = vec![0xee]; // appends, never clears
        coded_frame(&au, true, 0, &mut out);
        assert_eq!(out[..6], [0xee, 0x17, 0x01, 0, 0, 0]);
        assert_eq!(split_length_prefixed(&out[6..]), [H264_SPS, H264_PPS, idr]);

        let slice: &[u8] = &[0x41, 0x9a, 0x02];
        let mut out = Vec::new();
        coded_frame(&annexb(&[aud, slice]), false, -33, &mut out);
        assert_eq!(
            out,
            [0x27, 0x01, 0xff, 0xff, 0xdf, 0, 0, 0, 3, 0x41, 0x9a, 0x02]
        );
        insta::assert_snapshot!(hex_dump(&out), @"27 01 ff ff df 00 00 00 03 41 9a 02");
    }

    #[test]
    fn end_of_sequence_body() {
        assert_eq!(end_of_sequence(), [0x17, 0x02, 0, 0, 0]);
    }

    proptest! {
        #[test]
        fn random_sps_never_panics(
            profile in prop_oneof![Just(100u8), Just(110), Just(122), Just(144), any::<u8>()],
            tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut sps = vec![0x67, profile, 0, 30];
            sps.extend_from_slice(&tail);
            let _ = parse_sps(&sps);
            let _ = decoder_configuration_record(&sps, H264_PPS);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_sps(&data);
            let _ = sequence_header(&data, &data);
            let mut out = Vec::new();
            coded_frame(&data, false, 0, &mut out);
        }
    }
}
