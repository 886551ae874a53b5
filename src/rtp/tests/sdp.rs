use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::rtp::{SdpCodec, SdpParams};

/// SPS and PPS emitted by x264 (High profile, level 3.0).
const SPS: [u8; 26] = [
    0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn params(codec: SdpCodec<'_>) -> SdpParams<'_> {
    SdpParams {
        session_version: crate::rtp::sdp::SESSION_VERSION,
        session_id: 4_242_424_242,
        origin_addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
        dest_addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)),
        port: 5004,
        payload_type: 96,
        codec,
    }
}

#[test]
fn h264_with_parameter_sets() {
    let sdp = params(SdpCodec::H264 {
        profile_level_id: Some([0x64, 0x00, 0x1e]),
        sps: Some(&SPS),
        pps: Some(&PPS),
    })
    .to_string();
    assert!(sdp.ends_with("\r\n") && !sdp.replace("\r\n", "").contains('\n'));
    insta::assert_snapshot!(sdp.replace("\r\n", "\n"));
}

#[test]
fn h264_profile_level_id_comes_from_the_sps() {
    let mut au = vec![0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1];
    au.extend_from_slice(&SPS);
    au.extend_from_slice(&[0, 0, 1]);
    au.extend_from_slice(&PPS);
    let from_au = params(SdpCodec::h264_from_access_unit(&au)).to_string();
    let implicit = params(SdpCodec::H264 {
        profile_level_id: None,
        sps: Some(&SPS),
        pps: Some(&PPS),
    })
    .to_string();
    let explicit = params(SdpCodec::H264 {
        profile_level_id: Some([0x64, 0x00, 0x1e]),
        sps: Some(&SPS),
        pps: Some(&PPS),
    })
    .to_string();
    assert_eq!(from_au, explicit);
    assert_eq!(implicit, explicit);
}

#[test]
fn h264_before_the_first_keyframe() {
    let sdp = params(SdpCodec::H264 {
        profile_level_id: None,
        sps: None,
        pps: None,
    })
    .to_string();
    assert_eq!(
        sdp,
        "v=0\r\n\
         o=- 4242424242 1 IN IP4 192.168.1.10\r\n\
         s=cvmmap-streamer\r\n\
         c=IN IP4 192.168.1.20\r\n\
         t=0 0\r\n\
         m=video 5004 RTP/AVP 96\r\n\
         a=rtpmap:96 H264/90000\r\n\
         a=fmtp:96 packetization-mode=1\r\n\
         a=sendonly\r\n"
    );
}

#[test]
fn ipv6_and_multicast_addresses() {
    let mut p = params(SdpCodec::H264 {
        profile_level_id: None,
        sps: None,
        pps: None,
    });
    p.origin_addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
    p.dest_addr = IpAddr::V6("ff02::1".parse().unwrap());
    let sdp = p.to_string();
    assert!(sdp.contains("o=- 4242424242 1 IN IP6 ::1\r\n"), "{sdp}");
    assert!(sdp.contains("c=IN IP6 ff02::1\r\n"), "{sdp}");
    p.dest_addr = IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3));
    assert!(p.to_string().contains("c=IN IP4 239.1.2.3/16\r\n"));
}

#[test]
fn h265_parameter_sets() {
    let au = [
        0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, //
        0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60, //
        0, 0, 0, 1, 0x44, 0x01, 0xc1, 0x72, //
        0, 0, 1, 0x26, 0x01, 0xaf,
    ];
    let sdp = params(SdpCodec::h265_from_access_unit(&au)).to_string();
    insta::assert_snapshot!(sdp.replace("\r\n", "\n"));
    let bare = params(SdpCodec::H265 {
        vps: None,
        sps: None,
        pps: None,
    })
    .to_string();
    assert!(
        bare.contains("a=rtpmap:96 H265/90000\r\na=sendonly\r\n"),
        "{bare}"
    );
    assert!(!bare.contains("fmtp"));
}
