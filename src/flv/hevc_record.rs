//! The `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1), shared
//! by the Enhanced RTMP ([`super::enhanced`]) and `CodecID` 12
//! ([`super::domestic`]) forms.
//!
//! ```text
//! configurationVersion                       8   = 1
//! general_profile_space 2 | general_tier_flag 1 | general_profile_idc 5
//! general_profile_compatibility_flags        32
//! general_constraint_indicator_flags         48
//! general_level_idc                          8
//! '1111' | min_spatial_segmentation_idc 12       = 0xF000
//! '111111' | parallelismType 2                   = 0xFC
//! '111111' | chromaFormat 2
//! '11111' | bitDepthLumaMinus8 3
//! '11111' | bitDepthChromaMinus8 3
//! avgFrameRate                               16  = 0
//! constantFrameRate 2 | numTemporalLayers 3 | temporalIdNested 1 |
//!   lengthSizeMinusOne 2                         (0, from SPS, from SPS, 3)
//! numOfArrays                                8   = 3
//! per array: array_completeness 1 | reserved 0 1 | NAL_unit_type 6,
//!            numNalus 16, per NAL: nalUnitLength 16, nalUnit
//! ```
//!
//! The profile, tier, level, chroma format, bit depths, temporal layer count
//! and nesting flag come from the SPS (ITU-T H.265 §7.3.2.2.1,
//! `profile_tier_level()` §7.3.3), read by [`parse_sps`].

use super::bits::{BitError, Rbsp};
use super::{FlvError, ParameterSet, check_parameter_set, push_u16_prefixed, u16_len};
use crate::codec::h265::{NalType, nal_type};

