//! The three-process stack of the end-to-end tests: `cvmmap_sim` ->
//! `cvmmap_streamer` -> a receiver, with unique names and ports.

use std::time::Duration;

use super::decoder::{DecodedFormat, GstRtpDecoder};
use super::{Proc, Scratch, assert_exit, bin, free_udp_port, unique, wait_for_event};

pub const T: Duration = Duration::from_secs(40);

pub struct Names {
    pub label: String,
    pub shm: String,
    pub ipc: String,
}

pub fn names(tag: &str) -> Names {
    let id = unique(tag);
    Names {
        label: format!("acc_{}", &id[id.len().saturating_sub(18)..]),
        shm: id.clone(),
        ipc: format!("ipc:///tmp/{id}.ipc"),
    }
}

pub fn sim(s: &Scratch, n: &Names, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--label",
        &n.label,
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_sim"), &args, s.path("sim.log"))
}

pub fn streamer(s: &Scratch, n: &Names, port: u16, extra: &[&str]) -> Proc {
    streamer_codec(s, n, port, "h264", extra)
}

pub fn streamer_codec(s: &Scratch, n: &Names, port: u16, codec: &str, extra: &[&str]) -> Proc {
    let endpoint = format!("127.0.0.1:{port}");
    let sdp = s.path("stream.sdp");
    let summary = s.path("summary.json");
    let events = s.path("streamer.events.jsonl");
    let mut args = vec![
        "--codec",
        codec,
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
        "--events",
        events.to_str().unwrap(),
        "--rtp",
        "--rtp-endpoint",
        &endpoint,
        "--rtp-payload-type",
        "96",
        "--rtp-sdp",
        sdp.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"))
}

/// Starts the streamer and waits until its ingest is listening, so that a
/// producer started next loses no frame to the streamer's own start-up.
pub fn ready_streamer(s: &Scratch, n: &Names, port: u16, codec: &str, extra: &[&str]) -> Proc {
    let st = streamer_codec(s, n, port, codec, extra);
    assert!(
        wait_for_event(
            &s.path("streamer.events.jsonl"),
            "ingest_started",
            Duration::from_secs(20)
        ),
        "streamer not ready:\n{}",
        st.output()
    );
    st
}

pub fn summary(s: &Scratch) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path("summary.json")).unwrap()).unwrap()
}

/// Streams `frames` frames and decodes them with GStreamer; returns the
/// decoded count and format.
pub fn decode_run(sim_extra: &[&str], frames: u64) -> (u64, Option<DecodedFormat>, String) {
    let s = Scratch::new("e2e_decode");
    let n = names("dec");
    let port = free_udp_port();
    let decoder = GstRtpDecoder::start(port, "H264", 96);
    let mut st = ready_streamer(&s, &n, port, "h264", &["--ingest-idle-timeout-ms", "2000"]);
    let frames_s = frames.to_string();
    let mut args = vec!["--frames", frames_s.as_str(), "--fps", "30"];
    args.extend_from_slice(sim_extra);
    let mut sm = sim(&s, &n, &args);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = decoder.wait_frames(frames, Duration::from_secs(2), Duration::from_secs(10));
    let errors = decoder.errors();
    assert!(errors.is_empty(), "decoder errors: {errors:?}");
    (got, decoder.format(), st.output())
}

/// Reads the simulator's `--au-log`: 4-byte LE length, then the unit.
pub fn read_au_log(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let (mut out, mut at) = (Vec::new(), 0);
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(bytes[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    out
}

/// `rtp_receiver_tester` for H.264 on `port` (PT 96) until `threshold`
/// complete units, its JSON at `rx.json`; returns once its socket is bound.
pub fn h264_receiver(s: &Scratch, port: u16, threshold: u64, extra: &[&str]) -> Proc {
    receiver(s, port, "h264", threshold, extra)
}

/// [`h264_receiver`] for `codec` (`h264` or `h265`).
pub fn receiver(s: &Scratch, port: u16, codec: &str, threshold: u64, extra: &[&str]) -> Proc {
    let json = s.path("rx.json");
    let (port_s, threshold) = (port.to_string(), threshold.to_string());
    let mut args = vec![
        "--port",
        &port_s,
        "--expect-pt",
        "96",
        "--expect-codec",
        codec,
        "--frame-threshold",
        &threshold,
        "--timeout-ms",
        "30000",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let rx = Proc::spawn(&bin("rtp_receiver_tester"), &args, s.path("rx.log"));
    assert!(super::wait_udp_bound(port, Duration::from_secs(10)));
    rx
}

/// The JSON report of [`h264_receiver`].
pub fn rx_report(s: &Scratch) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path("rx.json")).unwrap()).unwrap()
}
