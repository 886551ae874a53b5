use super::*;

/// A unit of `source` at `ts` ms; `key` marks a keyframe. The payload
/// names both, so the test can check what was written.
fn unit(source: usize, ts_ms: u64, key: bool) -> Item<(usize, u64)> {
    Item {
        ts_ns: ts_ms * 1_000_000,
        keyframe: key,
        side: false,
        payload: (source, ts_ms),
    }
}

/// The (source, ms) of every write in `outs`.
fn writes(outs: &[Out<(usize, u64)>]) -> Vec<(usize, u64)> {
    outs.iter()
        .filter_map(|o| match o {
            Out::Write { item, .. } => Some(item.payload),
            _ => None,
        })
        .collect()
}

/// Feeds `(source, ms, key)` in order, then ends every source.
fn run(m: &mut Merger<(usize, u64)>, feed: &[(usize, u64, bool)]) -> Vec<Out<(usize, u64)>> {
    let mut outs = Vec::new();
    for &(s, t, k) in feed {
        outs.extend(m.push(s, unit(s, t, k)));
    }
    for s in 0..m.lanes.len() {
        outs.extend(m.end(s));
    }
    outs
}

#[test]
fn full_range_writes_every_unit_as_it_comes() {
    let mut m = Merger::new(Range::Full, 2, None, None, 8);
    let outs = run(
        &mut m,
        &[(1, 5, true), (0, 0, true), (0, 10, false), (1, 15, false)],
    );
    assert_eq!(writes(&outs), [(1, 5), (0, 0), (0, 10), (1, 15)]);
    assert!(outs.contains(&Out::Ended(0)) && outs.contains(&Out::Ended(1)));
    assert!(m.is_done());
}

