use super::*;

const MS: u64 = 1_000_000;

/// `n` frames every `step_ms` from `start_ms`.
fn camera(start_ms: u64, step_ms: f64, n: u32) -> Vec<Frame> {
    (0..n)
        .map(|i| Frame {
            ts_ns: start_ms * MS + (f64::from(i) * step_ms * MS as f64) as u64,
            sequence: i,
        })
        .collect()
}

/// The cameras' frames in capture order, as a live recorder sees them.
fn interleaved(cams: &[Vec<Frame>]) -> Vec<(usize, Frame)> {
    let mut all: Vec<(usize, Frame)> = cams
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().map(move |f| (i, *f)))
        .collect();
    all.sort_by_key(|(i, f)| (f.ts_ns, *i));
    all
}

/// Feeds the cameras interleaved, then ends them all.
fn run(b: &mut Bundler, cams: &[Vec<Frame>]) -> Vec<Bundle> {
    let mut out = Vec::new();
    for (i, f) in interleaved(cams) {
        out.extend(b.push(i, f));
    }
    for i in 0..cams.len() {
        out.extend(b.end(i));
    }
    out
}

/// 30, 30 and 15 fps, starting 0, 10 and 45 ms in, 3 s each.
fn rig() -> Vec<Vec<Frame>> {
    vec![
        camera(0, 1000.0 / 30.0, 90),
        camera(10, 1000.0 / 30.0, 90),
        camera(45, 1000.0 / 15.0, 45),
    ]
}

#[test]
fn nearest_follows_the_slowest_camera_from_the_common_start() {
    let cams = rig();
    let mut b = Bundler::new(Policy::Nearest, 3, 0, None);
    let bundles = run(&mut b, &cams);
    let start = b.common_start().unwrap();
    assert_eq!(start, 45 * MS, "the latest first frame");
    // One bundle per frame of the 15 fps camera in the window.
    let slow_in_window = cams[2].iter().filter(|f| f.ts_ns >= start).count();
    assert_eq!(bundles.len(), slow_in_window);
    for (i, bundle) in bundles.iter().enumerate() {
        assert_eq!(bundle.index, i as u64);
        assert_eq!(bundle.members.len(), 3, "one message per camera");
        assert_eq!(bundle.members[2].delta_ns, 0, "the reference itself");
        for m in &bundle.members {
            // The nearest frame of a 30 fps camera is within half a period.
            assert!(m.delta_ns.unsigned_abs() <= 17 * MS, "{bundle:?}");
            let cam = &cams[m.source];
            let best = cam
                .iter()
                .map(|f| f.ts_ns.abs_diff(bundle.ts_ns))
                .min()
                .unwrap();
            assert_eq!(m.delta_ns.unsigned_abs(), best, "nearest: {bundle:?}");
        }
    }
    assert_eq!(b.stats().bundles, bundles.len() as u64);
    assert!(b.stats().frames_before_start > 0);
}

#[test]
fn strict_drops_and_counts_bundles_outside_the_tolerance() {
    let cams = rig();
    // The 15 fps reference starts 45 ms in: camera 0's nearest frames are
    // always 11.7 ms from it, camera 1's (10 ms after camera 0) 1.7 ms.
    let mut b = Bundler::new(
        Policy::Strict {
            tolerance_ns: 5 * MS,
        },
        3,
        0,
        None,
    );
    let kept = run(&mut b, &cams);
    let s = b.stats();
    assert!(s.dropped_incomplete > 0, "{s:?}");
    assert_eq!(s.bundles, kept.len() as u64);
    assert!(kept.iter().all(|k| {
        k.members
            .iter()
            .all(|m| m.delta_ns.unsigned_abs() <= 5 * MS)
    }));
    let mut loose = Bundler::new(
        Policy::Strict {
            tolerance_ns: 20 * MS,
        },
        3,
        0,
        None,
    );
    let all = run(&mut loose, &cams);
    assert_eq!(loose.stats().dropped_incomplete, 0);
    assert_eq!(all.len() as u64, s.bundles + s.dropped_incomplete);
}

#[test]
fn start_and_end_frames_count_bundles_inclusively() {
    let cams = rig();
    let mut b = Bundler::new(Policy::Nearest, 3, 5, Some(9));
    let got = run(&mut b, &cams);
    let idx: Vec<u64> = got.iter().map(|b| b.index).collect();
    assert_eq!(idx, [5, 6, 7, 8, 9]);
    assert!(b.is_done());
    assert_eq!(b.stats().skipped_before_start, 5);
    assert!(
        b.push(
            0,
            Frame {
                ts_ns: u64::MAX,
                sequence: 0
            }
        )
        .is_empty()
    );
}

#[test]
fn a_stalled_camera_holds_at_most_max_pending_reference_frames() {
    // Camera 1 gives three frames and then nothing (never ends).
    let cams = [camera(0, 1000.0 / 15.0, 200), camera(0, 1000.0 / 30.0, 3)];
    let mut b = Bundler::new(Policy::Nearest, 2, 0, None);
    let mut out = Vec::new();
    for (i, f) in interleaved(&cams) {
        out.extend(b.push(i, f));
        assert!(b.sources[0].frames.len() <= MAX_PENDING + 1);
    }
    assert!(!out.is_empty(), "old reference frames were decided");
}

#[test]
fn frames_out_of_order_or_from_unknown_sources_are_ignored() {
    let mut b = Bundler::new(Policy::Nearest, 1, 0, None);
    assert!(
        b.push(
            5,
            Frame {
                ts_ns: 1,
                sequence: 0
            }
        )
        .is_empty()
    );
    let mut got = Vec::new();
    for (t, s) in [(10, 0), (5, 1), (20, 2), (20, 3), (30, 4)] {
        got.extend(b.push(
            0,
            Frame {
                ts_ns: t * MS,
                sequence: s,
            },
        ));
    }
    got.extend(b.end(0));
    let seqs: Vec<u32> = got.iter().map(|b| b.members[0].frame.sequence).collect();
    assert_eq!(seqs, [0, 2, 4]);
}

#[test]
fn a_bundle_serialises_to_its_documented_json() {
    let b = Bundle {
        index: 3,
        ts_ns: 100,
        members: vec![
            Member {
                source: 0,
                frame: Frame {
                    ts_ns: 98,
                    sequence: 7,
                },
                delta_ns: -2,
            },
            Member {
                source: 1,
                frame: Frame {
                    ts_ns: 100,
                    sequence: 4,
                },
                delta_ns: 0,
            },
        ],
    };
    let v: serde_json::Value =
        serde_json::from_slice(&b.to_json(&["zed1".into(), "zed2".into()])).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"bundle_index": 3, "timestamp_ns": 100, "members": [
            {"label": "zed1", "topic": "/zed1/video", "sequence": 7, "log_time_ns": 98, "delta_ns": -2},
            {"label": "zed2", "topic": "/zed2/video", "sequence": 4, "log_time_ns": 100, "delta_ns": 0},
        ]})
    );
    let schema: serde_json::Value = serde_json::from_str(BUNDLE_JSON_SCHEMA).unwrap();
    assert_eq!(schema["title"], BUNDLE_SCHEMA_NAME);
}
