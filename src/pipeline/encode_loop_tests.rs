use super::*;
use crate::contract::PixelFormat;
use crate::ingest::{Form, VideoGeometry};

const INTERVAL: u64 = 33_333_333;

fn frame(count: u32, ts: u64) -> Frame {
    Frame {
        frame_count: count,
        capture_ts_ns: ts,
        geometry: VideoGeometry {
            pixel_format: PixelFormat::Bgr,
            width: 2,
            height: 2,
            stride: 6,
        },
        data: vec![0; 12].into(),
        form: Form::Raw,
        stamps: None,
        encoded: None,
        frame_rate: None,
        aux: None,
    }
}

struct Rig {
    counters: Counters,
    keyframes: KeyframeRequests,
    producer: ProducerSignals,
    events: Events,
}

impl Rig {
    fn new() -> Self {
        Self {
            counters: Counters::default(),
            keyframes: KeyframeRequests::default(),
            producer: ProducerSignals::default(),
            events: Events::none(),
        }
    }

    fn ctx(&self) -> LoopContext<'_> {
        LoopContext {
            counters: &self.counters,
            keyframes: &self.keyframes,
            producer: &self.producer,
            events: &self.events,
            status_interval: Duration::ZERO,
            aux: None,
            keyframe_min_spacing: 15,
        }
    }
}

/// Issue 13, defect 1 and the NATS flood: a keyframe request before every
/// frame (a stalled sink asking on each full queue, or `keyframe` at
/// 100/s) used to force every frame. The limiter forces one per half GOP.
#[test]
fn a_request_before_every_frame_forces_one_keyframe_per_half_gop() {
    let rig = Rig::new();
    let ctx = rig.ctx();
    let mut placer = Placer::new(ctx.keyframe_min_spacing);
    let mut forced = 0;
    for i in 0..150u32 {
        rig.keyframes.request();
        forced += u32::from(
            placer
                .place(&frame(i, u64::from(i) * INTERVAL), &ctx)
                .force_keyframe,
        );
    }
    // Frames 0, 15, 30, ..., 135.
    assert_eq!(forced, 10);
    let s = rig.counters.snapshot();
    assert_eq!(s.encode.keyframes_forced, 10);
    assert_eq!(s.encode.keyframes_deferred, 140);
}

/// Issue 13, defect 7: a producer reset into a clock 3 s ahead left a 3 s
/// gap in the output timeline although the log said "new timeline".
#[test]
fn a_reset_into_a_clock_ahead_continues_one_interval_later() {
    let rig = Rig::new();
    let ctx = rig.ctx();
    let mut placer = Placer::new(ctx.keyframe_min_spacing);
    let base = 1_700_000_000_000_000_000u64;
    let mut last = 0;
    for i in 0..30u32 {
        last = placer
            .place(&frame(i, base + u64::from(i) * INTERVAL), &ctx)
            .pts_ns;
    }
    // Counter back to 0, clock 3 s ahead of where it would be.
    let ahead = base + 30 * INTERVAL + 3_000_000_000;
    let placed = placer.place(&frame(0, ahead), &ctx);
    assert!(
        placed.force_keyframe,
        "a reset forces a keyframe (the window is open)"
    );
    assert_eq!(placed.pts_ns - last, INTERVAL, "no gap for viewers");
    let next = placer.place(&frame(1, ahead + INTERVAL), &ctx).pts_ns;
    assert_eq!(next - placed.pts_ns, INTERVAL, "then follows the new clock");
    assert_eq!(rig.counters.snapshot().encode.resets_applied, 1);
}

/// A STREAM_RESET flood (anyone on NATS can send one) is limited like
/// any other reason, and the first reset after a quiet time is answered
/// at once.
#[test]
fn a_stream_reset_flood_is_limited_too() {
    let rig = Rig::new();
    let ctx = rig.ctx();
    let mut placer = Placer::new(ctx.keyframe_min_spacing);
    let mut forced = Vec::new();
    for i in 0..60u32 {
        rig.producer.signal_reset();
        if placer
            .place(&frame(i, u64::from(i) * INTERVAL), &ctx)
            .force_keyframe
        {
            forced.push(i);
        }
    }
    assert_eq!(forced, [0, 15, 30, 45]);
}

/// Issue 13, defect 5: the encoder was always told 30 fps. A 60 fps
/// source is measured (and a producer's stated rate wins).
#[test]
fn the_source_rate_reaches_the_encoder() {
    let rig = Rig::new();
    let ctx = rig.ctx();
    let mut placer = Placer::new(15);
    let mut rate = None;
    for i in 0..20u32 {
        rate = placer
            .place(&frame(i, u64::from(i) * 16_666_667), &ctx)
            .frame_rate;
    }
    assert_eq!(rate, Some((60_000, 1000)));
    let mut stated = frame(20, 20 * 16_666_667);
    stated.frame_rate = Some((50, 1));
    assert_eq!(placer.place(&stated, &ctx).frame_rate, Some((50, 1)));
}