#[test]
fn common_range_trims_to_the_overlap_and_starts_each_source_at_a_keyframe() {
    let mut m = Merger::new(Range::Common, 3, None, None, 64);
    let mut outs = Vec::new();
    // Source 0 from 0 ms, source 1 from 12 ms, source 2 from 24 ms, every
    // 10 ms; keyframes at each source's first unit and every 50 ms after.
    let mut feed = Vec::new();
    for step in 0..12u64 {
        for (s, offset) in [(0usize, 0u64), (1, 12), (2, 24)] {
            let t = offset + step * 10;
            feed.push((s, t, step % 5 == 0));
        }
    }
    for &(s, t, k) in &feed {
        outs.extend(m.push(s, unit(s, t, k)));
    }
    assert_eq!(m.common_start(), Some(24_000_000));
    assert!(outs.contains(&Out::CommonStart(24_000_000)));
    // Source 2 starts at the common start with a keyframe; the others must
    // be asked for one.
    let asked: Vec<usize> = outs
        .iter()
        .filter_map(|o| match o {
            Out::NeedKeyframe(s, _) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [0, 1]);
    // Source 1 ends at its 12th unit (122 ms): the overlap ends there.
    outs.extend(m.end(1));
    outs.extend(m.push(0, unit(0, 130, false)));
    outs.extend(m.push(2, unit(2, 140, false)));
    outs.extend(m.end(0));
    outs.extend(m.end(2));
    let w = writes(&outs);
    // Every write is inside [24, 122] ms, in capture order.
    assert!(w.iter().all(|&(_, t)| (24..=122).contains(&t)), "{w:?}");
    assert!(w.windows(2).all(|p| p[0].1 <= p[1].1), "{w:?}");
    // Each source starts at its first keyframe at or after 24 ms: source 0
    // at 50, source 1 at 62, source 2 at 24.
    for (s, first) in [(0, 50), (1, 62), (2, 24)] {
        assert_eq!(w.iter().find(|u| u.0 == s), Some(&(s, first)), "{w:?}");
    }
    assert_eq!(m.trimmed(0).before_start, 3); // 0, 10, 20
    assert_eq!(m.trimmed(0).waiting_keyframe, 2); // 30, 40
    assert_eq!(m.trimmed(0).after_end, 1); // 130
    assert_eq!(m.trimmed(2).after_end, 3); // 124, 134, 140
    assert!(m.is_done());
}

#[test]
fn a_unit_waits_until_every_live_source_has_passed_its_time() {
    let mut m = Merger::new(Range::Common, 2, None, None, 64);
    assert!(writes(&m.push(0, unit(0, 0, true))).is_empty());
    assert!(writes(&m.push(0, unit(0, 10, false))).is_empty());
    // Source 1's first unit fixes the common start at 5: source 0's units
    // before it are trimmed, 10 waits for source 1 to pass 10 ms.
    let outs = m.push(1, unit(1, 5, true));
    assert_eq!(writes(&outs), [(1, 5)]);
    let outs = m.push(1, unit(1, 15, false));
    // 10 is not a keyframe: trimmed while source 0 waits for one.
    assert_eq!(writes(&outs), []);
    assert_eq!(m.trimmed(0).waiting_keyframe, 1);
    assert_eq!(writes(&m.push(0, unit(0, 20, true))), [(1, 15)]);
    // Source 1 ends at 15 ms: so does the overlap.
    assert_eq!(writes(&m.end(1)), []);
    assert_eq!(m.trimmed(0).after_end, 1);
}

#[test]
fn a_silent_source_never_grows_the_others_past_the_hold_bound() {
    let mut m = Merger::new(Range::Common, 2, None, None, 4);
    for t in 0..100 {
        m.push(0, unit(0, t, t % 10 == 0));
        assert!(m.lanes[0].held.len() <= 4);
    }
    // Nothing is written before the common start is known.
    assert_eq!(m.written(0), 0);
    assert_eq!(m.trimmed(0).before_start, 96);
}

#[test]
fn duration_and_unit_caps_end_the_window() {
    let mut m = Merger::new(Range::Full, 2, Some(30_000_000), None, 8);
    let feed: Vec<_> = (0..10).map(|i| (0, i * 10, i == 0)).collect();
    let outs = run(&mut m, &feed);
    assert_eq!(writes(&outs), [(0, 0), (0, 10), (0, 20)]);
    assert_eq!(m.trimmed(0).after_end, 7);

    let mut m = Merger::new(Range::Full, 1, None, Some(4), 8);
    for i in 0..3 {
        m.push(0, unit(0, i * 10, i == 0));
    }
    assert!(!m.is_done());
    m.push(0, unit(0, 30, false));
    assert!(m.is_done(), "4 units written: done");
    assert_eq!(writes(&m.push(0, unit(0, 40, false))), []);
}

#[test]
fn a_source_that_never_gave_a_unit_takes_no_part_in_the_overlap() {
    let mut m = Merger::new(Range::Common, 2, None, None, 64);
    m.push(0, unit(0, 0, true));
    m.push(0, unit(0, 10, false));
    let outs = m.end(1);
    assert!(outs.contains(&Out::CommonStart(0)));
    assert_eq!(writes(&outs), [(0, 0), (0, 10)]);
}

#[test]
fn side_items_are_written_inside_the_window_before_the_video_starts() {
    let mut m = Merger::new(Range::Common, 2, None, None, 64);
    let side = |s: usize, t: u64| Item {
        side: true,
        ..unit(s, t, false)
    };
    let mut outs = m.push(0, unit(0, 0, true));
    outs.extend(m.push(0, side(0, 0)));
    outs.extend(m.push(1, unit(1, 20, true)));
    outs.extend(m.push(0, side(0, 30)));
    outs.extend(m.push(0, unit(0, 30, false)));
    outs.extend(m.push(1, unit(1, 40, false)));
    outs.extend(m.end(0));
    outs.extend(m.end(1));
    // Source 0's video waits for a keyframe after 20 ms; its depth at 30
    // is in the window and written; the one at 0 is not.
    assert_eq!(writes(&outs), [(1, 20), (0, 30)]);
    assert_eq!(m.side_written(0), 1);
    assert_eq!(m.written(0), 0);
}
