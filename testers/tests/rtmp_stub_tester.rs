//! Runs the real `rtmp_stub_tester` binary against a minimal RTMP publisher
//! written here (own handshake, chunk writer/reader and AMF0 encoder), and
//! checks exit codes, JSON and the server's replies.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{unique, wait_timeout};

const BIN: &str = env!("CARGO_BIN_EXE_rtmp_stub_tester");
const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

// ---- AMF0 encoder -------------------------------------------------------

enum A<'a> {
    N(f64),
    S(&'a str),
    O(Vec<(&'a str, A<'a>)>),
    E(Vec<(&'a str, A<'a>)>),
    Arr(Vec<A<'a>>),
    Null,
}

fn amf(out: &mut Vec<u8>, v: &A) {
    let pairs = |out: &mut Vec<u8>, p: &[(&str, A)]| {
        for (k, v) in p {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            amf(out, v);
        }
        out.extend_from_slice(&[0, 0, 9]);
    };
    match v {
        A::N(n) => {
            out.push(0);
            out.extend_from_slice(&n.to_be_bytes());
        }
        A::S(s) => {
            out.push(2);
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        A::O(p) => {
            out.push(3);
            pairs(out, p);
        }
        A::E(p) => {
            out.push(8);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            pairs(out, p);
        }
        A::Arr(a) => {
            out.push(10);
            out.extend_from_slice(&(a.len() as u32).to_be_bytes());
            a.iter().for_each(|v| amf(out, v));
        }
        A::Null => out.push(5),
    }
}

fn amf_all(vals: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    vals.iter().for_each(|v| amf(&mut out, v));
    out
}

// ---- RTMP client --------------------------------------------------------

struct Client {
    s: TcpStream,
    out_chunk: usize,
    in_chunk: usize,
}

impl Client {
    fn connect(port: u16, version: u8) -> Self {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut c01 = vec![version];
        c01.extend((0..1536u32).map(|i| (i * 7) as u8));
        s.write_all(&c01).unwrap();
        let mut c = Self {
            s,
            out_chunk: 128,
            in_chunk: 128,
        };
        if version == 3 {
            let mut s012 = vec![0u8; 1 + 2 * 1536];
            c.s.read_exact(&mut s012).expect("S0/S1/S2");
            assert_eq!(s012[0], 3);
            assert_eq!(&s012[1537..], &c01[1..], "S2 echoes C1");
            c.s.write_all(&s012[1..1537]).unwrap(); // C2 = S1
        }
        c
    }

    /// Type-0 chunk, then type-3 continuations of `out_chunk` bytes.
    fn send(&mut self, csid: u8, type_id: u8, sid: u32, ts: u32, payload: &[u8]) {
        let mut b = vec![csid];
        b.extend_from_slice(&ts.to_be_bytes()[1..]);
        b.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        b.push(type_id);
        b.extend_from_slice(&sid.to_le_bytes());
        for (i, piece) in payload.chunks(self.out_chunk).enumerate() {
            if i > 0 {
                b.push(0xC0 | csid);
            }
            b.extend_from_slice(piece);
        }
        self.s.write_all(&b).unwrap();
    }

    fn set_chunk_size(&mut self, n: u32) {
        self.send(2, 1, 0, 0, &n.to_be_bytes());
        self.out_chunk = n as usize;
    }

    fn command(&mut self, sid: u32, vals: &[A]) {
        self.send(3, 20, sid, 0, &amf_all(vals));
    }

    /// connect (with `connect_extra` in the command object), releaseStream,
    /// FCPublish, createStream, publish.
    fn publish(&mut self, connect_extra: Vec<(&str, A)>) {
        let mut obj = vec![
            ("app", A::S("live")),
            ("type", A::S("nonprivate")),
            ("tcUrl", A::S("rtmp://127.0.0.1/live")),
        ];
        obj.extend(connect_extra);
        self.command(0, &[A::S("connect"), A::N(1.0), A::O(obj)]);
        self.command(0, &[A::S("releaseStream"), A::N(2.0), A::Null, A::S("cam")]);
        self.command(0, &[A::S("FCPublish"), A::N(3.0), A::Null, A::S("cam")]);
        self.command(0, &[A::S("createStream"), A::N(4.0), A::Null]);
        self.command(
            1,
            &[
                A::S("publish"),
                A::N(5.0),
                A::Null,
                A::S("cam"),
                A::S("live"),
            ],
        );
    }

    fn metadata(&mut self, codec_id: f64) {
        let meta = A::E(vec![
            ("width", A::N(640.0)),
            ("height", A::N(480.0)),
            ("framerate", A::N(30.0)),
            ("videocodecid", A::N(codec_id)),
        ]);
        let body = amf_all(&[A::S("@setDataFrame"), A::S("onMetaData"), meta]);
        self.send(4, 18, 1, 0, &body);
    }

    fn video(&mut self, ts: u32, tag: &[u8]) {
        self.send(6, 9, 1, ts, tag);
    }

    /// Reads messages (type-0 and type-3 chunks only, as the server writes
    /// them) until EOF or the read timeout; returns (type, payload) pairs.
    fn replies(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut b1 = [0u8; 1];
        let mut h = [0u8; 11];
        while self.s.read_exact(&mut b1).is_ok() {
            assert_eq!(
                b1[0] >> 6,
                0,
                "server starts every message with a type-0 chunk"
            );
            if self.s.read_exact(&mut h).is_err() {
                break;
            }
            let len = u32::from_be_bytes([0, h[3], h[4], h[5]]) as usize;
            let mut p = Vec::with_capacity(len);
            while p.len() < len {
                if !p.is_empty() {
                    self.s.read_exact(&mut b1).unwrap(); // type-3 header
                }
                let n = (len - p.len()).min(self.in_chunk);
                let at = p.len();
                p.resize(at + n, 0);
                self.s.read_exact(&mut p[at..]).unwrap();
            }
            if h[6] == 1 {
                self.in_chunk = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
            }
            out.push((h[6], p));
        }
        out
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// ---- FLV video tags -----------------------------------------------------

fn nal(len: usize, header: u8) -> Vec<u8> {
    let mut n = (len as u32).to_be_bytes().to_vec();
    n.push(header);
    n.extend((1..len).map(|i| (i % 200) as u8 + 1));
    n
}

fn avc_seq_header(codec_id: u8) -> Vec<u8> {
    let mut t = vec![
        0x10 | codec_id,
        0,
        0,
        0,
        0,
        1,
        SPS[1],
        SPS[2],
        SPS[3],
        0xFF,
        0xE1,
    ];
    t.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    t.extend_from_slice(SPS);
    t.push(1);
    t.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    t.extend_from_slice(PPS);
    t
}

fn avc_frame(key: bool, cts: i32, nals: &[Vec<u8>]) -> Vec<u8> {
    let mut t = vec![if key { 0x17 } else { 0x27 }, 1];
    t.extend_from_slice(&cts.to_be_bytes()[1..]);
    nals.iter().for_each(|n| t.extend_from_slice(n));
    t
}

// ---- the tester process -------------------------------------------------

struct Stub {
    child: Child,
    port: u16,
    json: PathBuf,
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.json);
    }
}

fn start(args: &[&str]) -> Stub {
    let json = PathBuf::from(format!("/tmp/{}.json", unique("cvmt_rtmp_")));
    let mut child = Command::new(BIN)
        .args(["--listen-port", "0", "--json", json.to_str().unwrap()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtmp_stub_tester");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listening line");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first stdout line {line:?}"));
    Stub { child, port, json }
}

impl Stub {
    fn finish(&mut self, limit: Duration) -> (ExitStatus, serde_json::Value) {
        let status =
            wait_timeout(&mut self.child, limit).expect("rtmp_stub_tester did not exit in time");
        let text = std::fs::read_to_string(&self.json).expect("json written");
        assert_eq!(text.lines().count(), 1, "one-line JSON: {text}");
        (status, serde_json::from_str(&text).expect("valid JSON"))
    }
}

// ---- tests --------------------------------------------------------------

#[test]
fn h264_happy_path_exits_0_with_full_json() {
    let mut stub = start(&[
        "--mode",
        "h264",
        "--video-threshold",
        "3",
        "--timeout-ms",
        "10000",
    ]);
    let started = Instant::now();
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![]);
    c.metadata(7.0);
    c.video(0, &avc_seq_header(7));
    c.set_chunk_size(200); // the frames below span several chunks
    c.send(7, 8, 1, 0, &[0xAF, 0x01, 0x21, 0x10]); // one AAC audio message
    c.video(0, &avc_frame(true, 66, &[nal(8, 0x06), nal(600, 0x65)]));
    c.video(33, &avc_frame(false, 0, &[nal(300, 0x41)]));
    c.video(66, &avc_frame(false, 33, &[nal(250, 0x41)]));
    let replies = c.replies();
    let (status, j) = stub.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{j}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exits at the threshold"
    );

    let types: Vec<u8> = replies.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        &types[..3],
        &[5, 6, 1],
        "WindowAckSize, SetPeerBandwidth, SetChunkSize"
    );
    assert_eq!(replies[0].1, 2_500_000u32.to_be_bytes());
    assert_eq!(replies[2].1, 4096u32.to_be_bytes());
    let cmds: Vec<&Vec<u8>> = replies
        .iter()
        .filter(|(t, _)| *t == 20)
        .map(|(_, p)| p)
        .collect();
    assert!(contains(cmds[0], "_result") && contains(cmds[0], "NetConnection.Connect.Success"));
    assert!(
        cmds.iter()
            .any(|p| contains(p, "onStatus") && contains(p, "NetStream.Publish.Start")),
        "publish answered"
    );
    // createStream's _result: txn 4, null, stream id 1.
    let cs = amf_all(&[A::S("_result"), A::N(4.0), A::Null, A::N(1.0)]);
    assert!(cmds.iter().any(|p| **p == cs), "createStream _result");

    assert_eq!(j["result"], "pass");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["mode"], "h264");
    assert_eq!(
        j["commands"],
        serde_json::json!([
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish"
        ])
    );
    assert_eq!(j["app"], "live");
    assert_eq!(j["stream_name"], "cam");
    assert_eq!(j["metadata_ok"], true);
    assert_eq!(j["videocodecid"], 7.0);
    assert_eq!(
        (j["width"].as_f64(), j["height"].as_f64()),
        (Some(640.0), Some(480.0))
    );
    assert_eq!(j["framerate"], 30.0);
    assert_eq!(j["sequence_headers"], 1);
    assert_eq!(j["sequence_header"]["codec"], "avc");
    assert_eq!(j["sequence_header"]["profile"], 100);
    assert_eq!(
        (
            j["sequence_header"]["sps"].as_u64(),
            j["sequence_header"]["pps"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(j["video_frames"], 3);
    assert_eq!(j["keyframes"], 1);
    assert_eq!(j["first_frame_keyframe"], true);
    assert_eq!(j["nal_units"], 4);
    assert_eq!(j["audio_messages"], 1);
    assert_eq!(j["connections"], 1);
    assert_eq!(j["timestamp_regressions"], 0);
    assert_eq!(
        (j["cts_min"].as_i64(), j["cts_max"].as_i64()),
        (Some(0), Some(66))
    );
    assert_eq!(
        (j["first_dts"].as_u64(), j["last_dts"].as_u64()),
        (Some(0), Some(66))
    );
    assert_eq!(j["peer_chunk_size"], 200);
    assert_eq!(j["handshake_c2_echo"], true);
    assert!(j["fourcc_list"].is_null());
    assert!(j["error"].is_null());
    assert!(j["bytes"].as_u64().unwrap() > 3073 + 1150, "{j}");
}

#[test]
fn h265_enhanced_happy_path_exits_0() {
    let mut stub = start(&["--mode", "h265-enhanced", "--video-threshold", "2"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![(
        "fourCcList",
        A::Arr(vec![A::S("av01"), A::S("hvc1")]),
    )]);
    c.metadata(1_752_589_105.0);
    // HEVCDecoderConfigurationRecord: 23-byte header, arrays VPS/SPS/PPS.
    let mut t = vec![
        0x90, b'h', b'v', b'c', b'1', 1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xF0, 0, 0xFC,
        0xFD, 0xF8, 0xF8, 0, 0, 0x0F, 3,
    ];
    for ty in [32u8, 33, 34] {
        t.extend_from_slice(&[0x80 | ty, 0, 1, 0, 3, ty << 1, 1, 0x0C]);
    }
    c.video(0, &t);
    let mut f = vec![0x91, b'h', b'v', b'c', b'1', 0, 0, 0]; // key, CodedFrames, cts 0
    f.extend(nal(40, 19 << 1));
    c.video(0, &f);
    let mut f = vec![0xA3, b'h', b'v', b'c', b'1']; // inter, CodedFramesX
    f.extend(nal(20, 1 << 1));
    c.video(33, &f);
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{j}");
    assert_eq!(j["fourcc_list"], serde_json::json!(["av01", "hvc1"]));
    assert_eq!(j["videocodecid"], 1_752_589_105.0);
    assert_eq!(j["sequence_header"]["codec"], "hevc");
    assert_eq!(
        (j["video_frames"].as_u64(), j["keyframes"].as_u64()),
        (Some(2), Some(1))
    );
}

#[test]
fn h265_enhanced_mode_receiving_codec_id_7_exits_6() {
    let mut stub = start(&["--mode", "h265-enhanced", "--video-threshold", "2"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![("fourCcList", A::Arr(vec![A::S("hvc1")]))]);
    c.metadata(1_752_589_105.0);
    c.video(0, &avc_seq_header(7));
    c.video(0, &avc_frame(true, 0, &[nal(50, 0x65)]));
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(6), "{j}");
    assert_eq!(j["result"], "mode_mismatch");
    assert_eq!(j["fourcc_list"], serde_json::json!(["hvc1"]));
    assert!(
        j["error"].as_str().unwrap().contains("legacy codec id 7"),
        "{j}"
    );
}

#[test]
fn frame_before_sequence_header_exits_7() {
    let mut stub = start(&["--mode", "h264", "--video-threshold", "2"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![]);
    c.metadata(7.0);
    c.video(0, &avc_frame(true, 0, &[nal(50, 0x65)]));
    c.video(0, &avc_seq_header(7));
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["result"], "protocol_violation");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("before the sequence header"),
        "{j}"
    );
    assert_eq!(j["video_frames"], 0);
}

#[test]
fn bad_nal_framing_and_bad_handshake_exit_7() {
    let mut stub = start(&["--video-threshold", "2"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![]);
    c.video(0, &avc_seq_header(7));
    let mut f = avc_frame(true, 0, &[nal(50, 0x65)]);
    f.truncate(f.len() - 1); // length prefix says one byte more than the tag holds
    c.video(0, &f);
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "{j}");
    assert!(j["error"].as_str().unwrap().contains("does not fit"), "{j}");

    let mut stub = start(&[]);
    let _c = Client::connect(stub.port, 6);
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "{j}");
    assert!(j["error"].as_str().unwrap().contains("C0 version 6"), "{j}");
}

#[test]
fn timeout_with_nothing_exits_124() {
    let mut stub = start(&["--timeout-ms", "300"]);
    let (status, j) = stub.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(124), "{j}");
    assert_eq!(j["result"], "timeout");
    assert_eq!(
        (j["connections"].as_u64(), j["video_frames"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn too_few_frames_exits_4_and_counts_reconnects() {
    let mut stub = start(&["--video-threshold", "10", "--timeout-ms", "1500"]);
    for _ in 0..2 {
        let mut c = Client::connect(stub.port, 3);
        c.publish(vec![]);
        c.metadata(7.0);
        c.video(0, &avc_seq_header(7));
        c.video(0, &avc_frame(true, 0, &[nal(50, 0x65)]));
        c.video(33, &avc_frame(false, 0, &[nal(50, 0x41)]));
        c.video(20, &avc_frame(false, 0, &[nal(50, 0x41)])); // DTS goes back
        // Half-close and drain the replies: the server sees EOF and moves on
        // (closing with unread data would reset the connection instead).
        c.s.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(!c.replies().is_empty());
    }
    let (status, j) = stub.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(4), "{j}");
    assert_eq!(j["result"], "threshold_not_met");
    assert_eq!(j["connections"], 2);
    assert_eq!(j["video_frames"], 6);
    assert_eq!(j["sequence_headers"], 2);
    assert_eq!(j["timestamp_regressions"], 2);
}

#[test]
fn reject_publish_sends_bad_name() {
    let mut stub = start(&["--reject-publish", "--timeout-ms", "1500"]);
    let mut c = Client::connect(stub.port, 3);
    c.s.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    c.publish(vec![]);
    let replies = c.replies();
    let status_msg = replies
        .iter()
        .find(|(t, p)| *t == 20 && contains(p, "onStatus"))
        .expect("onStatus reply");
    assert!(contains(&status_msg.1, "NetStream.Publish.BadName"));
    assert!(!contains(&status_msg.1, "NetStream.Publish.Start"));
    drop(c);
    let (status, j) = stub.finish(Duration::from_secs(5));
    assert_eq!(status.code(), Some(124), "{j}");
    assert_eq!(j["reject_publish"], true);
    assert_eq!(j["publishes"], 1);
}

#[test]
fn domestic_mode_rejects_ex_header_and_string_codec_id() {
    let mut stub = start(&["--mode", "h265-domestic"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![]);
    c.metadata(12.0);
    c.video(0, &[0x90, b'h', b'v', b'c', b'1', 1]);
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(6), "{j}");
    assert!(j["error"].as_str().unwrap().contains("ex-header"), "{j}");

    let mut stub = start(&["--mode", "h265-domestic"]);
    let mut c = Client::connect(stub.port, 3);
    c.publish(vec![]);
    let meta = A::O(vec![("width", A::N(640.0)), ("videocodecid", A::S("hvc1"))]);
    c.send(4, 18, 1, 0, &amf_all(&[A::S("onMetaData"), meta]));
    let (status, j) = stub.finish(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "{j}");
    assert_eq!(j["videocodecid"], "hvc1");
    assert!(j["error"].as_str().unwrap().contains("not a number"), "{j}");
}
