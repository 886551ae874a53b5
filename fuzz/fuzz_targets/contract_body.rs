//! Body-tracking v1 message (contract section 4), parsed by both sides:
//! the streamer's `contract::body::BodyHeader::parse` (NATS body messages)
//! and the RTP receiver's `rtp_rx::body::parse` (the same bytes out of SEI).
//!
//! Input: one byte choosing the expected label case, then the message.
//!
//! Invariants: both parsers accept exactly the same messages with the same
//! fields; with an expected label, the streamer accepts iff it matches.
#![no_main]

use cvmmap_streamer::contract::body::BodyHeader;
use cvmmap_testers::rtp_rx::body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let ours = BodyHeader::parse(msg, None);
    let theirs = body::parse(msg);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.frame_count, b.frame_count);
            assert_eq!(a.timestamp_ns, b.timestamp_ns);
            assert_eq!(a.sdk_timestamp_ns, b.sdk_timestamp_ns);
            assert_eq!(a.body_count, b.body_count);
            assert_eq!(a.label, String::from_utf8_lossy(&b.label));
            assert_eq!(msg.len(), 64 + usize::from(a.body_count) * 3248);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("streamer {ours:?} vs receiver {theirs:?}"),
    }
    if let Ok(h) = &ours {
        let expected = match mode % 3 {
            0 => h.label.clone(),
            1 => format!("{}x", h.label),
            _ => String::new(),
        };
        let with_label = BodyHeader::parse(msg, Some(&expected));
        assert_eq!(with_label.is_ok(), expected == h.label, "{with_label:?}");
    }
});
