//! H.265 as FLV `CodecID` 12: the de-facto extension of the Chinese CDNs
//! (Kingsoft / Tencent / Alibaba patches to FFmpeg, nginx-rtmp forks, SRS),
//! never part of an Adobe spec.
//!
//! The layout is that of legacy AVC (FLV spec v10.1 §E.4.3.1
//! `AVCVIDEOPACKET`) with `CodecID` 12 in the low nibble of the first byte:
//! `FrameType(UB4) | 12`, packet type (0 sequence header, 1 NAL units,
//! 2 end of sequence), `SI24` composition time, data. The sequence header
//! carries an `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 §8.3.3.1,
//! see [`hevc_record`]); NAL units carry 4-byte lengths.

use super::{
    FlvError, PACKET_NALU, hevc_record, legacy_end_of_sequence, legacy_sequence_header,
    write_legacy_header, write_nalus_length_prefixed,
};

/// The (non-standard) FLV `CodecID` of H.265.
pub const CODEC_ID: u8 = 12;

/// The sequence header tag body: `0x1C` (key frame, codec 12), `0x00`,
/// composition time 0, then the
/// [`hevc_record::decoder_configuration_record`] of the given VPS, SPS and
/// PPS (NAL units with header, no start code).
pub fn sequence_header(vps: &[u8], sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, FlvError> {
    Ok(legacy_sequence_header(
        CODEC_ID,
        &hevc_record::decoder_configuration_record(vps, sps, pps)?,
    ))
}

/// Appends the tag body of one coded access unit to `out`:
/// `FrameType << 4 | 12` (`0x1C` key frame, `0x2C` inter frame), `0x01`,
/// `composition_time_ms` as SI24 (PTS - DTS, saturated), then the NAL units
/// of the Annex-B `access_unit` with 4-byte lengths. Access unit delimiters
/// are dropped, in-band parameter sets kept.
pub fn coded_frame(
    access_unit: &[u8],
    keyframe: bool,
    composition_time_ms: i32,
    out: &mut Vec<u8>,
) {
    write_legacy_header(out, keyframe, CODEC_ID, PACKET_NALU, composition_time_ms);
    write_nalus_length_prefixed(access_unit, out, hevc_record::keep_in_coded_frame);
}

/// The end-of-sequence tag body: `0x1C 0x02 00 00 00`.
pub fn end_of_sequence() -> [u8; 5] {
    legacy_end_of_sequence(CODEC_ID)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        HEVC_PPS, HEVC_SPS, HEVC_VPS, annexb, hex_dump, split_length_prefixed,
    };
    use super::*;

    #[test]
    fn sequence_header_snapshot() {
        let body = sequence_header(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap();
        assert_eq!(body[..5], [0x1c, 0x00, 0, 0, 0]);
        assert_eq!(
            body[5..],
            hevc_record::decoder_configuration_record(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap()
        );
        insta::assert_snapshot!(hex_dump(&body));
    }

    #[test]
    fn sequence_header_propagates_errors() {
        assert!(matches!(
            sequence_header(HEVC_VPS, HEVC_SPS, HEVC_SPS),
            Err(FlvError::WrongNalType { nal_type: 33, .. })
        ));
    }

    #[test]
    fn coded_frame_layout() {
        let aud: &[u8] = &[0x46, 0x01, 0x50];
        let idr: &[u8] = &[0x26, 0x01, 0xaf, 0x09, 0x40];
        let mut out = Vec::new();
        coded_frame(
            &annexb(&[aud, HEVC_VPS, HEVC_SPS, HEVC_PPS, idr]),
            true,
            0,
            &mut out,
        );
        assert_eq!(out[..5], [0x1c, 0x01, 0, 0, 0]);
        assert_eq!(
            split_length_prefixed(&out[5..]),
            [HEVC_VPS, HEVC_SPS, HEVC_PPS, idr]
        );

        let trail: &[u8] = &[0x02, 0x01, 0xd0, 0x10];
        let mut out = Vec::new();
        coded_frame(&annexb(&[aud, trail]), false, -33, &mut out);
        insta::assert_snapshot!(hex_dump(&out), @"2c 01 ff ff df 00 00 00 04 02 01 d0 10");
    }

    #[test]
    fn end_of_sequence_body() {
        assert_eq!(end_of_sequence(), [0x1c, 0x02, 0, 0, 0]);
    }
}
