use super::*;

const F: u64 = 40_000_000; // 25 fps
const BASE: u64 = 5_000_000_000; // the timeline's time of the first frame
const STREAM0: u64 = 90_000_000_000; // the producer's stream clock at start

/// Places units given as (stream frame index, keyframe) in decode order;
/// the timeline advances one frame per unit, as frames arrive.
fn run(clock: &mut StreamClock, units: &[(u64, bool)], depth: Option<u32>) -> Vec<Times> {
    units
        .iter()
        .enumerate()
        .map(|(i, &(pic, key))| {
            clock.place(STREAM0 + pic * F, BASE + i as u64 * F, key, depth, Some(F))
        })
        .collect()
}

fn check_rising_and_not_after_pts(times: &[Times]) {
    for w in times.windows(2) {
        assert!(w[1].dts_ns > w[0].dts_ns, "DTS must rise: {times:?}");
    }
    for t in times {
        assert!(t.dts_ns <= t.pts_ns as i64, "DTS after PTS: {t:?}");
    }
}

#[test]
fn without_b_frames_dts_is_pts_and_pts_follows_the_stream() {
    let mut clock = StreamClock::default();
    let units: Vec<_> = (0..6).map(|i| (i, i == 0)).collect();
    let times = run(&mut clock, &units, Some(0));
    for (i, t) in times.iter().enumerate() {
        assert_eq!(t.pts_ns, BASE + i as u64 * F);
        assert_eq!(t.dts_ns, t.pts_ns as i64);
    }
    assert!(times.iter().all(|t| !t.adjusted));
}

#[test]
fn b_frames_get_presentation_order_pts_and_earlier_dts() {
    // I0 P3 B1 B2 P6 B4 B5: reorder depth 1 (x264 bframes=2, no pyramid).
    let units = [
        (0, true),
        (3, false),
        (1, false),
        (2, false),
        (6, false),
        (4, false),
        (5, false),
    ];
    let mut clock = StreamClock::default();
    let times = run(&mut clock, &units, Some(1));
    let pts: Vec<u64> = times.iter().map(|t| (t.pts_ns - BASE) / F).collect();
    assert_eq!(pts, [0, 3, 1, 2, 6, 4, 5]);
    let dts: Vec<i64> = times
        .iter()
        .map(|t| (t.dts_ns - BASE as i64) / F as i64)
        .collect();
    assert_eq!(dts, [-1, 0, 1, 2, 3, 4, 5]);
    check_rising_and_not_after_pts(&times);
    assert!(times.iter().all(|t| !t.adjusted));
}

#[test]
fn b_pyramid_depth_two() {
    // I0 P4 B2 b1 b3 P8 B6 b5 b7 (x264 bframes=3 b-pyramid).
    let units = [
        (0, true),
        (4, false),
        (2, false),
        (1, false),
        (3, false),
        (8, false),
        (6, false),
        (5, false),
        (7, false),
    ];
    let mut clock = StreamClock::default();
    let times = run(&mut clock, &units, Some(2));
    let dts: Vec<i64> = times
        .iter()
        .map(|t| (t.dts_ns - BASE as i64) / F as i64)
        .collect();
    assert_eq!(dts, [-2, -1, 0, 1, 2, 3, 4, 5, 6]);
    check_rising_and_not_after_pts(&times);
    assert!(times.iter().all(|t| !t.adjusted));
}

#[test]
fn a_stream_reordering_deeper_than_its_sps_keeps_dts_rising_and_counts() {
    let units = [(0, true), (3, false), (1, false), (2, false)];
    let mut clock = StreamClock::default();
    let times = run(&mut clock, &units, Some(0));
    for w in times.windows(2) {
        assert!(w[1].dts_ns > w[0].dts_ns);
    }
    assert!(times.iter().any(|t| t.adjusted));
}

#[test]
fn no_stream_times_fall_back_to_the_timeline() {
    let mut clock = StreamClock::default();
    let times: Vec<Times> = (0..4)
        .map(|i| clock.place(0, BASE + i * F, i == 0, Some(2), Some(F)))
        .collect();
    for (i, t) in times.iter().enumerate().skip(1) {
        assert_eq!(t.pts_ns, BASE + i as u64 * F);
        assert_eq!(t.dts_ns, t.pts_ns as i64);
    }
}

#[test]
fn a_keyframe_far_from_the_timeline_anchors_again() {
    let mut clock = StreamClock::default();
    run(&mut clock, &[(0, true), (1, false)], Some(0));
    // The producer restarts its stream clock at 0; its next keyframe is
    // placed at the timeline's time, not 90 s back.
    let t = clock.place(0, BASE + 2 * F, true, Some(0), Some(F));
    assert_eq!(t.pts_ns, BASE + 2 * F);
    // A P-frame far off (no keyframe) keeps the anchor: it follows the stream.
    let p = clock.place(F, BASE + 3 * F, false, Some(0), Some(F));
    assert_eq!(p.pts_ns, BASE + 3 * F);
}

#[test]
fn reset_waits_for_a_keyframe_to_anchor() {
    let mut clock = StreamClock::default();
    run(&mut clock, &[(0, true), (1, false)], Some(0));
    clock.reset();
    // Not anchored: a delta unit gets the timeline.
    let t = clock.place(STREAM0 + 50 * F, BASE + 9 * F, false, Some(0), Some(F));
    assert_eq!(t.pts_ns, BASE + 9 * F);
    let k = clock.place(STREAM0 + 51 * F, BASE + 10 * F, true, Some(0), Some(F));
    assert_eq!(k.pts_ns, BASE + 10 * F);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The producer's stream times, rates and depths are outside input:
        /// whatever they are, nothing panics and DTS rise.
        #[test]
        fn any_input_keeps_dts_rising(
            units in proptest::collection::vec(
                (any::<u64>(), any::<u64>(), any::<bool>(), proptest::option::of(0u32..40),
                 proptest::option::of(any::<u64>())),
                1..64,
            ),
            resets in proptest::collection::vec(any::<bool>(), 64),
        ) {
            let mut clock = StreamClock::default();
            let mut last = None;
            for (i, (stream, timeline, key, depth, frame)) in units.into_iter().enumerate() {
                if resets[i] && i % 7 == 0 {
                    clock.reset();
                }
                let t = clock.place(stream, timeline, key, depth, frame);
                if let Some(l) = last {
                    prop_assert!(t.dts_ns > l || l == i64::MAX);
                }
                last = Some(t.dts_ns);
            }
        }
    }
}
