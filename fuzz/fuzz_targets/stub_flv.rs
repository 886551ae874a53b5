//! The RTMP stub's FLV video tag checks (FLV 10.1 §E.4.3.1 legacy header,
//! codec ids 7 and 12; Enhanced RTMP ExVideoTagHeader; ISO/IEC 14496-15
//! decoder configuration records; 4-byte length-prefixed NAL units):
//! `rtmp_stub::flv::parse_video`, `parse_avc_config`, `parse_hevc_config`,
//! `nal_types`.
//!
//! Invariants: the parts returned lie inside the tag; accepted records and
//! NAL unit lists are consistent with their bytes.
#![no_main]

use cvmmap_testers::rtmp_stub::flv::{self, Kind};
use libfuzzer_sys::fuzz_target;

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    o.start <= i.start && i.end <= o.end
}

fuzz_target!(|data: &[u8]| {
    if let Ok(tag) = flv::parse_video(data) {
        let _ = tag.signalling.describe();
        match tag.kind {
            Kind::SequenceHeader(rec) => {
                assert!(inside(data, rec));
                for summary in [flv::parse_avc_config(rec), flv::parse_hevc_config(rec)]
                    .into_iter()
                    .flatten()
                {
                    assert_eq!(summary.length_size, 4);
                    assert!(summary.sps > 0 && summary.pps > 0);
                }
            }
            Kind::Coded { cts, data: d, .. } => {
                assert!(inside(data, d));
                assert!((-(1 << 23)..(1 << 23)).contains(&cts));
            }
            Kind::Other => {}
        }
    }
    // The whole input as a record and as a NAL unit list too.
    let _ = flv::parse_avc_config(data);
    let _ = flv::parse_hevc_config(data);
    for hevc in [false, true] {
        if let Ok(types) = flv::nal_types(data, hevc) {
            assert!(!types.is_empty());
            // Each NAL unit takes at least 5 bytes (length + header).
            assert!(types.len() * 5 <= data.len());
            assert!(types.iter().all(|&t| t < if hevc { 64 } else { 32 }));
        }
    }
});
