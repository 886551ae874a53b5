//! SDP round trip: the streamer's session description (`rtp::SdpParams`,
//! `SdpCodec::h264_from_access_unit` / `h265_from_access_unit`, parameter
//! sets taken from an arbitrary keyframe access unit) read by the RTP
//! receiver's own SDP parser (`rtp_rx::sdp::parse`).
//!
//! Input: `u8` flags (bit 0: H.265, bit 1: IPv6, bit 2: multicast
//! destination), `u16` port, `u8` payload type, `u64` session id, then the
//! access unit.
//!
//! Invariants: the receiver accepts the text and finds the port, payload
//! type, codec and the parameter sets we announced, in order.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cvmmap_fuzz::Input;
use cvmmap_streamer::rtp::{SdpCodec, SdpParams};
use cvmmap_testers::rtp_rx::depay::Codec;
use cvmmap_testers::rtp_rx::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let port = input.u16().max(1);
    let payload_type = 96 + input.u8() % 32;
    let session_id = input.u64();
    let au = input.rest();
    let hevc = flags & 1 == 1;
    let (origin, dest) = match (flags & 2 == 2, flags & 4 == 4) {
        (false, false) => (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        ),
        (false, true) => (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)),
        ),
        (true, false) => (
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ),
        (true, true) => (
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0, 0x101)),
        ),
    };
    let codec = if hevc {
        SdpCodec::h265_from_access_unit(au)
    } else {
        SdpCodec::h264_from_access_unit(au)
    };
    let announced: Vec<&[u8]> = match codec {
        SdpCodec::H264 { sps, pps, .. } => [sps, pps].into_iter().flatten().collect(),
        SdpCodec::H265 { vps, sps, pps } => [vps, sps, pps].into_iter().flatten().collect(),
    };
    let text = SdpParams {
        session_id,
        session_version: 1,
        origin_addr: origin,
        dest_addr: dest,
        port,
        payload_type,
        codec,
    }
    .to_string();
    let info =
        sdp::parse(&text).unwrap_or_else(|e| panic!("receiver rejects our SDP: {e}\n{text}"));
    assert_eq!(info.port, port);
    assert_eq!(info.payload_type, payload_type);
    assert_eq!(info.codec, if hevc { Codec::H265 } else { Codec::H264 });
    assert_eq!(info.rtcp_port, None);
    let got: Vec<&[u8]> = info.parameter_sets.iter().map(Vec::as_slice).collect();
    assert_eq!(got, announced);
});
