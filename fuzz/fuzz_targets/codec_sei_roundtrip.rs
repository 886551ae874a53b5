//! Body-tracking SEI written by the streamer (`codec::sei`:
//! `append_user_data_nal`, `insert_before_first_vcl` into an arbitrary access
//! unit) and read back by the RTP receiver (`rtp_rx::sei::scan_nal`).
//!
//! Input: `u8` flags (bit 0: H.265), one record (the body message), then
//! the access unit.
//!
//! Invariants: the SEI is one NAL unit of the right type whose only body is
//! the message; the access unit keeps all its NAL units, in order, with the
//! SEI before the first VCL NAL unit (or at the end without one).
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_streamer::codec::sei::{
    BODY_TRACKING_UUID, append_user_data_nal, insert_before_first_vcl,
};
use cvmmap_streamer::codec::{h264, h265, nal_units};
use cvmmap_testers::rtp_rx::depay::Codec;
use cvmmap_testers::rtp_rx::sei;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let hevc = input.u8() & 1 == 1;
    let body = input.record().unwrap_or_default();
    let au = input.rest();
    let codec = if hevc { Codec::H265 } else { Codec::H264 };

    let mut unit = Vec::new();
    append_user_data_nal(hevc, &BODY_TRACKING_UUID, body, &mut unit);
    let sei_nals: Vec<&[u8]> = nal_units(&unit).collect();
    assert_eq!(sei_nals.len(), 1, "one SEI NAL unit");
    let nal = sei_nals[0];
    assert!(sei::is_body_sei_nal(codec, nal));
    let scan = sei::scan_nal(codec, nal).expect("an SEI NAL unit");
    assert_eq!(scan.error, None);
    assert_eq!(scan.truncated_bodies, 0);
    assert_eq!(scan.bodies, [body.to_vec()]);

    let is_vcl = |n: &[u8]| {
        if hevc {
            h265::nal_type(n[0]).is_vcl()
        } else {
            h264::nal_type(n[0]).is_vcl()
        }
    };
    let mut expected: Vec<&[u8]> = nal_units(au).collect();
    let at = expected
        .iter()
        .position(|n| is_vcl(n))
        .unwrap_or(expected.len());
    expected.insert(at, nal);
    let out = insert_before_first_vcl(hevc, au, &unit);
    assert_eq!(out.len(), au.len() + unit.len());
    let got: Vec<&[u8]> = nal_units(&out).collect();
    assert_eq!(got, expected);
});
