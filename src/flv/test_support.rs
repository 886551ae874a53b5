//! Test fixtures: real parameter sets and helpers shared by the form tests.

/// H.264 High profile (100), level 3.0 SPS, given in the task brief.
pub const H264_SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
];
/// The PPS that goes with [`H264_SPS`].
pub const H264_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

// H.265 fixtures, made with GStreamer 1.22.0 (x265enc) by
//
//   gst-launch-1.0 videotestsrc num-buffers=1 \
//     ! video/x-raw,width=640,height=360,format=I420 ! x265enc \
//     ! video/x-h265,stream-format=byte-stream ! filesink location=/tmp/x.h265
//
// and copying the VPS (type 32), SPS (33) and PPS (34) NAL units out of the
// first access unit. x265 wrote Main profile (1), Main tier, level 2.1
// (general_level_idc 63), 4:2:0, 8 bits, one temporal layer.
//
// The reference records are the `codec_data` of
//
//   gst-launch-1.0 -v filesrc location=/tmp/x.h265 ! h265parse \
//     ! video/x-h265,stream-format=hvc1 ! fakesink
//
// whose caps also said profile=main, tier=main, level=2.1. h265parse leaves
// array_completeness at 0; we set it to 1 (the records are complete).

/// x265 VPS, one temporal layer.
pub const HEVC_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x3f, 0x95, 0x98, 0x09,
];
/// x265 SPS, one temporal layer, `sps_temporal_id_nesting_flag` 1.
pub const HEVC_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x3f, 0xa0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x9a, 0x49, 0x32, 0xbf, 0xfc, 0x00, 0x04,
    0x00, 0x05, 0xa8, 0x30, 0x30, 0x30, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03,
    0xc1,
];
/// x265 PPS (the same in both streams).
pub const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
/// h265parse's `HEVCDecoderConfigurationRecord` for [`HEVC_VPS`],
/// [`HEVC_SPS`], [`HEVC_PPS`], as hex.
pub const HEVC_H265PARSE_RECORD: &str = concat!(
    "0101600000009000000000003ff000fcfdf8f800000f03200001001840010c01",
    "ffff01600000030090000003000003003f959809210001003142010101600000",
    "030090000003000003003fa00502016965959a4932bffc00040005a830303020",
    "000003002000000303c122000100074401c172b46240",
);

// Same command with `x265enc option-string="temporal-layers=1:bframes=3"` and
// `num-buffers=3`: two temporal layers (sps_max_sub_layers_minus1 = 1, so the
// profile_tier_level carries sub-layer present flags and reserved bits),
// sps_temporal_id_nesting_flag 0. Same PPS as above.

/// x265 VPS, two temporal layers.
pub const HEVC2_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x02, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x3f, 0x00, 0x00, 0x95, 0x94, 0xac, 0xa0, 0x48,
];
/// x265 SPS, two temporal layers.
pub const HEVC2_SPS: &[u8] = &[
    0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x3f, 0x00, 0x00, 0xa0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x94, 0xac, 0xb2, 0x49, 0x95,
    0xff, 0xe0, 0x00, 0x20, 0x00, 0x2d, 0x41, 0x81, 0x81, 0x81, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x03, 0x00, 0x1e, 0x08,
];
/// h265parse's record for [`HEVC2_VPS`], [`HEVC2_SPS`], [`HEVC_PPS`], as hex.
pub const HEVC2_H265PARSE_RECORD: &str = concat!(
    "0101600000009000000000003ff000fcfdf8f800001303200001001c40010c02",
    "ffff01600000030090000003000003003f00009594aca0482100010035420102",
    "01600000030090000003000003003f0000a005020169659594acb24995ffe000",
    "20002d418181810000030001000003001e0822000100074401c172b46240",
);

/// Decodes a hex string (no separators).
pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Hex dump for snapshots: 16 space-separated bytes per line.
pub fn hex_dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a 4-byte length-prefixed NAL unit payload; panics if malformed.
pub fn split_length_prefixed(mut data: &[u8]) -> Vec<&[u8]> {
    let mut nals = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        nals.push(&rest[..len]);
        data = &rest[len..];
    }
    nals
}

/// Annex-B framing of `nals`, with 4-byte start codes.
pub fn annexb(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}
