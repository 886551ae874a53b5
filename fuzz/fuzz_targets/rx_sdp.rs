//! The RTP receiver's SDP reader (RFC 4566; RFC 6184 §8.1 / RFC 7798 §7.1
//! fmtp parameters, RFC 3605 `a=rtcp`): `rtp_rx::sdp::parse` (the `--sdp`
//! file).
//!
//! Invariants: accepted descriptions have a non-zero port, a dynamic-range
//! payload type that the text names, and parameter sets of the codec's
//! parameter-set NAL types.
#![no_main]

use cvmmap_testers::rtp_rx::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(info) = sdp::parse(&text) else {
        return;
    };
    assert_ne!(info.port, 0);
    assert!(info.payload_type <= 127);
    // An `a=rtpmap` line names the payload type (leading zeros allowed).
    let named = text.split('\n').any(|line| {
        line.strip_prefix("a=rtpmap:")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|pt| pt.parse::<u8>().ok())
            == Some(info.payload_type)
    });
    assert!(named, "payload type {} has no rtpmap", info.payload_type);
    assert_ne!(info.rtcp_port, Some(0));
    let types = info.codec.parameter_set_types();
    for set in &info.parameter_sets {
        let t = info.codec.nal_type(set).expect("a whole NAL header");
        assert!(types.contains(&t), "type {t}");
    }
});
