//! Writes the seed corpora under `fuzz/corpus/<target>/` from real data:
//! H.264 / H.265 access units encoded by GStreamer (`videotestsrc` ->
//! `x264enc` / `x265enc`, as the streamer's encoder and the simulator do),
//! and every wire format built by the crates' own writers: metadata blocks
//! and sync messages by the contract offsets, RTMP chunks with
//! `rtmp::ChunkWriter`, AMF0 with both encoders, FLV tags with `flv::*`,
//! RTP packets with `rtp::RtpPacketizer`, SDP with `rtp::SdpParams`, RTCP
//! with `rtp::rtcp`, SEI with `codec::sei`, protobuf with prost.
//!
//! Run from the repository root (see fuzz/README.md):
//!
//! ```text
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/corpus
//! ```
//!
//! Output is deterministic except for the encoders' bytes; existing files
//! of the same name are overwritten, others are left alone.

use std::convert::Infallible;
use std::fs;
use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use prost::Message as _;

use cvmmap_fuzz::push_record;
use cvmmap_streamer::codec::sei::{
    BODY_TRACKING_UUID, append_user_data_nal, insert_before_first_vcl,
};
use cvmmap_streamer::codec::{h264, h265, nal_units};
use cvmmap_streamer::contract::SyncMessage;
use cvmmap_streamer::flv::{VideoTagForm, avc, domestic, enhanced};
use cvmmap_streamer::nats::proto;
use cvmmap_streamer::rtmp::amf0::{self, Value};
use cvmmap_streamer::rtmp::message::{self as rtmp_message, csid};
use cvmmap_streamer::rtmp::{
    ChunkWriter, ConnectParams, Message, MessageType, UserControlEvent, command,
};
use cvmmap_streamer::rtp::rtcp::{SenderReport, write_bye, write_sender_report};
use cvmmap_streamer::rtp::{
    H264Payloader, H265Payloader, PacketizerConfig, Payloader, RtpPacketizer, SdpCodec, SdpParams,
};
use cvmmap_testers::rtmp_stub::amf0 as stub_amf0;

struct Out {
    root: PathBuf,
    files: usize,
    bytes: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("corpus directory");
        fs::write(dir.join(name), data).expect("seed file");
        self.files += 1;
        self.bytes += data.len();
    }
}

/// Encoded access units, one per frame: 6 frames of 64x64 `ball`, keyframe
/// every 3 frames, AUD on, no B-frames.
fn encode(hevc: bool) -> Vec<Vec<u8>> {
    gst::init().expect("GStreamer init");
    let (enc, caps) = if hevc {
        (
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=3 \
             option-string=\"bframes=0:repeat-headers=1:aud=1\"",
            "video/x-h265,stream-format=byte-stream,alignment=au",
        )
    } else {
        (
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=3 bframes=0 \
             byte-stream=true aud=true",
            "video/x-h264,stream-format=byte-stream,alignment=au",
        )
    };
    let desc = format!(
        "videotestsrc num-buffers=6 pattern=ball ! video/x-raw,width=64,height=64,framerate=30/1 \
         ! videoconvert ! video/x-raw,format=I420 ! {enc} ! {caps} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("sink")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("an appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut aus = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().expect("buffer");
        aus.push(buffer.map_readable().expect("readable").to_vec());
    }
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(aus.len() >= 4, "encoder gave {} access units", aus.len());
    aus
}

fn u32le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A 256-byte metadata block (contract section 2 offsets).
struct Meta([u8; 256]);

impl Meta {
    fn new(major: u8, minor: u8) -> Self {
        let mut m = Self([0; 256]);
        m.0[..8].copy_from_slice(b"CV-MMAP\0");
        m.0[8] = major;
        m.0[9] = minor;
        m
    }
    fn put(&mut self, at: usize, v: &[u8]) -> &mut Self {
        self.0[at..at + v.len()].copy_from_slice(v);
        self
    }
    /// v2 plane descriptor of `slot`.
    #[allow(clippy::too_many_arguments)]
    fn desc(
        &mut self,
        slot: usize,
        plane_type: u8,
        fmt: u8,
        depth: u8,
        w: u32,
        h: u32,
        stride: u32,
        offset: u32,
        size: u32,
    ) -> &mut Self {
        let at = 64 + 24 * slot;
        self.put(at, &[plane_type, fmt, depth, 0]);
        for (k, v) in [w, h, stride, offset, size].into_iter().enumerate() {
            self.put(at + 4 + 4 * k, &u32le(v));
        }
        self
    }
    fn v2_header(minor: u8, plane_count: u8, mask: u8, payload: u32) -> Self {
        let mut m = Self::new(2, minor);
        m.put(0x0C, &u32le(9))
            .put(0x10, &2_000_000_009u64.to_le_bytes())
            .put(0x18, &11u64.to_le_bytes())
            .put(0x20, &[plane_count, mask])
            .put(0x22, &64u16.to_le_bytes())
            .put(0x24, &24u16.to_le_bytes())
            .put(0x26, &4u16.to_le_bytes())
            .put(0x28, &u32le(payload));
        m
    }
    /// The block followed by the shm size the target maps.
    fn with_shm(&self, shm: u32) -> Vec<u8> {
        let mut v = self.0.to_vec();
        v.extend_from_slice(&u32le(shm));
        v
    }
}

