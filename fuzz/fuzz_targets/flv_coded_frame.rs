//! FLV / RTMP video tag bodies of coded access units (arbitrary Annex-B,
//! as a v2.1 producer may hand over in passthrough), in the three forms:
//! `flv::avc::coded_frame`, `flv::domestic::coded_frame`,
//! `flv::enhanced::coded_frame` / `coded_frame_x` / `coded_frame_auto`, and
//! the end-of-sequence bodies; read back by the RTMP stub
//! (`rtmp_stub::flv::parse_video`, `nal_types`).
//!
//! Input: `u8` form, `u8` keyframe flag, `u32` composition time (as i32),
//! then the access unit.
//!
//! Invariants: the stub reads the signalling, keyframe flag and saturated
//! composition time back; the data is exactly the access unit's NAL units
//! minus delimiters, each behind a 4-byte length.
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_streamer::codec::{h264, h265, nal_units};
use cvmmap_streamer::flv::enhanced::PacketType;
use cvmmap_streamer::flv::{avc, domestic, enhanced};
use cvmmap_testers::rtmp_stub::flv::{self as stub, Kind, Signalling};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let form = input.u8() % 5;
    let keyframe = input.u8() & 1 == 1;
    let cts = input.u32() as i32;
    let au = input.rest();

    let hevc = form != 0;
    let mut body = Vec::new();
    let written_cts = match form {
        0 => {
            avc::coded_frame(au, keyframe, cts, &mut body);
            cts
        }
        1 => {
            domestic::coded_frame(au, keyframe, cts, &mut body);
            cts
        }
        2 => {
            enhanced::coded_frame(au, keyframe, cts, &mut body);
            cts
        }
        3 => {
            enhanced::coded_frame_x(au, keyframe, &mut body);
            0
        }
        _ => match enhanced::coded_frame_auto(au, keyframe, cts, &mut body) {
            PacketType::CodedFramesX => {
                assert_eq!(cts, 0);
                0
            }
            PacketType::CodedFrames => cts,
            t => panic!("coded_frame_auto chose {t:?}"),
        },
    };
    let signalling = match form {
        0 => Signalling::Legacy(stub::CODEC_AVC),
        1 => Signalling::Legacy(stub::CODEC_HEVC_DOMESTIC),
        _ => Signalling::Ex(*b"hvc1"),
    };

    let kept: Vec<&[u8]> = nal_units(au)
        .filter(|n| {
            if hevc {
                h265::nal_type(n[0]) != h265::NalType::AUD
            } else {
                h264::nal_type(n[0]) != h264::NalType::AUD
            }
        })
        .collect();
    let mut expected = Vec::new();
    for n in &kept {
        expected.extend_from_slice(&(n.len() as u32).to_be_bytes());
        expected.extend_from_slice(n);
    }

    let tag = stub::parse_video(&body).expect("stub parses our coded frame");
    assert_eq!(tag.signalling, signalling);
    let Kind::Coded {
        keyframe: k,
        cts: c,
        data: d,
    } = tag.kind
    else {
        panic!("not a coded frame: {:?}", tag.kind);
    };
    assert_eq!(k, keyframe);
    assert_eq!(c, written_cts.clamp(-(1 << 23), (1 << 23) - 1));
    assert_eq!(d, &expected[..]);
    let types = stub::nal_types(d, hevc);
    if !kept.is_empty() && kept.iter().all(|n| n[0] & 0x80 == 0) {
        let want: Vec<u8> = kept
            .iter()
            .map(|n| {
                if hevc {
                    (n[0] >> 1) & 0x3F
                } else {
                    n[0] & 0x1F
                }
            })
            .collect();
        assert_eq!(types, Ok(want));
    } else {
        assert!(types.is_err());
    }

    for end in [
        avc::end_of_sequence(),
        domestic::end_of_sequence(),
        enhanced::sequence_end(),
    ] {
        assert_eq!(stub::parse_video(&end).map(|t| t.kind), Ok(Kind::Other));
    }
});
