//! `--decode` and `--dump-units` with real encoded access units: the test
//! encodes a few frames with GStreamer (x264enc / x265enc), packetizes them
//! with its own packetizer (`common::rtp`) and sends them to the receiver,
//! which must reassemble, dump byte-identical units and decode every frame.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use common::receiver::{free_port_pair, start, start_raw};
use common::rtp::{Kind, Packetizer, join_annex_b, split_annex_b};
use common::unique;

const FRAMES: usize = 5;
const SSRC: u32 = 0x0DEC_0DE5;

/// `frames` access units (Annex-B) of a moving test pattern.
fn encode(kind: Kind, width: u32, height: u32, frames: usize) -> Vec<Vec<u8>> {
    gst::init().unwrap();
    let enc = match kind {
        Kind::H264 => {
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 \
             byte-stream=true ! video/x-h264,stream-format=byte-stream,alignment=au"
        }
        Kind::H265 => {
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
             option-string=repeat-headers=1 ! video/x-h265,stream-format=byte-stream,alignment=au"
        }
    };
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=ball \
         ! video/x-raw,format=I420,width={width},height={height},framerate=30/1 \
         ! {enc} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut units = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(20)) {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        units.push(map.as_slice().to_vec());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(units.len(), frames, "encoder output");
    units
}

fn nal_type(kind: Kind, nal: &[u8]) -> u8 {
    match kind {
        Kind::H264 => nal[0] & 0x1F,
        Kind::H265 => (nal[0] >> 1) & 0x3F,
    }
}

/// RTP packets (MTU 300, so keyframes are fragmented) of NAL-unit lists.
fn packetize(kind: Kind, pt: u8, units: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut p = Packetizer::new(kind, pt, SSRC, 40_000, 300);
    p.aggregate = true;
    units
        .iter()
        .enumerate()
        .flat_map(|(k, nals)| p.packetize(7_000 + 3_000 * k as u32, nals))
        .collect()
}

struct TempFile(std::path::PathBuf);
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Splits a `--dump-units` file into its records.
fn dump_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(bytes[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
}

fn decode_and_dump(kind: Kind, width: u32, height: u32) {
    let units: Vec<Vec<Vec<u8>>> = encode(kind, width, height, FRAMES)
        .iter()
        .map(|au| split_annex_b(au))
        .collect();
    let dump = TempFile(format!("/tmp/{}.units", unique("cvmt_dump_")).into());
    let codec = match kind {
        Kind::H264 => "h264",
        Kind::H265 => "h265",
    };
    let frames = FRAMES.to_string();
    let mut rx = start(&[
        "--expect-codec",
        codec,
        "--decode",
        "--strict",
        "--frame-threshold",
        &frames,
        "--dump-units",
        dump.0.to_str().unwrap(),
        "--timeout-ms",
        "20000",
    ]);
    rx.send(&packetize(kind, 96, &units));
    let (status, j) = rx.finish(Duration::from_secs(40));
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["codec"], codec);
    assert_eq!(j["access_units_complete"], FRAMES);
    assert_eq!(j["parameter_sets_before_first_keyframe"], true, "{j}");
    assert_eq!(j["decoder_units_fed"], FRAMES);
    assert_eq!(j["decoded_frames"], FRAMES, "{j}");
    assert_eq!(j["decoded_format"], "I420");
    assert_eq!(
        (j["decoded_width"].as_u64(), j["decoded_height"].as_u64()),
        (Some(u64::from(width)), Some(u64::from(height)))
    );
    assert!(j["decode_error"].is_null(), "{j}");
    assert_eq!(j["dumped_units"], FRAMES);
    let records = dump_records(&std::fs::read(&dump.0).unwrap());
    let expected: Vec<Vec<u8>> = units.iter().map(|n| join_annex_b(n)).collect();
    assert_eq!(records, expected, "dumped units are the sent NAL units");
}

#[test]
fn decode_h264_encoded_by_x264() {
    decode_and_dump(Kind::H264, 80, 48);
}

#[test]
fn decode_h265_encoded_by_x265() {
    decode_and_dump(Kind::H265, 64, 64);
}

#[test]
fn decode_h264_with_parameter_sets_only_in_the_sdp() {
    let units = encode(Kind::H264, 64, 48, FRAMES);
    let mut sprop = Vec::new();
    let stripped: Vec<Vec<Vec<u8>>> = units
        .iter()
        .map(|au| {
            split_annex_b(au)
                .into_iter()
                .filter(|n| {
                    let ps = matches!(nal_type(Kind::H264, n), 7 | 8);
                    if ps && sprop.len() < 2 {
                        sprop.push(STANDARD.encode(n));
                    }
                    !ps
                })
                .collect()
        })
        .collect();
    assert_eq!(sprop.len(), 2, "x264enc wrote SPS and PPS");
    let port = free_port_pair();
    let sdp = TempFile(format!("/tmp/{}.sdp", unique("cvmt_")).into());
    std::fs::write(
        &sdp.0,
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=t\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=video {port} RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n\
             a=fmtp:97 packetization-mode=1;sprop-parameter-sets={}\r\n",
            sprop.join(",")
        ),
    )
    .unwrap();
    let frames = FRAMES.to_string();
    let mut rx = start_raw(
        port,
        &[
            "--sdp",
            sdp.0.to_str().unwrap(),
            "--decode",
            "--strict",
            "--frame-threshold",
            &frames,
            "--timeout-ms",
            "20000",
        ],
    );
    rx.send(&packetize(Kind::H264, 97, &stripped));
    let (status, j) = rx.finish(Duration::from_secs(40));
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(
        (j["expected_pt"].as_u64(), j["sdp_parameter_sets"].as_u64()),
        (Some(97), Some(2))
    );
    assert_eq!(j["parameter_sets_before_first_keyframe"], true);
    assert_eq!(j["decoded_frames"], FRAMES, "{j}");
    assert_eq!(j["decoded_format"], "I420");
    assert_eq!(
        (j["decoded_width"].as_u64(), j["decoded_height"].as_u64()),
        (Some(64), Some(48))
    );
}

#[test]
fn without_parameter_sets_nothing_decodes() {
    // Negative control: the decoded frame count comes from the decoder.
    let units: Vec<Vec<Vec<u8>>> = encode(Kind::H264, 64, 48, FRAMES)
        .iter()
        .map(|au| {
            split_annex_b(au)
                .into_iter()
                .filter(|n| !matches!(nal_type(Kind::H264, n), 7 | 8))
                .collect()
        })
        .collect();
    let frames = FRAMES.to_string();
    let mut rx = start(&[
        "--decode",
        "--frame-threshold",
        &frames,
        "--timeout-ms",
        "20000",
    ]);
    rx.send(&packetize(Kind::H264, 96, &units));
    let (status, j) = rx.finish(Duration::from_secs(40));
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["parameter_sets_before_first_keyframe"], false);
    assert_eq!(j["decoder_units_fed"], FRAMES);
    assert_eq!(j["decoded_frames"], 0, "{j}");
    assert!(j["decoded_format"].is_null());
}
