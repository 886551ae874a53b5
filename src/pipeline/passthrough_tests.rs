use super::*;
use crate::contract::{EncodedCodec, PixelFormat};
use crate::flv::test_support::H264_SPS_REORDER_1;
use crate::ingest::EncodedPayload;
use crate::ingest::{Form, VideoGeometry};

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
            seen.lock()
                .unwrap()
                .push((who, au.keyframe, au.data.to_vec()));
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
        data: Default::default(),
        form: Form::Raw,
        stamps: None,
        encoded: Some(EncodedPayload {
            codec: EncodedCodec::H264,
            keyframe,
            stream_pts_ns: u64::from(count) * 1_000_000,
            data: data.to_vec(),
        }),
        frame_rate: None,
        aux: None,
    }
}

fn ours(keyframe: bool) -> AccessUnit {
    AccessUnit {
        codec: Codec::H264,
        data: bytes::Bytes::from_static(if keyframe { IDR } else { P }),
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

/// Issue 13, defect 6: passthrough set DTS = PTS = the time of the frame
/// that carried each unit, so a producer's B-frames went out with decode
/// order as presentation order and no composition offset.
#[test]
fn producer_b_frames_keep_presentation_order_with_dts_before_pts() {
    type Times = Arc<Mutex<Vec<(u64, i64)>>>;
    let times: Times = Arc::default();
    let sink: AccessUnitSink = {
        let times = times.clone();
        Arc::new(move |au: AccessUnit| times.lock().unwrap().push((au.pts_ns, au.dts_ns)))
    };
    let stats = Arc::new(EncodeCounters::default());
    let mut pt = Passthrough::new(sink, Codec::H264, stats.clone());
    // x264 bframes=2 without pyramid: its SPS says max_num_reorder_frames 1.
    let sps = cat(&[&[0, 0, 0, 1], H264_SPS_REORDER_1]);
    const F: u64 = 40_000_000;
    const T0: u64 = 1_000_000_000;
    let decode_order = [0u64, 3, 1, 2, 6, 4, 5];
    for (i, &picture) in decode_order.iter().enumerate() {
        let keyframe = i == 0;
        let data = if keyframe {
            cat(&[&sps, PPS, IDR])
        } else {
            P.to_vec()
        };
        let mut frame = producer(i as u32, keyframe, &data);
        frame.encoded.as_mut().unwrap().stream_pts_ns = 7_000_000_000 + picture * F;
        frame.frame_rate = Some((25, 1));
        pt.publish(frame, T0 + i as u64 * F, &stats);
    }
    let times = times.lock().unwrap();
    let presented: Vec<u64> = times.iter().map(|t| (t.0 - T0) / F).collect();
    assert_eq!(
        presented, decode_order,
        "PTS follow the producer's stream times"
    );
    for w in times.windows(2) {
        assert!(w[1].1 > w[0].1, "DTS rise: {times:?}");
    }
    for t in times.iter() {
        assert!(t.1 <= t.0 as i64, "DTS not after PTS: {times:?}");
    }
    assert!(times[1].1 < times[1].0 as i64, "P3 decodes before it shows");
    assert_eq!(stats.snapshot().passthrough_dts_adjusted, 0);
}
