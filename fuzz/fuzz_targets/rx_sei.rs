//! The RTP receiver's body-tracking SEI reader (H.264 §7.3.2.3, H.265
//! §7.3.5, user_data_unregistered §D.1.6 / §D.2.7): `rtp_rx::sei`
//! (`scan_nal`, `unescape`, `sei_messages`) and the `body_sei` statistics
//! built on it (`rtp_rx::body_sei::BodySeiStats::observe`).
//!
//! Input: `u8` flags (bit 0: H.265, bit 1: with a capture time), `u64`
//! capture time, then NAL units as records (header included).
//!
//! Invariants: messages lie inside the unescaped RBSP; bodies found are our
//! UUID's payloads; counters add up.
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_testers::rtp_rx::body_sei::BodySeiStats;
use cvmmap_testers::rtp_rx::depay::Codec;
use cvmmap_testers::rtp_rx::sei;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let codec = if flags & 1 == 1 {
        Codec::H265
    } else {
        Codec::H264
    };
    let capture = input.u64() as i64;
    let capture_ns = (flags & 2 == 2).then_some(capture);
    let mut nals = Vec::new();
    let mut bodies = 0u64;
    while let Some(nal) = input.record() {
        let rbsp = sei::unescape(nal);
        assert!(rbsp.len() <= nal.len());
        let (messages, _error) = sei::sei_messages(&rbsp);
        for m in &messages {
            let (r, p) = (rbsp.as_ptr_range(), m.payload.as_ptr_range());
            assert!(r.start <= p.start && p.end <= r.end);
        }
        match sei::scan_nal(codec, nal) {
            Some(scan) => {
                assert!(sei::is_body_sei_nal(codec, nal));
                bodies += scan.bodies.len() as u64 + scan.truncated_bodies;
                if scan.truncated_bodies > 0 {
                    assert!(scan.error.is_some());
                }
            }
            None => assert!(!sei::is_body_sei_nal(codec, nal)),
        }
        nals.push(nal.to_vec());
    }
    let mut stats = BodySeiStats::default();
    stats.observe(codec, &nals, capture_ns);
    assert_eq!(stats.messages, bodies);
    assert!(stats.invalid <= stats.messages);
    assert_eq!(
        stats.ts_matched
            + stats.ts_late
            + stats.ts_mismatched
            + stats.ts_unchecked
            + stats.invalid,
        stats.messages
    );
    let _ = (stats.violated(), stats.failure(Some(1)));
});
