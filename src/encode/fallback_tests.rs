//! The fallback against a stand-in hardware encoder and the real x264.

use super::*;
use crate::encode::elements::Backend;
use crate::encode::gst::GstEncoder;
use crate::encode::stand_in::{HardwareStandIn, StandInEncoder};
use crate::encode::{AccessUnit, AccessUnitSink, Codec, EncoderDevice, EncoderSettings};
use crate::ingest::dummy::fill_test_pattern;
use crate::ingest::{Form, Frame, VideoGeometry};
use crate::telemetry::EncodeCounters;

const FRAME_NS: u64 = 33_333_333;

fn settings() -> EncoderSettings {
    EncoderSettings {
        codec: Codec::H264,
        gop: 30,
        b_frames: 0,
        bitrate_kbps: 1000,
        preset: "ultrafast".into(),
    }
}

fn frame(i: u64) -> EncodeInput {
    let geometry = VideoGeometry {
        pixel_format: crate::contract::PixelFormat::Bgr,
        width: 320,
        height: 240,
        stride: 960,
    };
    let mut data = vec![0; geometry.plane_bytes()];
    fill_test_pattern(&mut data, 320, 240, i);
    EncodeInput {
        frame: Frame {
            frame_count: i as u32,
            capture_ts_ns: i * FRAME_NS,
            geometry,
            data: data.into(),
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        },
        pts_ns: i * FRAME_NS,
        force_keyframe: false,
        frame_rate: None,
    }
}

fn run(kind: HardwareStandIn, frames: u64) -> (u64, EncoderReport, Vec<AccessUnit>) {
    let units = Arc::new(Mutex::new(Vec::new()));
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au))
    };
    let stand_in_frames = Arc::new(AtomicU64::new(0));
    let report = Arc::new(Mutex::new(EncoderReport {
        requested: EncoderDevice::Auto,
        backend: Backend::Nvenc,
        element: "test-stand-in".into(),
        reason: "test".into(),
        fallback_at_frame: None,
    }));
    let software: SoftwareFactory = Box::new(move || {
        Ok(Box::new(GstEncoder::new(
            settings(),
            "x264enc",
            sink,
            Arc::new(EncodeCounters::default()),
        )?) as Box<dyn VideoEncoder>)
    });
    let hardware = Box::new(StandInEncoder {
        kind,
        frames: stand_in_frames.clone(),
    });
    let mut enc = FallbackEncoder::new(
        hardware,
        Arc::new(AtomicU64::new(0)),
        software,
        report.clone(),
        crate::telemetry::Events::none(),
    );
    for i in 0..frames {
        enc.encode(frame(i)).unwrap();
    }
    enc.finish().unwrap();
    let units = std::mem::take(&mut *units.lock().unwrap());
    let report = report.lock().unwrap().clone();
    (stand_in_frames.load(Ordering::Relaxed), report, units)
}

#[test]
fn a_silent_hardware_encoder_is_replaced_exactly_at_frame_60() {
    let (hw_frames, report, units) = run(HardwareStandIn::Stall, 90);
    assert_eq!(hw_frames, FALLBACK_AFTER_FRAMES);
    assert_eq!(report.fallback_at_frame, Some(60));
    assert_eq!(
        (report.backend, report.element.as_str()),
        (Backend::Software, "x264enc")
    );
    assert!(
        report.reason.contains("no access unit in 60 frames"),
        "{}",
        report.reason
    );
    // The stream goes on: one unit per remaining frame, starting with a keyframe at frame 60.
    assert_eq!(units.len(), 30);
    assert!(units[0].keyframe);
    assert_eq!(units[0].pts_ns, 60 * FRAME_NS);
    assert!(
        units
            .windows(2)
            .all(|w| w[1].pts_ns == w[0].pts_ns + FRAME_NS),
        "continuous timestamps"
    );
}

#[test]
fn a_hardware_encoder_that_cannot_start_is_replaced_at_once() {
    let (hw_frames, report, units) = run(HardwareStandIn::FailStart, 20);
    assert_eq!(hw_frames, 1);
    assert_eq!(report.fallback_at_frame, Some(0));
    assert!(report.reason.contains("NVENC failed"), "{}", report.reason);
    assert_eq!(units.len(), 19);
    assert!(units[0].keyframe);
    assert_eq!(units[0].pts_ns, FRAME_NS);
}

/// Issue 13, defect 4: a wedged encoder's `appsrc` (block=true,
/// max-buffers=1) blocked `push_buffer` at frame 2, long before the
/// 60-frame rule; the stand-in never blocked, so only the counting rule was
/// tested. Here the hardware encoder is a real GStreamer pipeline whose
/// output never drains; it gets frames every 50 ms, so the 60-frame rule
/// alone would take 3 s: the time watchdog (500 ms here) must fire first,
/// and no push may block meanwhile.
#[test]
fn a_wedged_hardware_encoder_is_replaced_by_the_time_watchdog() {
    use std::time::{Duration, Instant};
    let units = Arc::new(Mutex::new(Vec::new()));
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au))
    };
    let hardware_units = Arc::new(AtomicU64::new(0));
    let hardware_sink: AccessUnitSink = {
        let (n, sink) = (hardware_units.clone(), sink.clone());
        Arc::new(move |au| {
            n.fetch_add(1, Ordering::Relaxed);
            sink(au)
        })
    };
    let stats = Arc::new(EncodeCounters::default());
    let hardware = GstEncoder::new(settings(), "x264enc", hardware_sink, stats.clone())
        .unwrap()
        .with_stalled_output()
        .non_blocking();
    let report = Arc::new(Mutex::new(EncoderReport {
        requested: EncoderDevice::Auto,
        backend: Backend::Nvenc,
        element: "test-stand-in".into(),
        reason: "test".into(),
        fallback_at_frame: None,
    }));
    let software: SoftwareFactory = Box::new(move || {
        Ok(Box::new(GstEncoder::new(settings(), "x264enc", sink, stats)?) as Box<dyn VideoEncoder>)
    });
    let mut enc = FallbackEncoder::new(
        Box::new(hardware),
        hardware_units.clone(),
        software,
        report.clone(),
        crate::telemetry::Events::none(),
    )
    .with_watchdog(Duration::from_millis(500));
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let t = Instant::now();
        enc.encode(frame(i)).unwrap();
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    enc.finish().unwrap();
    let report = report.lock().unwrap().clone();
    let at = report.fallback_at_frame.expect("the watchdog fired");
    assert!((8..30).contains(&at), "fell back at frame {at}");
    assert!(report.reason.contains("ms"), "{}", report.reason);
    assert!(
        slowest < Duration::from_millis(400),
        "a push blocked {slowest:?}"
    );
    assert_eq!(hardware_units.load(Ordering::Relaxed), 0);
    let units = units.lock().unwrap();
    assert!(units.len() as u64 >= 40 - at - 2, "{} units", units.len());
    assert!(units[0].keyframe, "software starts with a keyframe");
}
