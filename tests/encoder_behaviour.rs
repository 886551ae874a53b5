//! Encoder behaviour the outputs rely on: parameter sets before every
//! keyframe, keyframes on demand, and PTS/DTS with B-frames.

use std::sync::{Arc, Mutex};

use cvmmap_streamer::codec::{h264, h265, nal_units};
use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::encode::gst::GstEncoder;
use cvmmap_streamer::encode::{
    AccessUnit, AccessUnitSink, Codec, EncodeInput, EncoderSettings, VideoEncoder,
};
use cvmmap_streamer::ingest::{Form, Frame, VideoGeometry};
use cvmmap_streamer::telemetry::EncodeCounters;

const FRAME_NS: u64 = 33_333_333;

/// Encodes `n` frames of 320x240 BGR, forcing keyframes at `force`.
fn encode(codec: Codec, b_frames: u32, n: u64, force: &[u64]) -> Vec<AccessUnit> {
    encode_sizes(codec, b_frames, &[(320, 240, n)], force)
}

/// Encodes runs of frames of the given sizes, in order, with one encoder.
fn encode_sizes(
    codec: Codec,
    b_frames: u32,
    runs: &[(u32, u32, u64)],
    force: &[u64],
) -> Vec<AccessUnit> {
    let units = Arc::new(Mutex::new(Vec::new()));
    let sink: AccessUnitSink = {
        let units = units.clone();
        Arc::new(move |au| units.lock().unwrap().push(au))
    };
    let element = if codec == Codec::H264 {
        "x264enc"
    } else {
        "x265enc"
    };
    let settings = EncoderSettings {
        codec,
        gop: 30,
        b_frames,
        bitrate_kbps: 1000,
        preset: "ultrafast".into(),
    };
    let mut enc =
        GstEncoder::new(settings, element, sink, Arc::new(EncodeCounters::default())).unwrap();
    let sizes = runs
        .iter()
        .flat_map(|&(w, h, n)| std::iter::repeat_n((w, h), n as usize));
    for (i, (width, height)) in sizes.enumerate() {
        let i = i as u64;
        let geometry = VideoGeometry {
            pixel_format: PixelFormat::Bgr,
            width,
            height,
            stride: width as usize * 3,
        };
        let data = (0..geometry.plane_bytes())
            .map(|b| (b as u64 / 7 + i * 5) as u8)
            .collect::<Vec<u8>>()
            .into();
        let frame = Frame {
            frame_count: i as u32,
            capture_ts_ns: 1_000 + i * FRAME_NS,
            geometry,
            data,
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        };
        enc.encode(EncodeInput {
            frame,
            pts_ns: i * FRAME_NS,
            force_keyframe: force.contains(&i),
            frame_rate: None,
        })
        .unwrap();
    }
    enc.finish().unwrap();
    std::mem::take(&mut *units.lock().unwrap())
}

fn has_parameter_sets(codec: Codec, au: &[u8]) -> bool {
    match codec {
        Codec::H264 => h264::find_parameter_sets(au).is_complete(),
        Codec::H265 => h265::find_parameter_sets(au).is_complete(),
    }
}

fn keyframes_carry_parameter_sets_and_can_be_forced(codec: Codec) {
    let units = encode(codec, 0, 70, &[10]);
    assert_eq!(units.len(), 70);
    let keyframes: Vec<u64> = units
        .iter()
        .filter(|u| u.keyframe)
        .map(|u| u.pts_ns / FRAME_NS)
        .collect();
    // GOP 30 from frame 0, and the forced one at 10 (x264/x265 may restart the GOP there).
    assert!(
        keyframes.contains(&0) && keyframes.contains(&10),
        "{codec}: keyframes at {keyframes:?}"
    );
    assert!(keyframes.len() >= 3, "{codec}: keyframes at {keyframes:?}");
    for u in &units {
        assert!(nal_units(&u.data).count() > 0);
        if u.keyframe {
            assert!(
                has_parameter_sets(codec, &u.data),
                "{codec}: keyframe at {} lacks parameter sets",
                u.pts_ns
            );
        }
        // Capture timestamps travel with the units.
        assert_eq!(u.capture_ts_ns, 1_000 + u.pts_ns);
    }
}

#[test]
fn h264_keyframes_carry_parameter_sets_and_can_be_forced() {
    keyframes_carry_parameter_sets_and_can_be_forced(Codec::H264);
}

#[test]
fn h265_keyframes_carry_parameter_sets_and_can_be_forced() {
    keyframes_carry_parameter_sets_and_can_be_forced(Codec::H265);
}

fn b_frames_keep_pts_and_dts_consistent(codec: Codec) {
    let units = encode(codec, 2, 40, &[]);
    assert_eq!(units.len(), 40, "{codec}");
    // DTS strictly increases in output order; PTS is a permutation of the input.
    assert!(
        units.windows(2).all(|w| w[1].dts_ns > w[0].dts_ns),
        "{codec}: DTS not increasing"
    );
    let mut pts: Vec<u64> = units.iter().map(|u| u.pts_ns).collect();
    let reordered = pts.windows(2).any(|w| w[1] < w[0]);
    pts.sort_unstable();
    assert_eq!(
        pts,
        (0..40).map(|i| i * FRAME_NS).collect::<Vec<_>>(),
        "{codec}"
    );
    assert!(reordered, "{codec}: no B-frame reordering happened");
    assert!(
        units.iter().all(|u| u.dts_ns <= u.pts_ns as i64),
        "{codec}: DTS after PTS"
    );
}

#[test]
fn h264_b_frames_keep_pts_and_dts_consistent() {
    b_frames_keep_pts_and_dts_consistent(Codec::H264);
}

#[test]
fn h265_b_frames_keep_pts_and_dts_consistent() {
    b_frames_keep_pts_and_dts_consistent(Codec::H265);
}

/// A mid-stream resolution change reconfigures the same encoder: the first
/// unit after it is a keyframe carrying new parameter sets.
fn resolution_change_starts_with_new_parameter_sets(codec: Codec) {
    let units = encode_sizes(codec, 0, &[(320, 240, 12), (640, 480, 12)], &[]);
    assert_eq!(units.len(), 24, "{codec}");
    let first = &units[12];
    assert!(
        first.keyframe && has_parameter_sets(codec, &first.data),
        "{codec}: unit 12 is not a keyframe with parameter sets"
    );
    let sps = |au: &[u8]| match codec {
        Codec::H264 => h264::find_parameter_sets(au).sps.map(<[u8]>::to_vec),
        Codec::H265 => h265::find_parameter_sets(au).sps.map(<[u8]>::to_vec),
    };
    assert_ne!(
        sps(&units[0].data),
        sps(&first.data),
        "{codec}: the SPS did not change with the resolution"
    );
    assert!(
        units.windows(2).all(|w| w[1].pts_ns > w[0].pts_ns),
        "{codec}: timestamps went back"
    );
}

#[test]
fn h264_resolution_change_starts_with_new_parameter_sets() {
    resolution_change_starts_with_new_parameter_sets(Codec::H264);
}

#[test]
fn h265_resolution_change_starts_with_new_parameter_sets() {
    resolution_change_starts_with_new_parameter_sets(Codec::H265);
}
