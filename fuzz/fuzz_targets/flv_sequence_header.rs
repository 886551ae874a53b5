//! SPS parsing and decoder configuration records for RTMP, on parameter
//! sets from the encoder or straight from a v2.1 producer (passthrough):
//! `flv::avc::parse_sps` / `decoder_configuration_record` /
//! `sequence_header`, `flv::hevc_record::parse_sps` /
//! `decoder_configuration_record`, `flv::enhanced::sequence_start`,
//! `flv::domestic::sequence_header`; cross-checked with the RTMP stub's
//! parsers (`rtmp_stub::flv::parse_video`, `parse_avc_config`,
//! `parse_hevc_config`).
//!
//! Input: `u8` flags (bit 0: H.265; bit 1: parameter sets as records
//! VPS/SPS/PPS instead of an Annex-B access unit), then the data.
//!
//! Invariants: no panics on any SPS; every record we build is accepted by
//! the stub with the same profile and level; the tag bodies carry it
//! unchanged with the right codec signalling.
#![no_main]

use cvmmap_fuzz::Input;
use cvmmap_streamer::codec::{h264, h265};
use cvmmap_streamer::flv::{avc, domestic, enhanced, hevc_record};
use cvmmap_testers::rtmp_stub::flv::{self as stub, Kind, Signalling};
use libfuzzer_sys::fuzz_target;

fn sequence_header_of(body: &[u8]) -> (Signalling, Vec<u8>) {
    let tag = stub::parse_video(body).expect("stub parses our tag");
    let Kind::SequenceHeader(record) = tag.kind else {
        panic!("not a sequence header: {:?}", tag.kind);
    };
    (tag.signalling, record.to_vec())
}

fn avc(sps: &[u8], pps: &[u8]) {
    let Ok(record) = avc::decoder_configuration_record(sps, pps) else {
        return;
    };
    let info = avc::parse_sps(sps).expect("record built, so the SPS parses");
    let summary = stub::parse_avc_config(&record).expect("stub accepts our AVC record");
    assert_eq!(
        (summary.profile, summary.level),
        (info.profile_idc, info.level_idc)
    );
    assert_eq!((summary.sps, summary.pps, summary.length_size), (1, 1, 4));
    let body = avc::sequence_header(sps, pps).expect("same inputs");
    assert_eq!(
        sequence_header_of(&body),
        (Signalling::Legacy(stub::CODEC_AVC), record)
    );
}

fn hevc(vps: &[u8], sps: &[u8], pps: &[u8]) {
    let Ok(record) = hevc_record::decoder_configuration_record(vps, sps, pps) else {
        return;
    };
    let info = hevc_record::parse_sps(sps).expect("record built, so the SPS parses");
    let summary = stub::parse_hevc_config(&record).expect("stub accepts our HEVC record");
    assert_eq!(
        (summary.profile, summary.level),
        (info.general_profile_idc, info.general_level_idc)
    );
    assert_eq!(
        (summary.vps, summary.sps, summary.pps, summary.length_size),
        (1, 1, 1, 4)
    );
    let body = enhanced::sequence_start(vps, sps, pps).expect("same inputs");
    assert_eq!(
        sequence_header_of(&body),
        (Signalling::Ex(*b"hvc1"), record.clone())
    );
    let body = domestic::sequence_header(vps, sps, pps).expect("same inputs");
    assert_eq!(
        sequence_header_of(&body),
        (Signalling::Legacy(stub::CODEC_HEVC_DOMESTIC), record)
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let is_hevc = flags & 1 == 1;
    if flags & 2 == 2 {
        let vps = input.record().unwrap_or_default();
        let sps = input.record().unwrap_or_default();
        let pps = input.record().unwrap_or_default();
        if let Ok(info) = avc::parse_sps(sps) {
            assert!(info.chroma_format_idc <= 3);
        }
        if let Ok(info) = hevc_record::parse_sps(sps) {
            assert!(info.max_sub_layers_minus1 <= 6 && info.chroma_format_idc <= 3);
        }
        avc(sps, pps);
        hevc(vps, sps, pps);
        return;
    }
    let au = input.rest();
    // The whole input as one SPS, too.
    let _ = avc::parse_sps(au);
    let _ = hevc_record::parse_sps(au);
    if is_hevc {
        let ps = h265::find_parameter_sets(au);
        if let (Some(vps), Some(sps), Some(pps)) = (ps.vps, ps.sps, ps.pps) {
            hevc(vps, sps, pps);
        }
    } else {
        let ps = h264::find_parameter_sets(au);
        if let (Some(sps), Some(pps)) = (ps.sps, ps.pps) {
            avc(sps, pps);
        }
    }
});
