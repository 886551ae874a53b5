//! Pure bitstream helpers for the encoded video the streamer publishes.
//!
//! Nothing here touches I/O or depends on GStreamer, and only [`sei`]
//! allocates (it builds new units): the encoder hands over Annex-B access
//! units and these modules only look at bytes.
//!
//! - [`annexb`]: split an Annex-B byte stream (ITU-T H.264 / H.265 Annex B)
//!   into NAL units, borrowing from the input.
//! - [`h264`]: H.264 NAL unit types, parameter-set lookup, `profile-level-id`.
//! - [`h265`]: H.265 NAL unit types (2-byte header) and parameter-set lookup.
//! - [`sei`]: SEI user_data_unregistered units (body tracking in-band).

pub mod annexb;
pub mod h264;
pub mod h265;
pub mod sei;

pub use annexb::{NalUnits, nal_units};

/// The parameter sets of an Annex-B access unit (H.264 SPS/PPS and their
/// extensions; H.265 VPS/SPS/PPS when `hevc`), each behind a 4-byte start
/// code, in stream order. Outputs compare these to notice new parameter sets
/// (SDP `sprop-*`, RTMP sequence headers).
pub fn parameter_sets_annexb(access_unit: &[u8], hevc: bool) -> Vec<u8> {
    let is_parameter_set = |nal: &[u8]| {
        if hevc {
            matches!(
                h265::nal_type(nal[0]),
                h265::NalType::VPS | h265::NalType::SPS | h265::NalType::PPS
            )
        } else {
            h264::nal_type(nal[0]).is_parameter_set()
        }
    };
    let mut out = Vec::new();
    for nal in nal_units(access_unit).filter(|n| is_parameter_set(n)) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

#[cfg(test)]
mod parameter_set_tests {
    #[test]
    fn only_parameter_sets_are_kept_with_4_byte_start_codes() {
        let au = [
            0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 9, 9,
        ];
        assert_eq!(
            super::parameter_sets_annexb(&au, false),
            [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3]
        );
        let hevc = [
            0, 0, 1, 0x40, 1, 7, 0, 0, 1, 0x42, 1, 8, 0, 0, 1, 0x44, 1, 9, 0, 0, 1, 0x26, 1, 5,
        ];
        assert_eq!(
            super::parameter_sets_annexb(&hevc, true),
            [
                0, 0, 0, 1, 0x40, 1, 7, 0, 0, 0, 1, 0x42, 1, 8, 0, 0, 0, 1, 0x44, 1, 9
            ]
        );
    }
}