fn metadata_seeds(out: &mut Out, h264_key_len: u32) {
    const BGR: u8 = 1;
    const GRAY: u8 = 4;
    const F32: u8 = 5;
    let shm = 256 + 4096;
    // v1 BGR8 8x4 (the reference dummy producer).
    let mut v1 = Meta::new(1, 0);
    v1.put(0x0C, &u32le(7))
        .put(0x10, &1_000_000_007u64.to_le_bytes())
        .put(0x18, &8u16.to_le_bytes())
        .put(0x1A, &4u16.to_le_bytes())
        .put(0x1C, &[3, 0, BGR])
        .put(0x20, &u32le(96));
    out.put("contract_metadata", "v1_bgr8", &v1.with_shm(shm));
    out.put(
        "contract_metadata",
        "v1_bgr8_segment_too_small",
        &v1.with_shm(300),
    );
    // v2.0 LEFT only.
    let mut m = Meta::v2_header(0, 1, 0b0001, 128);
    m.desc(0, 0, BGR, 0, 8, 4, 32, 0, 128);
    out.put("contract_metadata", "v2_0_left", &m.with_shm(shm));
    // v2.0 LEFT + DEPTH + CONFIDENCE, depth in millimetres.
    let mut m = Meta::v2_header(0, 3, 0b0111, 384);
    m.put(0x2C, &[1])
        .desc(0, 0, BGR, 0, 8, 4, 32, 0, 128)
        .desc(1, 1, GRAY, F32, 8, 4, 32, 128, 128)
        .desc(2, 2, GRAY, F32, 8, 4, 32, 256, 128);
    out.put("contract_metadata", "v2_0_three_planes", &m.with_shm(shm));
    // v2.1 LEFT + an H.264 keyframe access unit of the real encoder's size.
    let payload = 128 + h264_key_len;
    let mut m = Meta::v2_header(1, 2, 0b1001, payload);
    m.put(0x2D, &[1, 1])
        .put(0x2F, &1u16.to_le_bytes())
        .put(0x31, &30u16.to_le_bytes())
        .put(0x33, &1u16.to_le_bytes())
        .put(0x35, &33_333_333u64.to_le_bytes())
        .desc(0, 0, BGR, 0, 8, 4, 32, 0, 128)
        .desc(
            3,
            3,
            GRAY,
            0,
            h264_key_len,
            1,
            h264_key_len,
            128,
            h264_key_len,
        );
    out.put(
        "contract_metadata",
        "v2_1_encoded_h264",
        &m.with_shm(256 + payload + 64),
    );
}

