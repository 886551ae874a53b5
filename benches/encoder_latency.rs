//! Encoder-only latency: time from handing a frame to the encoder to its
//! access unit coming out, at 1280x720, 30 fps pacing (real time), for each
//! codec and for two presets side by side in one run.
//!
//! `cargo bench --bench encoder_latency` (FRAMES=N to change the count).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::GstEncoder;
use cvmmap_streamer::encode::{AccessUnitSink, Codec, EncodeInput, EncoderSettings, VideoEncoder};
use cvmmap_streamer::ingest::dummy::fill_test_pattern;
use cvmmap_streamer::ingest::{Form, Frame, VideoGeometry};
use cvmmap_streamer::telemetry::EncodeCounters;

const W: u32 = 1280;
const H: u32 = 720;
const FPS: u64 = 30;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(codec: Codec, preset: &str, frames: u64, source: &[Vec<u8>]) -> (f64, f64, f64, usize) {
    let pushed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let sink: AccessUnitSink = {
        let (pushed, latencies) = (pushed.clone(), latencies.clone());
        Arc::new(move |au| {
            let now = Instant::now();
            if let Some(t) = pushed.lock().unwrap().remove(&au.pts_ns) {
                latencies
                    .lock()
                    .unwrap()
                    .push((now - t).as_secs_f64() * 1e3);
            }
        })
    };
    let element = if codec == Codec::H264 {
        "x264enc"
    } else {
        "x265enc"
    };
    let settings = EncoderSettings {
        codec,
        gop: 30,
        b_frames: 0,
        bitrate_kbps: 4000,
        preset: preset.into(),
    };
    let mut enc = GstEncoder::new(settings, element, sink, Arc::new(EncodeCounters::default()))
        .expect("encoder");
    let geometry = VideoGeometry {
        pixel_format: PixelFormat::Bgr,
        width: W,
        height: H,
        stride: W as usize * 3,
    };
    let interval = Duration::from_nanos(1_000_000_000 / FPS);
    let start = Instant::now();
    for i in 0..frames {
        let data = source[(i as usize) % source.len()].clone();
        let pts_ns = i * interval.as_nanos() as u64;
        let frame = Frame {
            frame_count: i as u32,
            capture_ts_ns: pts_ns,
            geometry,
            data: data.into(),
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        };
        pushed.lock().unwrap().insert(pts_ns, Instant::now());
        enc.encode(EncodeInput {
            frame,
            pts_ns,
            force_keyframe: false,
            frame_rate: None,
        })
        .expect("encode");
        let deadline = start + interval * (i as u32 + 1);
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    enc.finish().expect("drain");
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    (
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        *l.last().unwrap_or(&0.0),
        l.len(),
    )
}

fn main() {
    let frames: u64 = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let source: Vec<Vec<u8>> = (0..30)
        .map(|f| {
            let mut d = vec![0; (W * H * 3) as usize];
            fill_test_pattern(&mut d, W, H, f);
            d
        })
        .collect();
    println!(
        "encoder-only latency, {W}x{H} BGR at {FPS} fps pacing, {frames} frames, gop 30, no B-frames"
    );
    println!(
        "{:<6} {:<10} {:>9} {:>9} {:>9} {:>7}",
        "codec", "preset", "p50 ms", "p99 ms", "max ms", "units"
    );
    for codec in [Codec::H264, Codec::H265] {
        for preset in ["superfast", "ultrafast"] {
            let (p50, p99, max, n) = run(codec, preset, frames, &source);
            println!(
                "{:<6} {:<10} {:>9.2} {:>9.2} {:>9.2} {:>7}",
                codec.to_string(),
                preset,
                p50,
                p99,
                max,
                n
            );
        }
    }
}
