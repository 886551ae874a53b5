use super::*;
use crate::contract::{EncodedCodec, PixelFormat};
use crate::ingest::EncodedPayload;
use crate::ingest::VideoGeometry;

const SPS: &[u8] = &[0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x95];
const PPS: &[u8] = &[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
const IDR: &[u8] = &[0, 0, 0, 1, 0x65, 0x88, 0x84];
const P: &[u8] = &[0, 0, 0, 1, 0x41, 0x9a, 0x02];

type Seen = Arc<Mutex<Vec<(&'static str, bool, Vec<u8>)>>>;

fn rig() -> (Passthrough, Seen, Arc<EncodeCounters>) {
    let seen: Seen = Arc::default();
    let sink: AccessUnitSink = {
        let seen = seen.clone();
        Arc::new(move |au: AccessUnit| {
            let who = if au.width == 1 { "producer" } else { "encoder" };
            seen.lock().unwrap().push((who, au.keyframe, au.data));
        })
    };
    let stats = Arc::new(EncodeCounters::default());
    (
        Passthrough::new(sink, Codec::H264, stats.clone()),
        seen,
        stats,
    )
}

fn producer(count: u32, keyframe: bool, data: &[u8]) -> Frame {
    Frame {
        frame_count: count,
        capture_ts_ns: u64::from(count),
        geometry: VideoGeometry {
            pixel_format: PixelFormat::Bgr,
            width: 1,
            height: 1,
            stride: 3,
        },
        data: Vec::new(),
        encoded: Some(EncodedPayload {
            codec: EncodedCodec::H264,
            keyframe,
            data: data.to_vec(),
        }),
        frame_rate: None,
    }
}

fn ours(keyframe: bool) -> AccessUnit {
    AccessUnit {
        codec: Codec::H264,
        data: if keyframe { IDR.to_vec() } else { P.to_vec() },
        pts_ns: 0,
        dts_ns: 0,
        keyframe,
        capture_ts_ns: 0,
        width: 2,
        height: 2,
        frame_rate: None,
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Issue 13, defect 6: a frame without a producer unit sent our encoder's
/// P-frames after the producer's IDR (and the producer's after ours), from
/// two threads in any order. The gate switches streams only at a keyframe
/// of the stream switched to.
#[test]
fn streams_switch_only_at_a_keyframe_of_the_new_stream() {
    let (mut pt, seen, stats) = rig();
    let enc = pt.encoder_sink();
    let s = EncodeCounters::default();
    pt.publish(producer(0, true, &cat(&[SPS, PPS, IDR])), 0, &s);
    pt.publish(producer(1, false, P), 1, &s);
    // A late unit of ours from before (the encoder's thread): held back.
    enc(ours(false));
    // Frame 2 comes raw: switch to our stream, with a forced keyframe.
    assert!(pt.on_raw_frame(), "the switch forces a keyframe");
    assert!(!pt.on_raw_frame(), "already on our stream");
    enc(ours(false)); // not our keyframe yet: held back
    enc(ours(true));
    enc(ours(false));
    // The producer's units return; a P-frame must wait for its keyframe.
    pt.publish(producer(5, false, P), 5, &s);
    enc(ours(false));
    pt.publish(producer(6, true, &cat(&[SPS, PPS, IDR])), 6, &s);
    enc(ours(false)); // ours after the switch back: held back
    pt.publish(producer(7, false, P), 7, &s);
    let order: Vec<(&str, bool)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(w, k, _)| (*w, *k))
        .collect();
    assert_eq!(
        order,
        [
            ("producer", true),
            ("producer", false),
            ("encoder", true),
            ("encoder", false),
            ("encoder", false),
            ("producer", true),
            ("producer", false),
        ]
    );
    assert_eq!(stats.snapshot().passthrough_skipped, 3, "ours held back");
}

/// Issue 13, defect 6: a producer that sends SPS/PPS once never yielded an
/// RTMP sequence header or SDP sprop for a later keyframe.
#[test]
fn parameter_sets_sent_once_are_put_in_front_of_later_keyframes() {
    let (mut pt, seen, _) = rig();
    let s = EncodeCounters::default();
    pt.publish(producer(0, true, &cat(&[SPS, PPS, IDR])), 0, &s);
    pt.publish(producer(1, false, P), 1, &s);
    pt.publish(producer(2, true, IDR), 2, &s);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[2].2, cat(&[SPS, PPS, IDR]));
    assert_eq!(seen[1].2, P, "P-frames untouched");
}
