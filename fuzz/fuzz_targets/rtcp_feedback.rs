//! RTCP from receivers (`rtp::rtcp_feedback::parse_feedback`: RFC 3550
//! RR/SR report blocks, RFC 4585 PLI, RFC 5104 FIR), two ways:
//! any bytes, and a compound the RTP receiver tester writes with its own
//! writers (`rtp_rx::feedback`, no code shared with the streamer) followed
//! by the input's bytes as a tail.
//!
//! Invariants: never a panic; a rejected datagram delivers nothing; the
//! tester's RR + PLI + FIR for our SSRC come back field for field.
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_streamer::rtp::rtcp_feedback::{Feedback, parse_feedback};
use cvmmap_testers::rtp_rx::feedback::{BlockFigures, append_fir, append_pli, write_rr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // 1. Any bytes: nothing delivered from a datagram that fails.
    let mut got = Vec::new();
    if parse_feedback(data, 0x1234_5678, |f| got.push(f)).is_err() {
        assert!(got.is_empty());
    }

    // 2. What a real receiver sends, about our SSRC.
    let mut input = Input::new(data);
    let ours = input.u32();
    let theirs = input.u32();
    let b = BlockFigures {
        ssrc: ours,
        fraction_lost: input.u8(),
        // 24-bit signed on the wire (RFC 3550 §6.4.1).
        cumulative_lost: ((input.u32() << 8) as i32) >> 8,
        extended_highest_seq: input.u32(),
        jitter: input.u32(),
    };
    let (lsr, dlsr, seq) = (input.u32(), input.u32(), input.u8());
    let mut out = Vec::new();
    write_rr(&mut out, theirs, Some((b, lsr, dlsr)));
    append_pli(&mut out, theirs, ours);
    append_fir(&mut out, theirs, ours, seq);
    let mut got = Vec::new();
    parse_feedback(&out, ours, |f| got.push(f)).expect("the tester's compound is valid");
    assert_eq!(got.len(), 3, "{got:?}");
    match got[0] {
        Feedback::Report(r) => {
            assert_eq!(r.reporter_ssrc, theirs);
            assert_eq!(r.fraction_lost, b.fraction_lost);
            assert_eq!(r.cumulative_lost, b.cumulative_lost);
            assert_eq!(r.highest_seq, b.extended_highest_seq);
            assert_eq!(r.jitter, b.jitter);
            assert_eq!((r.lsr, r.dlsr), (lsr, dlsr));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[1], Feedback::Pli { sender_ssrc: theirs });
    assert_eq!(got[2], Feedback::Fir { sender_ssrc: theirs, seq });
    // Any tail after a valid compound: whole datagram taken, or nothing.
    out.extend_from_slice(input.rest());
    let mut got = Vec::new();
    if parse_feedback(&out, ours, |f| got.push(f)).is_err() {
        assert!(got.is_empty());
    }
});
