//! The RTP receiver's RTCP parser (RFC 3550 §6.4.1 SR, §6.4.2 RR, §6.5
//! SDES, §6.6 BYE, §6.7 APP; compound rules of §6.1):
//! `rtp_rx::rtcp::parse_compound`, and the latency arithmetic a sender
//! report feeds (`rtp_rx::latency`).
//!
//! Invariants: a valid compound starts with SR or RR; packet lengths tile
//! the datagram; the latency helpers never overflow for real arrival times.
#![no_main]

use cvmmap_testers::rtp_rx::latency::{capture_unix_ns, latency_ms, ntp_to_unix_ns};
use cvmmap_testers::rtp_rx::rtcp::{RtcpPacket, parse_compound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = parse_compound(data) else {
        return;
    };
    assert!(!packets.is_empty());
    assert!(matches!(
        packets[0],
        RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport { .. }
    ));
    assert_eq!(data.len() % 4, 0, "lengths are in 32-bit words");
    for p in &packets {
        match p {
            RtcpPacket::SenderReport(sr) => {
                let _ = ntp_to_unix_ns(sr.ntp_msw, sr.ntp_lsw);
                // Arrival "now" (2020..2040) and RTP timestamps around the SR.
                for ts in [
                    sr.rtp_timestamp,
                    sr.rtp_timestamp.wrapping_add(90_000),
                    0,
                    u32::MAX,
                ] {
                    let _ = capture_unix_ns(sr, ts);
                    let _ = latency_ms(sr, ts, 1_600_000_000_000_000_000);
                    let _ = latency_ms(sr, ts, 2_200_000_000_000_000_000);
                }
            }
            RtcpPacket::Bye { ssrcs } => assert!(ssrcs.len() <= 31),
            _ => {}
        }
    }
});
