//! Annex-B splitting and parameter-set lookup on encoded access units (from
//! the encoder, or straight from a v2.1 producer in passthrough mode):
//! `codec::nal_units` / `NalUnits` (`next_range`, `position`, `resume`),
//! `codec::parameter_sets_annexb`, `codec::h264` and `codec::h265`.
//!
//! Invariants: the splitter agrees with an independent reference splitter;
//! ranges are in order, inside the input, never empty, never end in a zero
//! byte; resuming at any position continues identically; the parameter-set
//! helpers only return NAL units that the splitter found.
#![no_main]

use cvmmap_fuzz::annexb_nals;
use cvmmap_streamer::codec::{NalUnits, h264, h265, nal_units, parameter_sets_annexb};
use libfuzzer_sys::fuzz_target;

fn contains_nal(nals: &[&[u8]], nal: &[u8]) -> bool {
    nals.iter().any(|n| std::ptr::eq(*n, nal))
}

fuzz_target!(|data: &[u8]| {
    let nals: Vec<&[u8]> = nal_units(data).collect();
    assert_eq!(nals, annexb_nals(data));

    // Ranges: ordered, inside the input, trimmed.
    let mut it = NalUnits::new(data);
    let mut positions = vec![it.position()];
    let mut last_end = 0;
    let mut ranges = Vec::new();
    while let Some(r) = it.next_range() {
        assert!(
            r.start >= last_end + 3 && r.start < r.end && r.end <= data.len(),
            "{r:?}"
        );
        assert_ne!(data[r.end - 1], 0);
        last_end = r.end;
        ranges.push(r);
        positions.push(it.position());
    }
    assert_eq!(ranges.len(), nals.len());
    assert!(it.next_range().is_none(), "fused");
    // Resuming at a position reached by iteration gives the rest (a few
    // positions: checking all is quadratic in the NAL unit count).
    let every = positions.len().div_ceil(8).max(1);
    for (k, &pos) in positions.iter().enumerate().step_by(every) {
        let rest: Vec<_> = std::iter::from_fn({
            let mut r = NalUnits::resume(data, pos);
            move || r.next_range()
        })
        .collect();
        assert_eq!(rest, ranges[k..]);
    }
    // Any offset is accepted.
    let _ = NalUnits::resume(data, data.len() + 7).count();

    for hevc in [false, true] {
        let sets = parameter_sets_annexb(data, hevc);
        for nal in nal_units(&sets) {
            assert!(nals.contains(&nal));
            if hevc {
                let t = h265::nal_type(nal[0]);
                assert!(matches!(
                    t,
                    h265::NalType::VPS | h265::NalType::SPS | h265::NalType::PPS
                ));
            } else {
                assert!(h264::nal_type(nal[0]).is_parameter_set());
            }
        }
    }

    let ps = h264::find_parameter_sets(data);
    for nal in [ps.sps, ps.pps].into_iter().flatten() {
        assert!(contains_nal(&nals, nal));
    }
    if let Some(sps) = ps.sps {
        assert_eq!(h264::nal_type_of(sps), Some(h264::NalType::SPS));
        if let Some(pli) = h264::profile_level_id(sps) {
            assert_eq!(pli, [sps[1], sps[2], sps[3]]);
        }
    }
    assert_eq!(
        h264::contains_idr(data),
        nals.iter()
            .any(|n| h264::nal_type(n[0]) == h264::NalType::IDR)
    );
    let ps = h265::find_parameter_sets(data);
    for nal in [ps.vps, ps.sps, ps.pps].into_iter().flatten() {
        assert!(contains_nal(&nals, nal) && nal.len() >= 2);
    }
});
