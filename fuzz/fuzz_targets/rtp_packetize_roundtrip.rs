//! RTP packetization round trip: arbitrary access units (encoder output or
//! v2.1 passthrough) through the streamer's `rtp::RtpPacketizer` with
//! `H264Payloader` / `H265Payloader` (single NAL unit packets, FU-A / FU,
//! STAP-A / AP), then the RTP receiver's `rtp_rx::header::parse` and
//! depacketizer (`rtp_rx::depay::Assembler`).
//!
//! Input: `u8` flags (bit 0: H.265, bit 1: aggregation), `u16` MTU choice,
//! `u8` payload type (96..=127), `u16` first sequence number, `u32` SSRC, `u32` RTP
//! timestamp, then the access unit.
//!
//! Invariants: every packet fits the MTU, has a valid header with the
//! configured fields, consecutive sequence numbers and the marker on the
//! last packet only; when every NAL unit is one the RTP payload formats can
//! carry, the receiver rebuilds exactly the access unit's NAL units (minus
//! delimiters) as one complete access unit, twice in a row.
#![no_main]

use std::convert::Infallible;
use std::time::SystemTime;

use cvmmap_fuzz::Input;
use cvmmap_streamer::codec::{h264, h265, nal_units};
use cvmmap_streamer::rtp::{
    H264Payloader, H265Payloader, MAX_MTU, MIN_MTU, PacketizerConfig, Payloader, RtpPacketizer,
};
use cvmmap_testers::rtp_rx::depay::{Assembler, Codec, Packet};
use cvmmap_testers::rtp_rx::header;
use libfuzzer_sys::fuzz_target;

/// Whether the receiver accepts `nal` in any RTP payload (RFC 6184: F = 0,
/// type 1..=23; RFC 7798: 2-byte header, F = 0, TID != 0, type 0..=47).
fn carriable(hevc: bool, nal: &[u8]) -> bool {
    if hevc {
        nal.len() >= 2 && nal[0] & 0x80 == 0 && nal[1] & 0x07 != 0 && (nal[0] >> 1) & 0x3F <= 47
    } else {
        nal[0] & 0x80 == 0 && (1..=23).contains(&(nal[0] & 0x1F))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let (hevc, aggregate) = (flags & 1 == 1, flags & 2 == 2);
    let m = usize::from(input.u16());
    let mtu = if m & 0x8000 != 0 {
        MIN_MTU + (m & 0x7FFF) % (MAX_MTU - MIN_MTU + 1)
    } else {
        MIN_MTU + m % 1500
    };
    // --rtp-payload-type takes 96..=127: 72..=79 with the marker set would
    // read as RTCP to a receiver that demultiplexes (RFC 5761 §4).
    let payload_type = 96 + input.u8() % 32;
    let initial_seq = input.u16();
    let ssrc = input.u32();
    let timestamp = input.u32();
    let au = input.rest();

    let mut packetizer = RtpPacketizer::new(PacketizerConfig {
        payload_type,
        ssrc,
        initial_seq,
        mtu,
    })
    .expect("valid configuration");
    let mut payloader: Box<dyn Payloader> = if hevc {
        Box::new(H265Payloader::new(aggregate))
    } else {
        Box::new(H264Payloader::new(aggregate))
    };
    let codec = if hevc { Codec::H265 } else { Codec::H264 };

    let expected: Vec<&[u8]> = nal_units(au)
        .filter(|n| {
            if hevc {
                n.len() >= 2 && h265::nal_type(n[0]) != h265::NalType::AUD
            } else {
                h264::nal_type(n[0]) != h264::NalType::AUD
            }
        })
        .collect();
    let carriable = expected.iter().all(|n| carriable(hevc, n));

    let mut assembler = Assembler::new(codec);
    let mut seq = initial_seq;
    for round in 0..2u32 {
        let ts = timestamp.wrapping_add(round * 3000);
        let mut packets = Vec::new();
        let n = packetizer
            .packetize(payloader.as_mut(), au, ts, |p| {
                packets.push(p.to_vec());
                Ok::<_, Infallible>(())
            })
            .expect("infallible");
        assert_eq!(n, packets.len());
        assert_eq!(
            n == 0,
            expected.is_empty(),
            "{n} packets for {} NAL units",
            expected.len()
        );
        let mut units = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            assert!(p.len() <= mtu);
            let h = header::parse(p).expect("receiver parses our RTP header");
            assert_eq!(
                (h.payload_type, h.ssrc, h.timestamp),
                (payload_type, ssrc, ts)
            );
            assert_eq!(h.sequence, seq);
            assert_eq!(h.marker, i + 1 == packets.len());
            assert!(h.csrcs.is_empty() && !h.padding && !h.extension);
            seq = seq.wrapping_add(1);
            let payload = &p[h.payload_offset..h.payload_offset + h.payload_len];
            if carriable {
                codec
                    .parse_payload(payload)
                    .unwrap_or_else(|e| panic!("packet {i}: {e}"));
            }
            assembler.push(
                &Packet {
                    ssrc: h.ssrc,
                    sequence: h.sequence,
                    timestamp: h.timestamp,
                    marker: h.marker,
                    payload,
                    arrival: SystemTime::UNIX_EPOCH,
                },
                &mut units,
            );
        }
        assert_eq!(packetizer.next_sequence(), seq);
        if carriable && !expected.is_empty() {
            assert_eq!(units.len(), 1, "one access unit");
            let unit = &units[0];
            assert!(unit.is_complete(), "{unit:?}");
            let got: Vec<&[u8]> = unit.nals.iter().map(Vec::as_slice).collect();
            assert_eq!(got, expected);
        }
    }
});
