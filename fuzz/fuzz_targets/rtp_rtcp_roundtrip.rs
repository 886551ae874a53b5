//! RTCP round trip: the streamer's sender report + SDES CNAME and BYE
//! (`rtp::rtcp::write_sender_report`, `write_bye`, `ntp_from_unix_ns`) read by
//! the RTP receiver's RTCP parser (`rtp_rx::rtcp::parse_compound`) and its
//! latency arithmetic (`rtp_rx::latency`).
//!
//! Input: `u32` SSRC, `u64` Unix ns, `u32` RTP timestamp, `u32` packet
//! count, `u32` octet count, then the CNAME (lossy UTF-8).
//!
//! Invariants: the receiver accepts both compounds and reads back every
//! field; the NTP time it converts back is the Unix time to within 1 ns.
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_streamer::rtp::rtcp::{SenderReport, ntp_from_unix_ns, write_bye, write_sender_report};
use cvmmap_testers::rtp_rx::latency::ntp_to_unix_ns;
use cvmmap_testers::rtp_rx::rtcp::{RtcpPacket, parse_compound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let sr = SenderReport {
        ssrc: input.u32(),
        unix_ns: input.u64(),
        rtp_timestamp: input.u32(),
        packet_count: input.u32(),
        octet_count: input.u32(),
    };
    let cname = String::from_utf8_lossy(input.rest()).into_owned();
    let mut out = Vec::new();
    write_sender_report(&mut out, &sr, &cname);
    let packets = parse_compound(&out)
        .unwrap_or_else(|e| panic!("receiver rejects our SR: {e} ({} bytes)", out.len()));
    assert_eq!(packets.len(), 2, "{packets:?}");
    let RtcpPacket::SenderReport(got) = &packets[0] else {
        panic!("first packet {:?}", packets[0]);
    };
    let ntp = ntp_from_unix_ns(sr.unix_ns);
    assert_eq!((got.ssrc, got.rtp_timestamp), (sr.ssrc, sr.rtp_timestamp));
    assert_eq!(
        (got.packet_count, got.octet_count),
        (sr.packet_count, sr.octet_count)
    );
    assert_eq!((got.ntp_msw, got.ntp_lsw), ((ntp >> 32) as u32, ntp as u32));
    assert_eq!(got.report_blocks, 0);
    assert!(
        matches!(packets[1], RtcpPacket::Sdes { chunks: 1 }),
        "{:?}",
        packets[1]
    );
    // NTP seconds wrap in 2036; compare below that.
    if sr.unix_ns < 2_000_000_000 * 1_000_000_000 {
        let back = ntp_to_unix_ns(got.ntp_msw, got.ntp_lsw);
        assert!(
            (back - sr.unix_ns as i64).abs() <= 1,
            "{back} vs {}",
            sr.unix_ns
        );
    }

    // SR then BYE in one compound (the last report of a stream).
    write_bye(&mut out, sr.ssrc);
    let packets = parse_compound(&out).expect("SR + SDES + BYE");
    assert_eq!(
        packets.last(),
        Some(&RtcpPacket::Bye {
            ssrcs: vec![sr.ssrc]
        })
    );
});
