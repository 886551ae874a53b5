//! The RTP receiver's H265 depacketizer (RFC 7798: single NAL unit packets, AP, FU; no DONL):
//! `rtp_rx::depay::h265::parse_payload`, then a packet sequence through
//! `rtp_rx::depay::Assembler` (fragment reassembly, access units by
//! timestamp and marker, loss and duplicate handling).
//!
//! Input: records, one per packet: `u8` flags (bit 0: marker, bit 1: next
//! timestamp), `u8` sequence step, then the RTP payload.
//!
//! Invariants: every piece lies inside its payload; the assembler's
//! counters add up; complete access units only hold NAL units the payloads
//! carried (whole, or rebuilt from fragments with a valid header).
#![no_main]

use std::time::SystemTime;

use cvmmap_fuzz::Input;
use cvmmap_testers::rtp_rx::depay::{Assembler, Codec, Packet, Piece, h265};
use libfuzzer_sys::fuzz_target;

const CODEC: Codec = Codec::H265;

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    o.start <= i.start && i.end <= o.end
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut assembler = Assembler::new(CODEC);
    let mut units = Vec::new();
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut packets = 0u64;
    while let Some(rec) = input.record() {
        let mut r = Input::new(rec);
        let flags = r.u8();
        let step = r.u8();
        let payload = r.rest();
        if let Ok(pieces) = h265::parse_payload(payload) {
            assert!(!pieces.is_empty());
            for piece in pieces {
                match piece {
                    Piece::Nal(nal) => {
                        assert!(inside(payload, nal) && nal.len() >= CODEC.nal_header_len());
                        assert!(CODEC.nal_type(nal).is_some());
                    }
                    Piece::Fragment(f) => {
                        assert!(inside(payload, f.data));
                        assert_eq!(f.nal_header().len(), CODEC.nal_header_len());
                    }
                }
            }
        }
        seq = seq.wrapping_add(u16::from(step));
        if flags & 2 == 2 {
            ts = ts.wrapping_add(3000);
        }
        assembler.push(
            &Packet {
                ssrc: 1,
                sequence: seq,
                timestamp: ts,
                marker: flags & 1 == 1,
                payload,
                arrival: SystemTime::UNIX_EPOCH,
            },
            &mut units,
        );
        packets += 1;
    }
    let c = &assembler.counters;
    let finished = units.len() as u64;
    assert_eq!(
        c.access_units_complete + c.access_units_incomplete,
        finished
    );
    assert!(c.malformed_packets + c.late_or_duplicate <= packets);
    for unit in &units {
        if unit.is_complete() {
            assert!(!unit.nals.is_empty());
            for nal in &unit.nals {
                assert!(CODEC.nal_type(nal).is_some(), "{nal:?}");
            }
            let _ = unit.has_keyframe(CODEC);
            let annex_b = unit.annex_b();
            assert!(annex_b.len() >= 4 * unit.nals.len());
        }
    }
});
