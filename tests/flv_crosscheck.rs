//! FLV tags built by our muxer parse back in `rtmp_stub_tester`'s own parser
//! (code the publisher does not share), for all three forms; and random
//! bytes from a "server" never panic the RTMP client core.

use cvmmap_streamer::flv::{self, VideoTagForm};
use cvmmap_streamer::rtmp::{ChunkReader, ClientHandshake, IncomingCommand};
use cvmmap_testers::rtmp_stub::flv::{
    Kind, Signalling, nal_types, parse_avc_config, parse_hevc_config, parse_video,
};
use proptest::prelude::*;

const H264_SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
];
const H264_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
// x265 (GStreamer 1.22) parameter sets, as in src/flv's fixtures.
const HEVC_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x3f, 0x95, 0x98, 0x09,
];
const HEVC_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x3f, 0xa0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x9a, 0x49, 0x32, 0xbf, 0xfc, 0x00, 0x04,
    0x00, 0x05, 0xa8, 0x30, 0x30, 0x30, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03,
    0xc1,
];
const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];

#[test]
fn sequence_headers_parse_in_the_stub() {
    let avc = flv::avc::sequence_header(H264_SPS, H264_PPS).unwrap();
    let tag = parse_video(&avc).unwrap();
    assert_eq!(tag.signalling, Signalling::Legacy(7));
    let Kind::SequenceHeader(rec) = tag.kind else {
        panic!("{tag:?}")
    };
    let s = parse_avc_config(rec).unwrap();
    assert_eq!(
        (s.profile, s.level, s.length_size, s.sps, s.pps),
        (100, 30, 4, 1, 1)
    );

    for (form, body) in [
        (
            VideoTagForm::EnhancedHvc1,
            flv::enhanced::sequence_start(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap(),
        ),
        (
            VideoTagForm::DomesticHevc12,
            flv::domestic::sequence_header(HEVC_VPS, HEVC_SPS, HEVC_PPS).unwrap(),
        ),
    ] {
        let tag = parse_video(&body).unwrap();
        let expected = match form {
            VideoTagForm::EnhancedHvc1 => Signalling::Ex(*b"hvc1"),
            _ => Signalling::Legacy(12),
        };
        assert_eq!(tag.signalling, expected, "{form:?}");
        let Kind::SequenceHeader(rec) = tag.kind else {
            panic!("{form:?}: {tag:?}")
        };
        let s = parse_hevc_config(rec).unwrap();
        assert_eq!(
            (s.profile, s.level, s.vps, s.sps, s.pps),
            (1, 63, 1, 1, 1),
            "{form:?}"
        );
    }
}

/// Random NAL units (valid headers, AUD excluded) as an Annex-B access unit.
fn access_unit(hevc: bool) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    // H.264 type 9 (AUD) is dropped by the muxer on purpose.
    let nal = (
        (1u8..=21).prop_filter("not an AUD", move |&t| hevc || t != 9),
        proptest::collection::vec(1u8..=255, 1..3000),
    );
    proptest::collection::vec(nal, 1..6).prop_map(move |nals| {
        let (mut au, mut types) = (Vec::new(), Vec::new());
        for (t, body) in nals {
            au.extend_from_slice(&[0, 0, 0, 1]);
            if hevc {
                au.extend_from_slice(&[t << 1, 1]);
            } else {
                au.push(0x60 | t);
            }
            au.extend_from_slice(&body);
            types.push(t);
        }
        (au, types)
    })
}

proptest! {
    #[test]
    fn coded_frames_parse_back_in_the_stub(
        (au, types) in access_unit(false),
        keyframe in any::<bool>(),
        cts in -100_000i32..100_000,
    ) {
        let mut body = Vec::new();
        flv::avc::coded_frame(&au, keyframe, cts, &mut body);
        let tag = parse_video(&body).unwrap();
        prop_assert_eq!(&tag.signalling, &Signalling::Legacy(7));
        let Kind::Coded { keyframe: k, cts: c, data } = tag.kind else { panic!("{tag:?}") };
        prop_assert_eq!((k, c), (keyframe, cts));
        prop_assert_eq!(nal_types(data, false).unwrap(), types);
    }

    #[test]
    fn hevc_coded_frames_parse_back_in_the_stub(
        (au, types) in access_unit(true),
        keyframe in any::<bool>(),
        cts in -100_000i32..100_000,
        enhanced in any::<bool>(),
    ) {
        let mut body = Vec::new();
        if enhanced {
            flv::enhanced::coded_frame_auto(&au, keyframe, cts, &mut body);
        } else {
            flv::domestic::coded_frame(&au, keyframe, cts, &mut body);
        }
        let tag = parse_video(&body).unwrap();
        let Kind::Coded { keyframe: k, cts: c, data } = tag.kind else { panic!("{tag:?}") };
        prop_assert_eq!((k, c), (keyframe, cts));
        prop_assert_eq!(nal_types(data, true).unwrap(), types);
    }

    /// Whatever a server sends after the handshake, the client core returns
    /// messages or errors, never panics.
    #[test]
    fn random_server_bytes_never_panic_the_client(
        hello in proptest::collection::vec(any::<u8>(), 0..4000),
        stream in proptest::collection::vec(any::<u8>(), 0..4000),
    ) {
        let mut hs = ClientHandshake::new(0, &[7; 1528]);
        let _ = hs.push(&hello);
        let mut reader = ChunkReader::new();
        reader.push(&stream);
        for _ in 0..64 {
            match reader.next_message() {
                Ok(Some(msg)) => {
                    let _ = IncomingCommand::from_message(&msg);
                    let _ = cvmmap_streamer::rtmp::ControlMessage::parse(&msg);
                }
                _ => break,
            }
        }
    }
}
