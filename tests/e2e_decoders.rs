//! Decoders we did not write read our stream from the SDP file: Debian's
//! ffmpeg 5.1 and a modern static ffmpeg, H.264 and H.265.

mod common;

use std::time::Duration;

use common::stack::*;
use common::{
    Proc, Scratch, assert_exit, free_udp_port, modern_ffmpeg, wait_for_file, wait_udp_bound,
};

/// ffmpeg reads the SDP file and decodes the stream to raw frames.
fn ffmpeg_case(ffmpeg: &std::path::Path, codec: &str) {
    let s = Scratch::new("e2e_ffmpeg");
    let n = names("ff");
    let port = free_udp_port();
    let mut st = streamer_codec(
        &s,
        &n,
        port,
        codec,
        &["--queue-size", "16", "--ingest-idle-timeout-ms", "2000"],
    );
    let sdp = s.path("stream.sdp");
    assert!(
        wait_for_file(&sdp, Duration::from_secs(20)),
        "no SDP file; log:\n{}",
        st.output()
    );
    let raw = s.path("out.yuv");
    let mut ff = Proc::spawn(
        ffmpeg,
        &[
            "-hide_banner",
            "-nostdin",
            "-protocol_whitelist",
            "file,udp,rtp",
            "-i",
            sdp.to_str().unwrap(),
            "-f",
            "rawvideo",
            "-y",
            raw.to_str().unwrap(),
        ],
        s.path("ffmpeg.log"),
    );
    // ffmpeg binds the port named in the SDP; start the producer only then.
    assert!(
        wait_udp_bound(port, Duration::from_secs(10)),
        "ffmpeg never bound {port}:\n{}",
        ff.output()
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "150", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    ff.signal(2); // SIGINT: ffmpeg flushes and exits
    ff.wait(Duration::from_secs(10));
    let log = ff.output();
    assert!(
        log.contains("yuv420p"),
        "{codec}: ffmpeg did not report 4:2:0:\n{log}"
    );
    let frame = 640 * 360 * 3 / 2;
    let frames = std::fs::metadata(&raw)
        .map(|m| m.len() as usize / frame)
        .unwrap_or(0);
    assert!(
        frames >= 143, // 95% of 150
        "{codec}: ffmpeg decoded {frames} of 150 frames:\n{log}"
    );
}

#[test]
fn e2e_debian_ffmpeg_decodes_h264_from_the_sdp_file() {
    ffmpeg_case(std::path::Path::new("ffmpeg"), "h264");
}

#[test]
fn e2e_modern_ffmpeg_decodes_h264_from_the_sdp_file() {
    ffmpeg_case(&modern_ffmpeg(), "h264");
}

#[test]
fn e2e_modern_ffmpeg_decodes_h265_from_the_sdp_file() {
    ffmpeg_case(&modern_ffmpeg(), "h265");
}