/// What the `HEVCDecoderConfigurationRecord` needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// `sps_max_num_reorder_pics` of the highest sub-layer; `None` when the
    /// SPS ends or breaks before it (the record does not need it).
    pub max_num_reorder_pics: Option<u8>,
    /// `sps_max_sub_layers_minus1` (0..=6); the record's
    /// `numTemporalLayers` is this plus one.
    pub max_sub_layers_minus1: u8,
    /// `sps_temporal_id_nesting_flag`, the record's `temporalIdNested`.
    pub temporal_id_nesting: bool,
    /// `general_profile_space` (2 bits).
    pub general_profile_space: u8,
    /// `general_tier_flag`: false Main tier, true High tier.
    pub general_tier_flag: bool,
    /// `general_profile_idc` (5 bits): 1 Main, 2 Main 10, 3 Main Still
    /// Picture, 4 range extensions...
    pub general_profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 in the MSB.
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` to
    /// `general_inbld_flag` / reserved bit, in the low 48 bits.
    pub general_constraint_indicator_flags: u64,
    /// `general_level_idc`: 30 times the level number (63 is level 2.1).
    pub general_level_idc: u8,
    /// `chroma_format_idc` (0..=3).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8` (0..=7).
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8` (0..=7).
    pub bit_depth_chroma_minus8: u8,
}

/// Parses the SPS fields listed in [`SpsInfo`] from an SPS NAL unit (2-byte
/// header included, no start code), after removing emulation prevention
/// bytes.
///
/// Sub-layers are handled per H.265 §7.3.3: when `sps_max_sub_layers_minus1`
/// is not 0, the general profile/level is followed by the two present flags
/// per sub-layer, `reserved_zero_2bits` up to 8 entries, and the 88-bit sub-layer
/// profile / 8-bit sub-layer level of each sub-layer that has them.
pub fn parse_sps(sps: &[u8]) -> Result<SpsInfo, FlvError> {
    check_parameter_set(ParameterSet::Sps, sps, 2, |b| nal_type(b).0, NalType::SPS.0)?;
    parse_sps_rbsp(&mut Rbsp::new(&sps[2..])).map_err(|reason| FlvError::BadSps { reason })
}

fn parse_sps_rbsp(r: &mut Rbsp) -> Result<SpsInfo, BitError> {
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)? as u8;
    if max_sub_layers_minus1 > 6 {
        return Err("sps_max_sub_layers_minus1 is 7");
    }
    let temporal_id_nesting = r.flag()?;

    // profile_tier_level(1, sps_max_sub_layers_minus1)
    let general_profile_space = r.bits(2)? as u8;
    let general_tier_flag = r.flag()?;
    let general_profile_idc = r.bits(5)? as u8;
    let general_profile_compatibility_flags = r.bits(32)?;
    let constraint_high = u64::from(r.bits(16)?);
    let constraint_low = u64::from(r.bits(32)?);
    let general_constraint_indicator_flags = constraint_high << 32 | constraint_low;
    let general_level_idc = r.bits(8)? as u8;

    let mut sub_layer_profile_present = [false; 8];
    let mut sub_layer_level_present = [false; 8];
    for i in 0..usize::from(max_sub_layers_minus1) {
        sub_layer_profile_present[i] = r.flag()?;
        sub_layer_level_present[i] = r.flag()?;
    }
    if max_sub_layers_minus1 > 0 {
        // reserved_zero_2bits for i in max_sub_layers_minus1..8
        r.skip(2 * (8 - usize::from(max_sub_layers_minus1)))?;
    }
    for i in 0..usize::from(max_sub_layers_minus1) {
        if sub_layer_profile_present[i] {
            // profile space 2, tier 1, profile idc 5, compatibility 32,
            // constraint flags 48.
            r.skip(88)?;
        }
        if sub_layer_level_present[i] {
            r.skip(8)?; // sub_layer_level_idc
        }
    }

    let sps_seq_parameter_set_id = r.ue()?;
    if sps_seq_parameter_set_id > 15 {
        return Err("sps_seq_parameter_set_id over 15");
    }
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return Err("chroma_format_idc over 3");
    }
    if chroma_format_idc == 3 {
        r.skip(1)?; // separate_colour_plane_flag
    }
    r.ue()?; // pic_width_in_luma_samples
    r.ue()?; // pic_height_in_luma_samples
    if r.flag()? {
        // conformance_window_flag: left, right, top, bottom offsets
        for _ in 0..4 {
            r.ue()?;
        }
    }
    let bit_depth_luma_minus8 = r.ue()?;
    let bit_depth_chroma_minus8 = r.ue()?;
    if bit_depth_luma_minus8 > 7 || bit_depth_chroma_minus8 > 7 {
        return Err("bit depth over 15");
    }

    // Lenient: the record needs only the fields above (H.265 §7.3.2.2.1:
    // the reorder count of the highest sub-layer is the one that holds
    // for the whole stream).
    let max_num_reorder_pics = (|| {
        r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        let per_layer = r.flag()?; // sps_sub_layer_ordering_info_present_flag
        let first = if per_layer { 0 } else { max_sub_layers_minus1 };
        let mut reorder = 0;
        for _ in first..=max_sub_layers_minus1 {
            r.ue()?; // sps_max_dec_pic_buffering_minus1
            reorder = r.ue()?; // sps_max_num_reorder_pics
            r.ue()?; // sps_max_latency_increase_plus1
        }
        if reorder > 16 {
            return Err("sps_max_num_reorder_pics over 16");
        }
        Ok::<_, BitError>(reorder as u8)
    })()
    .ok();

    // The narrowing casts above read at most 8 bits; these three were
    // range-checked.
    Ok(SpsInfo {
        max_num_reorder_pics,
        max_sub_layers_minus1,
        temporal_id_nesting,
        general_profile_space,
        general_tier_flag,
        general_profile_idc,
        general_profile_compatibility_flags,
        general_constraint_indicator_flags,
        general_level_idc,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma_minus8: bit_depth_luma_minus8 as u8,
        bit_depth_chroma_minus8: bit_depth_chroma_minus8 as u8,
    })
}

/// Builds the `HEVCDecoderConfigurationRecord` (layout in the module docs)
/// for one VPS, one SPS and one PPS (NAL units with their 2-byte header, no
/// start code). Each array has `array_completeness` 1: these are all the
/// parameter sets of the stream, although coded frames may repeat them
/// in-band.
pub fn decoder_configuration_record(
    vps: &[u8],
    sps: &[u8],
    pps: &[u8],
) -> Result<Vec<u8>, FlvError> {
    let header_type = |b| nal_type(b).0;
    check_parameter_set(ParameterSet::Vps, vps, 2, header_type, NalType::VPS.0)?;
    let info = parse_sps(sps)?;
    check_parameter_set(ParameterSet::Pps, pps, 2, header_type, NalType::PPS.0)?;
    let arrays = [
        (NalType::VPS, u16_len(ParameterSet::Vps, vps)?, vps),
        (NalType::SPS, u16_len(ParameterSet::Sps, sps)?, sps),
        (NalType::PPS, u16_len(ParameterSet::Pps, pps)?, pps),
    ];

    let mut out = Vec::with_capacity(23 + 3 * 5 + vps.len() + sps.len() + pps.len());
    out.push(1); // configurationVersion
    out.push(
        info.general_profile_space << 6
            | u8::from(info.general_tier_flag) << 5
            | info.general_profile_idc,
    );
    out.extend_from_slice(&info.general_profile_compatibility_flags.to_be_bytes());
    out.extend_from_slice(&info.general_constraint_indicator_flags.to_be_bytes()[2..]);
    out.push(info.general_level_idc);
    out.extend_from_slice(&[
        0xf0,
        0x00, // reserved 1111 | min_spatial_segmentation_idc 0
        0xfc, // reserved 111111 | parallelismType 0 (unknown)
        0xfc | info.chroma_format_idc,
        0xf8 | info.bit_depth_luma_minus8,
        0xf8 | info.bit_depth_chroma_minus8,
        0x00,
        0x00, // avgFrameRate 0 (unspecified)
    ]);
    // constantFrameRate 0 | numTemporalLayers | temporalIdNested |
    // lengthSizeMinusOne 3
    out.push((info.max_sub_layers_minus1 + 1) << 3 | u8::from(info.temporal_id_nesting) << 2 | 3);
    out.push(arrays.len() as u8); // numOfArrays
    for (nal_type, len, nal) in arrays {
        out.push(0x80 | nal_type.0); // array_completeness 1, reserved 0
        out.extend_from_slice(&1u16.to_be_bytes()); // numNalus
        push_u16_prefixed(&mut out, len, nal);
    }
    Ok(out)
}

/// Whether a NAL unit goes into a coded frame of the HEVC forms: everything
/// but access unit delimiters (type 35), which mean nothing once framing is
/// by tag. In-band VPS / SPS / PPS are kept for decoders that join late.
pub(super) fn keep_in_coded_frame(nal: &[u8]) -> bool {
    nal_type(nal[0]) != NalType::AUD
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        HEVC_H265PARSE_RECORD, HEVC_PPS, HEVC_SPS, HEVC_SPS_REORDER_0, HEVC_VPS,
        HEVC2_H265PARSE_RECORD, HEVC2_SPS, HEVC2_VPS, hex_dump, unhex,
    };
    use super::*;
    use proptest::prelude::*;

    /// h265parse writes `array_completeness` 0; we write 1. Patches the three
    /// array headers of a reference record to compare the rest byte for byte.
    fn with_completeness(mut record: Vec<u8>) -> Vec<u8> {
        let mut pos = 23;
        for _ in 0..record[22] {
            record[pos] |= 0x80;
            let count = u16::from_be_bytes([record[pos + 1], record[pos + 2]]);
            pos += 3;
            for _ in 0..count {
                pos += 2 + usize::from(u16::from_be_bytes([record[pos], record[pos + 1]]));
            }
        }
        assert_eq!(pos, record.len());
        record
    }

    #[test]
    fn parses_x265_sps() {
        assert_eq!(
            parse_sps(HEVC_SPS),
            Ok(SpsInfo {
                max_sub_layers_minus1: 0,
                temporal_id_nesting: true,
                general_profile_space: 0,
                general_tier_flag: false,
                general_profile_idc: 1,
                // Main (1) and Main 10 (2) compatibility flags.
                general_profile_compatibility_flags: 0x6000_0000,
                // progressive_source 1, frame_only_constraint 1.
                general_constraint_indicator_flags: 0x9000_0000_0000,
                general_level_idc: 63,
                chroma_format_idc: 1,
                bit_depth_luma_minus8: 0,
                bit_depth_chroma_minus8: 0,
                max_num_reorder_pics: Some(2),
            })
        );
        // ffmpeg's trace_headers reads the same values.
        assert_eq!(parse_sps(HEVC2_SPS).unwrap().max_num_reorder_pics, Some(2));
        assert_eq!(
            parse_sps(HEVC_SPS_REORDER_0).unwrap().max_num_reorder_pics,
            Some(0)
        );
        // The shortest SPS that still gives a record ends before the count.
        let shortest = (1..HEVC_SPS.len())
            .find(|&n| parse_sps(&HEVC_SPS[..n]).is_ok())
            .unwrap();
        assert_eq!(
            parse_sps(&HEVC_SPS[..shortest])
                .unwrap()
                .max_num_reorder_pics,
            None
        );
    }

    #[test]
    fn parses_sps_with_sub_layers() {
        let info = parse_sps(HEVC2_SPS).unwrap();
        assert_eq!(info.max_sub_layers_minus1, 1);
        assert!(!info.temporal_id_nesting);
        assert_eq!(info.general_profile_idc, 1);
        assert_eq!(info.general_level_idc, 63);
        assert_eq!(
            (
                info.chroma_format_idc,
                info.bit_depth_luma_minus8,
                info.bit_depth_chroma_minus8
            ),
            (1, 0, 0)
        );
    }

    #[test]
    fn sub_layer_profile_and_level_are_skipped() {
        // Synthetic SPS: 3 sub-layers (minus1 = 2), nesting 1; sub-layer 0
        // has profile and level, sub-layer 1 only a level. Bytes after the
        // PTL encode sps id 0, chroma 2, 16x16, no window, luma +2, chroma +2.
        let mut sps = vec![0x42, 0x01, 0b0000_0101];
        sps.extend_from_slice(&[0x22, 0x20, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 93]);
        // present flags: 11 01, reserved 6 x 00 -> 1101_0000 0000_0000
        sps.extend_from_slice(&[0xd0, 0x00]);
        sps.extend_from_slice(&[0xff; 11]); // sub-layer 0 profile (88 bits)
        sps.push(0xee); // sub-layer 0 level
        sps.push(0xdd); // sub-layer 1 level
        // 1 | 011 | 000010001 | 000010001 | 0 | 011 | 011 | 1
        // -> 1011_0000 1000_1000 0100_0100 1101_1100
        sps.extend_from_slice(&[0b1011_0000, 0b1000_1000, 0b0100_0100, 0b1101_1100]);
        let info = parse_sps(&sps).unwrap();
        assert_eq!(info.max_sub_layers_minus1, 2);
        assert!(info.temporal_id_nesting);
        assert_eq!(info.general_profile_idc, 2);
        assert!(info.general_tier_flag);
        assert_eq!(info.general_profile_compatibility_flags, 0x2000_0000);
        assert_eq!(info.general_constraint_indicator_flags, 0x8000_0000_0000);
        assert_eq!(info.general_level_idc, 93);
        assert_eq!(info.chroma_format_idc, 2);
        assert_eq!(info.bit_depth_luma_minus8, 2);
        assert_eq!(info.bit_depth_chroma_minus8, 2);
        let record = decoder_configuration_record(HEVC_VPS, &sps, HEVC_PPS).unwrap();
        assert_eq!(record[1], 0x22);
        assert_eq!(record[16..19], [0xfe, 0xfa, 0xfa]);
        // constantFrameRate 00, numTemporalLayers 011, temporalIdNested 1,
        // lengthSizeMinusOne 11.
        assert_eq!(record[21], 0b0001_1111);
    }

    #[test]
    fn record_matches_h265parse() {
        let record = decoder_configuration_record(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap();
        assert_eq!(record, with_completeness(unhex(HEVC_H265PARSE_RECORD)));
        insta::assert_snapshot!(hex_dump(&record));
    }

    #[test]
    fn record_with_sub_layers_matches_h265parse() {
        let record = decoder_configuration_record(HEVC2_VPS, HEVC2_SPS, HEVC_PPS).unwrap();
        assert_eq!(record, with_completeness(unhex(HEVC2_H265PARSE_RECORD)));
        // numTemporalLayers 2, temporalIdNested 0.
        assert_eq!(record[21], 0x13);
        insta::assert_snapshot!(hex_dump(&record));
    }

    #[test]
    fn parameter_set_errors() {
        assert_eq!(
            decoder_configuration_record(&[], HEVC_SPS, HEVC_PPS),
            Err(FlvError::MissingParameterSet {
                which: ParameterSet::Vps
            })
        );
        assert_eq!(
            decoder_configuration_record(HEVC_VPS, HEVC_PPS, HEVC_PPS),
            Err(FlvError::WrongNalType {
                which: ParameterSet::Sps,
                nal_type: 34
            })
        );
        assert_eq!(
            decoder_configuration_record(HEVC_VPS, HEVC_SPS, &[0x44]),
            Err(FlvError::ParameterSetTooShort {
                which: ParameterSet::Pps,
                len: 1
            })
        );
        assert_eq!(
            parse_sps(&HEVC_SPS[..10]),
            Err(FlvError::BadSps {
                reason: "truncated RBSP"
            })
        );
        let mut long_vps = HEVC_VPS.to_vec();
        long_vps.resize(65_536, 0x11);
        assert_eq!(
            decoder_configuration_record(&long_vps, HEVC_SPS, HEVC_PPS),
            Err(FlvError::ParameterSetTooLong {
                which: ParameterSet::Vps,
                len: 65_536
            })
        );
    }

    proptest! {
        #[test]
        fn random_sps_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..96)) {
            let mut sps = vec![0x42, 0x01];
            sps.extend_from_slice(&tail);
            let _ = parse_sps(&sps);
            let _ = decoder_configuration_record(HEVC_VPS, &sps, HEVC_PPS);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse_sps(&data);
            let _ = decoder_configuration_record(&data, &data, &data);
        }

        /// Corrupting the x265 SPS anywhere after the header never panics.
        #[test]
        fn mutated_sps_never_panics(index in 2usize..49, value in any::<u8>(), cut in 2usize..=49) {
            let mut sps = HEVC_SPS.to_vec();
            sps[index] = value;
            sps.truncate(cut);
            let _ = parse_sps(&sps);
        }
    }
}
