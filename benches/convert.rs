//! Colour conversion to I420, ours against GStreamer's, on the same bytes.
//! Run it with `cargo bench --bench convert`.
//!
//! - `ours`: `encode::convert::to_i420` (yuvutils-rs SIMD for the RGB
//!   family, scalar for GRAY and YUYV), what the encoder runs since issue 14;
//! - `videoconvert_1t` / `videoconvert_2t`: `GstVideoConverter`, the library
//!   behind the `videoconvert` element the pipeline used before, with 1 and
//!   2 threads (`GstVideoConverter.threads`, the element's `n-threads`).
//!   Threads shorten the wall time criterion reports, not the CPU time the
//!   frame costs: on a host that also encodes, CPU is what counts.
//!
//! Input: frame 5 of the contract test pattern (BGR), re-packed for the
//! other formats, at 1280x720 and 1920x1080; BT.709 limited range as the
//! encoder uses above 576 lines. Throughput counts input bytes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::ensure_init;
use cvmmap_streamer::ingest::VideoGeometry;
use cvmmap_streamer::ingest::dummy::fill_test_pattern;
use cvmmap_streamer::pixels::{I420Layout, Matrix, to_i420};
use gstreamer as gst;
use gstreamer_video as gst_video;

fn repack(bgr: &[u8], pf: PixelFormat) -> Vec<u8> {
    let px = bgr.chunks_exact(3);
    match pf {
        PixelFormat::Bgr => bgr.to_vec(),
        PixelFormat::Rgb => px.flat_map(|p| [p[2], p[1], p[0]]).collect(),
        PixelFormat::Bgra => px.flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        PixelFormat::Rgba => px.flat_map(|p| [p[2], p[1], p[0], 255]).collect(),
        PixelFormat::Gray => px.map(|p| p[1]).collect(),
        // Two pixels per 4 bytes: Y0 U Y1 V (values only need to vary).
        PixelFormat::Yuyv => bgr
            .chunks_exact(6)
            .flat_map(|p| [p[1], p[0], p[4], p[2]])
            .collect(),
        PixelFormat::Yuv => bgr.to_vec(),
    }
}

fn gst_format(pf: PixelFormat) -> gst_video::VideoFormat {
    use gst_video::VideoFormat as V;
    match pf {
        PixelFormat::Bgr => V::Bgr,
        PixelFormat::Rgb => V::Rgb,
        PixelFormat::Bgra => V::Bgra,
        PixelFormat::Rgba => V::Rgba,
        PixelFormat::Gray => V::Gray8,
        PixelFormat::Yuyv => V::Yuy2,
        PixelFormat::Yuv => V::V308,
    }
}

fn benches(c: &mut Criterion) {
    ensure_init().expect("GStreamer initialises");
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let mut bgr = vec![0u8; (w * h * 3) as usize];
        fill_test_pattern(&mut bgr, w, h, 5);
        for pf in [
            PixelFormat::Bgr,
            PixelFormat::Bgra,
            PixelFormat::Rgb,
            PixelFormat::Gray,
            PixelFormat::Yuyv,
        ] {
            let src = repack(&bgr, pf);
            let g = VideoGeometry {
                pixel_format: pf,
                width: w,
                height: h,
                stride: w as usize * pf.channels() as usize,
            };
            let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
                .colorimetry(&"bt709".parse().unwrap())
                .build()
                .unwrap();
            let in_info = gst_video::VideoInfo::builder(gst_format(pf), w, h)
                .build()
                .unwrap();
            let mut group = c.benchmark_group(format!("convert_{pf:?}_{w}x{h}"));
            group.throughput(Throughput::Bytes(src.len() as u64));
            group.sample_size(30);

            let layout = I420Layout::new(w, h);
            let mut dst = vec![0u8; layout.size];
            group.bench_function("ours", |b| {
                b.iter(|| {
                    let planes = layout.planes(&mut dst).unwrap();
                    to_i420(black_box(&src), &g, planes, Matrix::Bt709).unwrap();
                })
            });

            for threads in [1u32, 2] {
                let config = gst::Structure::builder("GstVideoConverter")
                    .field("GstVideoConverter.threads", threads)
                    .build();
                let conv = gst_video::VideoConverter::new(
                    &in_info,
                    &out_info,
                    Some(gst_video::VideoConverterConfig::try_from(config).unwrap()),
                )
                .unwrap();
                let in_buf = gst::Buffer::from_slice(src.clone());
                let in_frame =
                    gst_video::VideoFrame::from_buffer_readable(in_buf, &in_info).unwrap();
                let out_buf = gst::Buffer::with_size(out_info.size()).unwrap();
                let mut out_frame =
                    gst_video::VideoFrame::from_buffer_writable(out_buf, &out_info).unwrap();
                group.bench_function(format!("videoconvert_{threads}t"), |b| {
                    b.iter(|| conv.frame(&in_frame, &mut out_frame))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(convert, benches);
criterion_main!(convert);