fn body_message(frame_count: u32, timestamp_ns: u64, bodies: u16, label: &str) -> Vec<u8> {
    let mut m = vec![0u8; 64 + usize::from(bodies) * 3248];
    m[0] = 0x62;
    m[2] = 1;
    m[4..8].copy_from_slice(&frame_count.to_le_bytes());
    m[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
    m[16..24].copy_from_slice(&(timestamp_ns - 1000).to_le_bytes());
    m[24..26].copy_from_slice(&bodies.to_le_bytes());
    m[26..28].copy_from_slice(&3248u16.to_le_bytes());
    m[36..40].copy_from_slice(&(u32::from(bodies) * 3248).to_le_bytes());
    m[40..40 + label.len()].copy_from_slice(label.as_bytes());
    for (i, b) in m[64..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    m
}

fn contract_seeds(out: &mut Out) {
    let sync = SyncMessage::new(42, 123_456_789, "camera_0").expect("label");
    out.put("contract_sync", "camera_0", &sync.to_bytes());
    let long = SyncMessage::new(7, u64::MAX, "abcdefghijklmnopqrstuvw").expect("label");
    out.put("contract_sync", "label_23", &long.to_bytes());
    let mut status = [0u8; 48];
    status[0] = 0x5A;
    out.put("contract_sync", "legacy_status", &status);

    let mut b = vec![0u8];
    b.extend(body_message(42, 123_456_789, 0, "camera_0"));
    out.put("contract_body", "no_bodies", &b);
    let mut b = vec![1u8];
    b.extend(body_message(43, 156_789_012, 1, "cam"));
    out.put("contract_body", "one_body", &b);

    for (name, text) in [
        ("bare", "camera_0"),
        ("uri", "cvmmap://camera_0"),
        ("prefix_ns", "cvmmap://cam@/tmp/cvmmap?namespace=prod"),
        (
            "trailing_slash",
            "cvmmap://a.b-c_d@/run/user/1000/?namespace=x",
        ),
    ] {
        out.put("contract_target", name, text.as_bytes());
    }

    let ev = proto::ModuleStatusEvent {
        status: proto::ModuleStatusCode::Online as i32,
        instance: "camera_0".into(),
        timestamp_ns: 1_700_000_000_000_000_000,
    };
    out.put("nats_proto", "status_online", &ev.encode_to_vec());
    let ev = proto::ModuleStatusEvent {
        status: proto::ModuleStatusCode::StreamReset as i32,
        instance: "cam".into(),
        timestamp_ns: 5,
    };
    out.put("nats_proto", "status_reset", &ev.encode_to_vec());
    let info = proto::GetSourceInfoResponse {
        error: 0,
        source_kind: proto::SourceKind::Finite as i32,
        timestamp_domain: proto::TimestampDomain::MediaTimeNs as i32,
        flags: proto::source_flags::CAN_SEEK | proto::source_flags::HAS_BODY,
        timeline_start_ns: 1,
        timeline_end_ns: 10_000_000_000,
        duration_ns: 9_999_999_999,
        current_timestamp_ns: 5_000_000_000,
        current_frame_count: 150,
    };
    let mut bytes = info.encode_to_vec();
    out.put("nats_proto", "source_info", &bytes);
    bytes.extend_from_slice(&[0xa0, 0x01, 7]); // a newer producer's field 20
    out.put("nats_proto", "source_info_unknown_field", &bytes);
    out.put("nats_proto", "empty_request", &[]);
}

fn chunks(messages: &[(u32, Message)], chunk_size: Option<u32>) -> Vec<u8> {
    let mut w = ChunkWriter::new();
    let mut wire = Vec::new();
    if let Some(size) = chunk_size {
        w.write_message(
            csid::PROTOCOL_CONTROL,
            &rtmp_message::set_chunk_size(size),
            &mut wire,
        )
        .expect("write");
        w.set_chunk_size(size).expect("size");
    }
    for (cs, m) in messages {
        w.write_message(*cs, m, &mut wire).expect("write");
    }
    wire
}

fn amf(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    amf0::encode_all(values, &mut out);
    out
}

fn obj(props: &[(&str, Value)]) -> Value {
    Value::Object(
        props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// What a server sends a publisher, from S2 on (nginx-rtmp / SRS order).
fn server_replies() -> Vec<(u32, Message)> {
    let cmd = |stream_id: u32, values: &[Value]| {
        Message::new(MessageType::COMMAND_AMF0, stream_id, 0, amf(values))
    };
    let mut bw = 2_500_000u32.to_be_bytes().to_vec();
    bw.push(2);
    vec![
        (2, rtmp_message::window_ack_size(2_500_000)),
        (2, Message::new(MessageType::SET_PEER_BANDWIDTH, 0, 0, bw)),
        (2, rtmp_message::set_chunk_size(4096)),
        (
            3,
            cmd(
                0,
                &[
                    Value::string("_result"),
                    Value::Number(1.0),
                    obj(&[
                        ("fmsVer", Value::string("FMS/3,0,1,123")),
                        ("capabilities", Value::Number(31.0)),
                    ]),
                    obj(&[
                        ("level", Value::string("status")),
                        ("code", Value::string("NetConnection.Connect.Success")),
                        ("description", Value::string("Connection succeeded.")),
                        ("objectEncoding", Value::Number(0.0)),
                    ]),
                ],
            ),
        ),
        (
            3,
            cmd(
                0,
                &[Value::string("onBWDone"), Value::Number(0.0), Value::Null],
            ),
        ),
        (
            3,
            cmd(
                0,
                &[
                    Value::string("_result"),
                    Value::Number(4.0),
                    Value::Null,
                    Value::Number(1.0),
                ],
            ),
        ),
        (2, UserControlEvent::StreamBegin(1).to_message()),
        (
            5,
            cmd(
                1,
                &[
                    Value::string("onStatus"),
                    Value::Number(0.0),
                    Value::Null,
                    obj(&[
                        ("level", Value::string("status")),
                        ("code", Value::string("NetStream.Publish.Start")),
                        ("description", Value::string("cam is now published.")),
                    ]),
                ],
            ),
        ),
        (2, UserControlEvent::PingRequest(123_456).to_message()),
        (2, rtmp_message::acknowledgement(2_500_000)),
    ]
}

/// What our publisher sends after the handshake, with `form`'s video tags.
fn publisher_messages(form: VideoTagForm, aus: &[Vec<u8>]) -> Vec<(u32, Message)> {
    let hevc = form != VideoTagForm::Avc;
    let mut params = ConnectParams::new("live", "rtmp://127.0.0.1:1935/live");
    if form == VideoTagForm::EnhancedHvc1 {
        params.four_cc_list = Some(vec!["hvc1".into()]);
    }
    let mut msgs = vec![
        (3, command::connect(1.0, &params)),
        (3, command::release_stream(2.0, "cam")),
        (3, command::fc_publish(3.0, "cam")),
        (3, command::create_stream(4.0)),
        (3, command::publish(5.0, 1, "cam")),
        (
            5,
            command::set_data_frame(
                1,
                &[
                    ("width", Value::Number(64.0)),
                    ("height", Value::Number(64.0)),
                    ("framerate", Value::Number(30.0)),
                    (
                        "videocodecid",
                        Value::Number(form.videocodecid_for_metadata()),
                    ),
                ],
            ),
        ),
    ];
    let header = if hevc {
        let ps = h265::find_parameter_sets(&aus[0]);
        let (vps, sps, pps) = (
            ps.vps.expect("VPS"),
            ps.sps.expect("SPS"),
            ps.pps.expect("PPS"),
        );
        match form {
            VideoTagForm::EnhancedHvc1 => enhanced::sequence_start(vps, sps, pps),
            _ => domestic::sequence_header(vps, sps, pps),
        }
    } else {
        let ps = h264::find_parameter_sets(&aus[0]);
        avc::sequence_header(ps.sps.expect("SPS"), ps.pps.expect("PPS"))
    }
    .expect("sequence header");
    msgs.push((6, Message::new(MessageType::VIDEO, 1, 0, header)));
    for (i, au) in aus.iter().take(3).enumerate() {
        let mut body = Vec::new();
        let key = i % 3 == 0;
        match form {
            VideoTagForm::Avc => avc::coded_frame(au, key, 0, &mut body),
            VideoTagForm::DomesticHevc12 => domestic::coded_frame(au, key, 0, &mut body),
            VideoTagForm::EnhancedHvc1 => {
                enhanced::coded_frame_auto(au, key, 0, &mut body);
            }
        }
        msgs.push((6, Message::new(MessageType::VIDEO, 1, 33 * i as u32, body)));
    }
    msgs
}

fn rtmp_seeds(out: &mut Out, h264: &[Vec<u8>], h265: &[Vec<u8>]) {
    // Handshake: S0, S1, S2, then the first chunks.
    let replies = chunks(&server_replies(), None);
    let mut s = vec![3u8];
    s.extend((0..1536).map(|i| (i * 7 % 256) as u8));
    s.extend((0..1536).map(|i| (i * 13 % 256) as u8));
    s.extend_from_slice(&replies[..64]);
    let mut seed = vec![0u8];
    seed.extend_from_slice(&s);
    out.put("rtmp_handshake", "s0_s1_s2_leftover", &seed);
    let mut seed = vec![3u8, 200, 17, 1];
    seed.extend_from_slice(&s);
    out.put("rtmp_handshake", "split_reads", &seed);

    // Server replies as the chunk reader sees them.
    let mut seed = vec![0u8, 0];
    seed.extend_from_slice(&replies);
    out.put("rtmp_chunk_reader", "server_replies", &seed);
    let mut seed = vec![3u8, 1, 5, 64, 0];
    seed.extend_from_slice(&replies);
    out.put("rtmp_chunk_reader", "server_replies_split", &seed);
    let mut late = server_replies();
    for (i, (_, m)) in late.iter_mut().enumerate() {
        m.header.timestamp = 0x00FF_FFF0 + 40 * i as u32; // extended timestamps
    }
    let mut seed = vec![0u8, 0];
    seed.extend(chunks(&late, None));
    out.put("rtmp_chunk_reader", "extended_timestamps", &seed);

    // Chunking round trip: our video messages.
    for (name, form, aus, size) in [
        ("avc_4096", VideoTagForm::Avc, h264, 4096u32),
        ("hevc_128", VideoTagForm::EnhancedHvc1, h265, 127),
    ] {
        let mut seed = size.to_be_bytes().to_vec();
        seed.extend_from_slice(&[7, 40]);
        for (i, (cs, m)) in publisher_messages(form, aus).into_iter().enumerate() {
            let pick = match cs {
                3 => 0u8,
                5 => 2,
                _ => 3,
            };
            let mut rec = vec![pick, m.header.type_id.0, m.header.stream_id as u8];
            let ts = if i == 8 {
                0x0100_0000
            } else {
                m.header.timestamp
            };
            rec.extend_from_slice(&ts.to_be_bytes());
            rec.extend_from_slice(&m.payload);
            push_record(&mut seed, &rec);
        }
        out.put("rtmp_chunk_roundtrip", name, &seed);
    }

    // AMF0 bodies: our commands, a server's replies, the rarer types.
    let mut params = ConnectParams::new("live", "rtmp://example.com:1935/live");
    params.four_cc_list = Some(vec!["hvc1".into()]);
    out.put(
        "rtmp_amf0",
        "connect",
        &command::connect(1.0, &params).payload,
    );
    out.put(
        "rtmp_amf0",
        "publish",
        &command::publish(5.0, 1, "cam?key=1").payload,
    );
    let meta = publisher_messages(VideoTagForm::Avc, h264);
    out.put("rtmp_amf0", "set_data_frame", &meta[5].1.payload);
    out.put(
        "rtmp_amf0",
        "result_connect",
        &server_replies()[3].1.payload,
    );
    out.put(
        "rtmp_amf0",
        "rare_types",
        &amf(&[
            Value::Date {
                millis: 1.7e12,
                time_zone: 0,
            },
            Value::LongString("long".into()),
            Value::XmlDocument("<a/>".into()),
            Value::TypedObject {
                class_name: "Cls".into(),
                properties: vec![("k".into(), Value::Reference(1))],
            },
            Value::StrictArray(vec![
                Value::Boolean(true),
                Value::Undefined,
                Value::Unsupported,
            ]),
        ]),
    );

    // Single messages: type id + payload.
    let replies = server_replies();
    let mut put_msg = |name: &str, m: &Message| {
        let mut seed = vec![m.header.type_id.0];
        seed.extend_from_slice(&m.payload);
        out.put("rtmp_messages", name, &seed);
    };
    put_msg("window_ack_size", &replies[0].1);
    put_msg("set_peer_bandwidth", &replies[1].1);
    put_msg("set_chunk_size", &replies[2].1);
    put_msg("result_connect", &replies[3].1);
    put_msg("on_bw_done", &replies[4].1);
    put_msg("result_create_stream", &replies[5].1);
    put_msg("stream_begin", &replies[6].1);
    put_msg("on_status", &replies[7].1);
    put_msg("ping_request", &replies[8].1);
    put_msg("abort", &rtmp_message::abort(6));
    put_msg(
        "set_buffer_length",
        &UserControlEvent::SetBufferLength {
            stream_id: 1,
            millis: 3000,
        }
        .to_message(),
    );
    let mut amf3 = vec![0u8];
    amf3.extend(amf(&[
        Value::string("_error"),
        Value::Number(5.0),
        Value::Null,
        obj(&[
            ("level", Value::string("error")),
            ("code", Value::string("NetStream.Publish.BadName")),
        ]),
    ]));
    put_msg(
        "error_amf3",
        &Message::new(MessageType::COMMAND_AMF3, 0, 0, amf3),
    );

    for (name, url) in [
        ("basic", "rtmp://example.com/live/cam1"),
        ("ipv6_port", "rtmp://[::1]:1936/live/s"),
        (
            "nested_query",
            "RTMP://10.0.0.2:19350/a/b/key?token=x/y&z=1",
        ),
        ("missing_stream", "rtmp://h/live"),
    ] {
        out.put("rtmp_url", name, url.as_bytes());
    }
}

fn packetize(
    hevc: bool,
    aggregate: bool,
    mtu: usize,
    au: &[u8],
    ts: u32,
    seq: u16,
) -> Vec<Vec<u8>> {
    let mut p = RtpPacketizer::new(PacketizerConfig {
        payload_type: 96,
        ssrc: 0x1234_5678,
        initial_seq: seq,
        mtu,
    })
    .expect("config");
    let mut payloader: Box<dyn Payloader> = if hevc {
        Box::new(H265Payloader::new(aggregate))
    } else {
        Box::new(H264Payloader::new(aggregate))
    };
    let mut packets = Vec::new();
    p.packetize(payloader.as_mut(), au, ts, |pkt| {
        packets.push(pkt.to_vec());
        Ok::<_, Infallible>(())
    })
    .expect("packetize");
    packets
}

fn codec_seeds(out: &mut Out, h264: &[Vec<u8>], h265: &[Vec<u8>]) {
    out.put("codec_annexb", "h264_key", &h264[0]);
    out.put("codec_annexb", "h264_p", &h264[1]);
    out.put("codec_annexb", "h265_key", &h265[0]);
    out.put("codec_annexb", "h265_p", &h265[1]);
    // 3-byte start codes and trailing zeros.
    let mixed: Vec<u8> = nal_units(&h264[0])
        .flat_map(|n| [&[0u8, 0, 1][..], n, &[0, 0][..]].concat())
        .collect();
    out.put("codec_annexb", "h264_key_3byte_codes", &mixed);

    for (name, hevc, au) in [("h264", false, &h264[0]), ("h265", true, &h265[0])] {
        let mut seed = vec![u8::from(hevc)];
        push_record(&mut seed, &body_message(42, 123_456_789, 0, "camera_0"));
        seed.extend_from_slice(au);
        out.put("codec_sei_roundtrip", name, &seed);
    }

    // Sequence headers from keyframes, and parameter sets as records.
    for (name, flags, au) in [("h264_key", 0u8, &h264[0]), ("h265_key", 1, &h265[0])] {
        let mut seed = vec![flags];
        seed.extend_from_slice(au);
        out.put("flv_sequence_header", name, &seed);
    }
    let ps = h264::find_parameter_sets(&h264[0]);
    let mut seed = vec![2u8];
    push_record(&mut seed, &[]);
    push_record(&mut seed, ps.sps.expect("SPS"));
    push_record(&mut seed, ps.pps.expect("PPS"));
    out.put("flv_sequence_header", "h264_records", &seed);
    let ps = h265::find_parameter_sets(&h265[0]);
    let mut seed = vec![3u8];
    push_record(&mut seed, ps.vps.expect("VPS"));
    push_record(&mut seed, ps.sps.expect("SPS"));
    push_record(&mut seed, ps.pps.expect("PPS"));
    out.put("flv_sequence_header", "h265_records", &seed);

    for (name, form, key, cts, au) in [
        ("avc_key", 0u8, 1u8, 0i32, &h264[0]),
        ("avc_p_cts", 0, 0, 66, &h264[1]),
        ("domestic_key", 1, 1, 0, &h265[0]),
        ("enhanced_p_cts", 2, 0, -33, &h265[1]),
        ("enhanced_x_key", 3, 1, 0, &h265[0]),
        ("enhanced_auto", 4, 0, 0, &h265[2]),
    ] {
        let mut seed = vec![form, key];
        seed.extend_from_slice(&cts.to_be_bytes());
        seed.extend_from_slice(au);
        out.put("flv_coded_frame", name, &seed);
    }

    for (name, flags, mtu, au) in [
        ("h264_key_stap_fu", 2u8, 200u16, &h264[0]),
        ("h264_p_single", 0, 1400, &h264[1]),
        ("h265_key_ap_fu", 3, 150, &h265[0]),
        ("h265_p", 1, 1400, &h265[1]),
    ] {
        let mut seed = vec![flags];
        seed.extend_from_slice(&(mtu - 64).to_be_bytes());
        seed.push(0);
        seed.extend_from_slice(&65_530u16.to_be_bytes());
        seed.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        seed.extend_from_slice(&0xffff_f000u32.to_be_bytes());
        seed.extend_from_slice(au);
        out.put("rtp_packetize_roundtrip", name, &seed);
    }

    for (name, flags, au) in [
        ("h264_ipv4", 0u8, &h264[0]),
        ("h264_multicast", 4, &h264[0]),
        ("h265_ipv6", 3, &h265[0]),
        ("h264_no_parameter_sets", 0, &h264[1]),
    ] {
        let mut seed = vec![flags];
        seed.extend_from_slice(&5004u16.to_be_bytes());
        seed.push(0);
        seed.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_be_bytes());
        seed.extend_from_slice(au);
        out.put("rtp_sdp_roundtrip", name, &seed);
    }

    let mut seed = Vec::new();
    seed.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    seed.extend_from_slice(&1_700_000_000_123_456_789u64.to_be_bytes());
    seed.extend_from_slice(&90_000u32.to_be_bytes());
    seed.extend_from_slice(&100u32.to_be_bytes());
    seed.extend_from_slice(&123_456u32.to_be_bytes());
    seed.extend_from_slice(b"cvmmap-streamer@camera-host");
    out.put("rtp_rtcp_roundtrip", "sender_report", &seed);
}

fn sdp_text(hevc: bool, au: &[u8], v6: bool, dest: &str) -> String {
    let codec = if hevc {
        SdpCodec::h265_from_access_unit(au)
    } else {
        SdpCodec::h264_from_access_unit(au)
    };
    let origin = if v6 { "::1" } else { "127.0.0.1" };
    SdpParams {
        session_id: 42,
        session_version: 1,
        origin_addr: origin.parse().expect("address"),
        dest_addr: dest.parse().expect("address"),
        port: 5004,
        payload_type: 96,
        codec,
    }
    .to_string()
}

fn sender_report(ssrc: u32, unix_ns: u64, rtp_timestamp: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_sender_report(
        &mut out,
        &SenderReport {
            ssrc,
            unix_ns,
            rtp_timestamp,
            packet_count: 10,
            octet_count: 12_345,
        },
        "cvmmap-streamer",
    );
    out
}

fn receiver_seeds(out: &mut Out, h264: &[Vec<u8>], h265: &[Vec<u8>]) {
    let packets = packetize(false, true, 200, &h264[0], 3000, 100);
    out.put("rx_rtp_header", "h264_stap_a", &packets[0]);
    out.put(
        "rx_rtp_header",
        "h264_fu_a_last",
        packets.last().expect("packets"),
    );
    // CSRCs, a header extension and padding around a small payload.
    let mut p = vec![0xB2, 0xE0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 7];
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
    p.extend_from_slice(&[0x41, 0x9a, 0x21]);
    p.extend_from_slice(&[0, 0, 3]);
    out.put("rx_rtp_header", "csrc_extension_padding", &p);

    for (target, hevc, aus) in [
        ("rx_depay_h264", false, h264),
        ("rx_depay_h265", true, h265),
    ] {
        for (name, aggregate, mtu) in [
            ("aggregated_fragmented", true, 160),
            ("single_fragmented", false, 400),
        ] {
            let mut seed = Vec::new();
            for (k, au) in aus.iter().take(2).enumerate() {
                let packets = packetize(hevc, aggregate, mtu, au, 3000 * k as u32, 0);
                let last = packets.len() - 1;
                for (i, p) in packets.iter().enumerate() {
                    let flags = u8::from(i == last) | if i == 0 && k > 0 { 2 } else { 0 };
                    let mut rec = vec![flags, 1];
                    rec.extend_from_slice(&p[12..]);
                    push_record(&mut seed, &rec);
                }
            }
            out.put(target, name, &seed);
        }
    }

    let sr = sender_report(0x1234_5678, 1_700_000_000_000_000_000, 90_000);
    out.put("rx_rtcp", "sr_sdes", &sr);
    let mut srb = sr.clone();
    write_bye(&mut srb, 0x1234_5678);
    out.put("rx_rtcp", "sr_sdes_bye", &srb);
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&9u32.to_be_bytes());
    rr.extend_from_slice(&[0u8; 24]);
    rr.extend_from_slice(&[0x80, 204, 0, 2, 0, 0, 0, 9, b'n', b'a', b'm', b'e']);
    out.put("rx_rtcp", "rr_block_app", &rr);
    let mut padded = vec![0xA0, 200, 0, 7];
    padded.extend_from_slice(&[1u8; 24]);
    padded.extend_from_slice(&[0, 0, 0, 4]);
    out.put("rx_rtcp", "sr_padding", &padded);

    out.put(
        "rx_sdp",
        "h264",
        sdp_text(false, &h264[0], false, "127.0.0.1").as_bytes(),
    );
    out.put(
        "rx_sdp",
        "h264_multicast",
        sdp_text(false, &h264[0], false, "239.1.2.3").as_bytes(),
    );
    out.put(
        "rx_sdp",
        "h265_ipv6",
        sdp_text(true, &h265[0], true, "::1").as_bytes(),
    );
    let mut rtcp = sdp_text(true, &h265[0], false, "10.0.0.2");
    rtcp.push_str("a=rtcp:5007 IN IP4 10.0.0.2\r\na=fmtp:96 sprop-max-don-diff=0\r\nm=audio 5010 RTP/AVP 0\r\n");
    out.put("rx_sdp", "h265_rtcp_attr", rtcp.as_bytes());

    let capture = 1_700_000_000_000_000_000u64;
    for (name, hevc) in [("h264", false), ("h265", true)] {
        let mut seed = vec![u8::from(hevc) | 2];
        seed.extend_from_slice(&capture.to_be_bytes());
        let mut unit = Vec::new();
        append_user_data_nal(
            hevc,
            &BODY_TRACKING_UUID,
            &body_message(1, capture, 1, "cam"),
            &mut unit,
        );
        for nal in nal_units(&unit) {
            push_record(&mut seed, nal);
        }
        let au = if hevc { &h265[0] } else { &h264[0] };
        for nal in nal_units(au).take(2) {
            push_record(&mut seed, nal);
        }
        out.put("rx_sei", name, &seed);
    }

    // A short receiver session: SR, then three access units (body SEI in
    // the keyframe), arriving one frame apart.
    for (name, hevc, aus) in [("h264", false, h264), ("h265", true, h265)] {
        let flags = u8::from(hevc) | 2 | 4;
        let mut seed = vec![flags, 96, 200];
        let t0 = 1_700_000_000u32;
        let mut rec = vec![1u8];
        rec.extend_from_slice(&t0.to_be_bytes());
        rec.extend(sender_report(0x1234_5678, u64::from(t0) * 1_000_000_000, 0));
        push_record(&mut seed, &rec);
        let mut seq = 1u16;
        for (k, au) in aus.iter().take(3).enumerate() {
            let ts = 3000 * k as u32;
            let mut au = au.clone();
            if k == 0 {
                let mut unit = Vec::new();
                let body = body_message(k as u32, u64::from(t0) * 1_000_000_000, 0, "cam");
                append_user_data_nal(hevc, &BODY_TRACKING_UUID, &body, &mut unit);
                au = insert_before_first_vcl(hevc, &au, &unit);
            }
            for p in packetize(hevc, true, 300, &au, ts, seq) {
                seq = seq.wrapping_add(1);
                let mut rec = vec![0u8];
                rec.extend_from_slice(&t0.to_be_bytes());
                rec.extend_from_slice(&p);
                push_record(&mut seed, &rec);
            }
        }
        out.put("rx_session", name, &seed);
    }
}

fn stub_seeds(out: &mut Out, h264: &[Vec<u8>], h265: &[Vec<u8>]) {
    for (name, form, aus) in [
        ("avc", VideoTagForm::Avc, h264),
        ("enhanced", VideoTagForm::EnhancedHvc1, h265),
        ("domestic", VideoTagForm::DomesticHevc12, h265),
    ] {
        let msgs = publisher_messages(form, aus);
        for (i, (_, m)) in msgs.iter().enumerate().skip(6).take(3) {
            out.put("stub_flv", &format!("{name}_{i}"), &m.payload);
        }
    }
    out.put("stub_flv", "avc_end", &avc::end_of_sequence());
    out.put("stub_flv", "enhanced_end", &enhanced::sequence_end());

    let reply = stub_amf0::encode_all(&[
        stub_amf0::string("_result"),
        stub_amf0::Value::Number(1.0),
        stub_amf0::object(&[
            ("fmsVer", stub_amf0::string("FMS/3,0,1,123")),
            ("capabilities", stub_amf0::Value::Number(31.0)),
            (
                "fourCcList",
                stub_amf0::Value::StrictArray(vec![stub_amf0::string("hvc1")]),
            ),
        ]),
        stub_amf0::Value::EcmaArray(vec![(
            "code".into(),
            stub_amf0::string("NetConnection.Connect.Success"),
        )]),
        stub_amf0::Value::Date(1.7e12),
        stub_amf0::Value::Reference(0),
    ]);
    out.put("stub_amf0", "result_connect", &reply);
    let mut params = ConnectParams::new("live", "rtmp://127.0.0.1:1935/live");
    params.four_cc_list = Some(vec!["hvc1".into()]);
    out.put(
        "stub_amf0",
        "connect",
        &command::connect(1.0, &params).payload,
    );
    let meta = publisher_messages(VideoTagForm::Avc, h264);
    out.put("stub_amf0", "set_data_frame", &meta[5].1.payload);

    // The publisher's chunk stream, as our RTMP sink writes it.
    let avc_msgs = publisher_messages(VideoTagForm::Avc, h264);
    let mut seed = vec![0u8];
    seed.extend(chunks(&avc_msgs, Some(4096)));
    out.put("stub_chunk", "publish_avc_4096", &seed);
    let mut seed = vec![0u8];
    seed.extend(chunks(&avc_msgs[..6], None));
    out.put("stub_chunk", "commands_128", &seed);

    for (name, mode, form, aus) in [
        ("h264", 0u8, VideoTagForm::Avc, h264),
        ("h265_enhanced", 1, VideoTagForm::EnhancedHvc1, h265),
        ("h265_domestic", 2, VideoTagForm::DomesticHevc12, h265),
    ] {
        let mut seed = vec![mode, 2];
        let mut msgs = publisher_messages(form, aus);
        msgs.insert(0, (2, rtmp_message::window_ack_size(5000)));
        seed.extend(chunks(&msgs, Some(4096)));
        out.put("stub_session", name, &seed);
    }
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("fuzz").join("corpus"));
    let mut out = Out {
        root,
        files: 0,
        bytes: 0,
    };
    let h264 = encode(false);
    let h265 = encode(true);
    metadata_seeds(&mut out, u32::try_from(h264[0].len()).expect("small AU"));
    contract_seeds(&mut out);
    rtmp_seeds(&mut out, &h264, &h265);
    codec_seeds(&mut out, &h264, &h265);
    receiver_seeds(&mut out, &h264, &h265);
    stub_seeds(&mut out, &h264, &h265);
    eprintln!(
        "gen_seeds: {} files, {} bytes under {}",
        out.files,
        out.bytes,
        out.root.display()
    );
}
