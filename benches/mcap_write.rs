//! MCAP write throughput, zstd chunks against none, on the same bytes:
//! - video: 90 access units of the contract pattern at 1280x720, encoded
//!   once by x264 superfast (as the streamer would), written as
//!   `foxglove.CompressedVideo` messages;
//! - depth: 10 frames of the simulator's DEPTH pattern at 1280x720 (F32
//!   millimetres), converted to `16UC1` and written as `foxglove.RawImage`
//!   (the conversion is part of what the recorder does per frame).
//!
//! Throughput is payload bytes per second of a whole file written to the
//! temp directory (page cache; no fsync), summary included.
//!
//! `cargo bench --bench mcap_write`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::GstEncoder;
use cvmmap_streamer::encode::{AccessUnitSink, Codec, EncodeInput, EncoderSettings, VideoEncoder};
use cvmmap_streamer::ingest::dummy::fill_test_pattern;
use cvmmap_streamer::ingest::{Form, Frame, VideoGeometry};
use cvmmap_streamer::pixels::depth::{DepthUnit, f32_to_mm16};
use cvmmap_streamer::record::{McapRecording, RecordOptions};
use cvmmap_streamer::telemetry::EncodeCounters;
use cvmmap_testers::sim::depth_pattern;

const W: u32 = 1280;
const H: u32 = 720;
const FRAME_NS: u64 = 33_333_333;

fn encoded_units() -> Vec<Bytes> {
    let units: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au.data))
    };
    let settings = EncoderSettings {
        codec: Codec::H264,
        gop: 30,
        b_frames: 0,
        bitrate_kbps: 4000,
        preset: "superfast".into(),
    };
    let mut enc = GstEncoder::new(
        settings,
        "x264enc",
        sink,
        Arc::new(EncodeCounters::default()),
    )
    .expect("x264enc");
    let geometry = VideoGeometry {
        pixel_format: PixelFormat::Bgr,
        width: W,
        height: H,
        stride: W as usize * 3,
    };
    for i in 0..90u64 {
        let mut data = vec![0; (W * H * 3) as usize];
        fill_test_pattern(&mut data, W, H, i);
        enc.encode(EncodeInput {
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
        })
        .expect("encode");
    }
    enc.finish().expect("drain");
    units.lock().unwrap().clone()
}

fn depth_planes() -> Vec<Vec<u8>> {
    (0..10u64)
        .map(|f| {
            let mut plane = Vec::with_capacity((W * H * 4) as usize);
            for y in 0..H {
                for x in 0..W {
                    let v = depth_pattern::depth_value(
                        x,
                        y,
                        f,
                        W,
                        H,
                        depth_pattern::DepthUnit::Millimetre,
                    );
                    plane.extend_from_slice(&v.to_le_bytes());
                }
            }
            plane
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let units = encoded_units();
    let video_bytes: u64 = units.iter().map(|u| u.len() as u64).sum();
    let planes = depth_planes();
    let dir = std::env::temp_dir().join(format!("mcap_write_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.mcap");
    let mut g = c.benchmark_group("mcap_write");
    g.sample_size(20);
    for (name, zstd) in [("zstd", true), ("none", false)] {
        let opts = RecordOptions {
            zstd,
            compression_threads: 0,
        };
        g.throughput(Throughput::Bytes(video_bytes));
        g.bench_function(format!("video_1280x720_h264/{name}"), |b| {
            b.iter(|| {
                let mut f = McapRecording::create(&path, opts).unwrap();
                let ch = f.add_video("cam", Codec::H264).unwrap();
                for (i, u) in units.iter().enumerate() {
                    f.write_video(ch, i as u64 * FRAME_NS, u).unwrap();
                }
                f.finish().unwrap()
            })
        });
        g.throughput(Throughput::Bytes(
            planes.len() as u64 * u64::from(W * H * 2),
        ));
        g.bench_function(format!("depth_1280x720_16uc1/{name}"), |b| {
            b.iter(|| {
                let mut f = McapRecording::create(&path, opts).unwrap();
                let ch = f
                    .add_image("cam", "depth", "16UC1", BTreeMap::new())
                    .unwrap();
                for (i, p) in planes.iter().enumerate() {
                    let mut out = Vec::new();
                    f32_to_mm16(p, W, H, W as usize * 4, DepthUnit::Millimetre, &mut out).unwrap();
                    f.write_image(ch, i as u64 * FRAME_NS, (W, H, W * 2), &Bytes::from(out))
                        .unwrap();
                }
                f.finish().unwrap()
            })
        });
    }
    g.finish();
    // The file sizes behind the throughput, once.
    for zstd in [true, false] {
        let mut f = McapRecording::create(
            &path,
            RecordOptions {
                zstd,
                compression_threads: 0,
            },
        )
        .unwrap();
        let ch = f.add_video("cam", Codec::H264).unwrap();
        for (i, u) in units.iter().enumerate() {
            f.write_video(ch, i as u64 * FRAME_NS, u).unwrap();
        }
        let d = f
            .add_image("cam", "depth", "16UC1", BTreeMap::new())
            .unwrap();
        for (i, p) in planes.iter().enumerate() {
            let mut out = Vec::new();
            f32_to_mm16(p, W, H, W as usize * 4, DepthUnit::Millimetre, &mut out).unwrap();
            f.write_image(d, i as u64 * FRAME_NS, (W, H, W * 2), &Bytes::from(out))
                .unwrap();
        }
        f.finish().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        println!(
            "mcap_write: zstd={zstd}: video {:.2} MB + depth {:.2} MB of payload -> file {:.2} MB",
            video_bytes as f64 / 1e6,
            planes.len() as f64 * f64::from(W * H * 2) / 1e6,
            len as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(mcap_write, benches);
criterion_main!(mcap_write);
