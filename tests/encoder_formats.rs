//! Every input format of the contract, H.264 and H.265, at 640x360 and
//! 1280x720: the encoder's output decodes in GStreamer's libav decoders as
//! 4:2:0, with a profile that is not a 4:4:4 one.

use std::sync::{Arc, Mutex};

use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::GstEncoder;
use cvmmap_streamer::encode::{
    AccessUnit, AccessUnitSink, Codec, EncodeInput, EncoderSettings, VideoEncoder,
};
use cvmmap_streamer::ingest::{Form, Frame, VideoGeometry};
use cvmmap_streamer::telemetry::EncodeCounters;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

const FRAMES: u64 = 8;

fn encode(
    codec: Codec,
    pixel_format: PixelFormat,
    width: u32,
    height: u32,
    padding: usize,
    native: bool,
) -> Vec<AccessUnit> {
    let units = Arc::new(Mutex::new(Vec::new()));
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au))
    };
    let (element, preset) = match codec {
        Codec::H264 => ("x264enc", "ultrafast"),
        Codec::H265 => ("x265enc", "ultrafast"),
    };
    let settings = EncoderSettings {
        codec,
        gop: 30,
        b_frames: 0,
        bitrate_kbps: 2000,
        preset: preset.into(),
    };
    let mut enc =
        GstEncoder::new(settings, element, sink, Arc::new(EncodeCounters::default())).unwrap();
    if native {
        enc = enc.with_native_feed();
    }
    let stride = width as usize * pixel_format.channels() as usize + padding;
    let geometry = VideoGeometry {
        pixel_format,
        width,
        height,
        stride,
    };
    for i in 0..FRAMES {
        // Any content will do; vary it so frames differ.
        let data: Vec<u8> = (0..geometry.plane_bytes())
            .map(|b| (b as u64 * 7 + i * 13) as u8)
            .collect();
        let frame = Frame {
            frame_count: i as u32,
            capture_ts_ns: i * 33_333_333,
            geometry,
            data: data.into(),
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        };
        enc.encode(EncodeInput {
            frame,
            pts_ns: i * 33_333_333,
            force_keyframe: false,
            frame_rate: None,
        })
        .unwrap();
    }
    enc.finish().unwrap();
    std::mem::take(&mut *units.lock().unwrap())
}

/// Decodes with `h26Xparse ! avdec_h26X`; returns (frames, decoded format,
/// width, height, profile from the parser).
fn decode(codec: Codec, units: &[AccessUnit]) -> (usize, String, i32, i32, String) {
    gst::init().unwrap();
    let c = match codec {
        Codec::H264 => "h264",
        Codec::H265 => "h265",
    };
    let desc = format!(
        "appsrc name=src caps=video/x-{c},stream-format=byte-stream,alignment=au format=time \
         ! {c}parse name=parse ! avdec_{c} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let parse = pipeline.by_name("parse").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for au in units {
        let mut b = gst::Buffer::from_slice(au.data.clone());
        b.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_nseconds(au.pts_ns));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    let (mut frames, mut format, mut w, mut h) = (0, String::new(), 0, 0);
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
        format = s.get::<String>("format").unwrap();
        w = s.get::<i32>("width").unwrap();
        h = s.get::<i32>("height").unwrap();
        frames += 1;
    }
    let profile = parse
        .static_pad("src")
        .and_then(|p| p.current_caps())
        .and_then(|caps| {
            caps.structure(0)
                .and_then(|s| s.get::<String>("profile").ok())
        })
        .unwrap_or_default();
    pipeline.set_state(gst::State::Null).unwrap();
    (frames, format, w, h, profile)
}

fn check(codec: Codec) {
    check_with(codec, &[(640, 360), (1280, 720)], false);
}

fn check_with(codec: Codec, sizes: &[(u32, u32)], native: bool) {
    use PixelFormat::*;
    for &(width, height) in sizes {
        for pf in [Bgr, Rgb, Bgra, Rgba, Gray, Yuv, Yuyv] {
            for padding in [0usize, 64] {
                let units = encode(codec, pf, width, height, padding, native);
                let case =
                    format!("{codec} {pf:?} {width}x{height} padding {padding} native {native}");
                assert_eq!(units.len() as u64, FRAMES, "{case}: access units");
                assert!(units[0].keyframe, "{case}: first unit is a keyframe");
                let (frames, format, w, h, profile) = decode(codec, &units);
                assert_eq!(frames as u64, FRAMES, "{case}: decoded frames");
                assert_eq!(
                    (format.as_str(), w, h),
                    ("I420", width as i32, height as i32),
                    "{case}"
                );
                assert!(
                    !profile.is_empty() && !profile.contains("4:4:4"),
                    "{case}: profile {profile:?}"
                );
            }
        }
    }
}

#[test]
fn h264_from_every_input_format_decodes_as_420() {
    check(Codec::H264);
}

#[test]
fn h265_from_every_input_format_decodes_as_420() {
    check(Codec::H265);
}

/// The path NVENC takes (the producer's format through a `videoconvert`
/// limited to BGRA/RGBA/BGRx/RGBx/NV12/I420), run with x264 since no NVENC
/// is here: never 4:4:4, padded rows described by a VideoMeta.
#[test]
fn h264_fed_as_nvenc_is_from_every_input_format_decodes_as_420() {
    check_with(Codec::H264, &[(640, 360)], true);
}
