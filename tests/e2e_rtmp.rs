//! RTMP end to end: simulator -> streamer -> our stub server (its own RTMP
//! and FLV parsing) or a modern ffmpeg listening as an RTMP server.

mod common;

use std::time::Duration;

use common::stack::*;
use common::{Proc, Scratch, assert_exit, bin, free_tcp_port, modern_ffmpeg, wait_tcp_listening};

fn stub(s: &Scratch, tag: &str, mode: &str, port: u16, extra: &[&str]) -> Proc {
    let json = s.path(&format!("{tag}.json"));
    let port = port.to_string();
    let mut args = vec![
        "--mode",
        mode,
        "--listen-port",
        &port,
        "--timeout-ms",
        "30000",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let p = Proc::spawn(
        &bin("rtmp_stub_tester"),
        &args,
        s.path(&format!("{tag}.log")),
    );
    let port: u16 = port.parse().unwrap();
    assert!(
        wait_tcp_listening(port, Duration::from_secs(10)),
        "stub not listening:\n{}",
        p.output()
    );
    p
}

fn json(s: &Scratch, tag: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path(&format!("{tag}.json"))).unwrap()).unwrap()
}

/// The streamer publishing to rtmp://127.0.0.1:<port>/live/cam; ready when
/// its ingest listens.
fn rtmp_streamer(
    s: &Scratch,
    n: &Names,
    codec: &str,
    mode: Option<&str>,
    port: u16,
    extra: &[&str],
) -> Proc {
    let url = format!("rtmp://127.0.0.1:{port}/live/cam");
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
        "--rtmp",
        "--rtmp-url",
        &url,
        "--summary-json",
        summary.to_str().unwrap(),
        "--ingest-idle-timeout-ms",
        "3000",
    ];
    if let Some(m) = mode {
        args.extend(["--rtmp-mode", m]);
    }
    args.extend_from_slice(extra);
    let p = Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"));
    assert!(
        common::wait_for_event(&events, "ingest_started", Duration::from_secs(20)),
        "{}",
        p.output()
    );
    p
}

/// One row of the matrix: 300 frames; the stub must pass with >= 285.
fn row(codec: &str, mode: Option<&str>, stub_mode: &str) {
    let s = Scratch::new("e2e_rtmp_row");
    let n = names("rm");
    let port = free_tcp_port();
    let mut st_rx = stub(
        &s,
        "stub",
        stub_mode,
        port,
        &["--video-threshold", "285", "--until-unpublish"],
    );
    let mut st = rtmp_streamer(&s, &n, codec, mode, port, &["--queue-size", "4"]);
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut st_rx, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let r = json(&s, "stub");
    assert_eq!(r["result"], "pass", "{r}");
    assert!(r["video_frames"].as_u64().unwrap() >= 285, "{r}");
    assert_eq!(r["metadata_ok"], true, "{r}");
    assert_eq!(r["first_frame_keyframe"], true, "{r}");
    assert_eq!(r["timestamp_regressions"], 0, "{r}");
    // Issue 13, defect 10: a clean stop ends the publication (FCUnpublish,
    // deleteStream) instead of leaving the server to time out.
    let commands: Vec<&str> = r["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        commands.contains(&"FCUnpublish") && commands.contains(&"deleteStream"),
        "{commands:?}"
    );
}

#[test]
fn e2e_rtmp_h264() {
    row("h264", None, "h264");
}

#[test]
fn e2e_rtmp_h264_enhanced_mode_is_codec_id_7() {
    row("h264", Some("enhanced"), "h264");
}

#[test]
fn e2e_rtmp_h265_enhanced() {
    row("h265", Some("enhanced"), "h265-enhanced");
}

#[test]
fn e2e_rtmp_h265_domestic() {
    row("h265", Some("domestic"), "h265-domestic");
}

#[test]
fn e2e_rtmp_h264_domestic_exits_2_before_connecting() {
    let s = Scratch::new("e2e_rtmp_invalid");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("rtmp://{}/live/cam", listener.local_addr().unwrap());
    let mut p = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--rtmp",
            "--rtmp-url",
            &url,
            "--rtmp-mode",
            "domestic",
        ],
        s.path("streamer.log"),
    );
    assert_exit(&mut p, T, 2);
    assert!(p.output().contains("--rtmp-mode"), "{}", p.output());
    assert!(listener.accept().is_err(), "a connection was made");
}

#[test]
fn e2e_rtmp_rejected_publish_exits_7() {
    let s = Scratch::new("e2e_rtmp_reject");
    let port = free_tcp_port();
    let _stub = stub(&s, "stub", "h264", port, &["--reject-publish"]);
    let url = format!("rtmp://127.0.0.1:{port}/live/cam");
    let mut p = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--rtmp",
            "--rtmp-url",
            &url,
        ],
        s.path("streamer.log"),
    );
    assert_exit(&mut p, T, 7);
    assert!(
        p.output().contains("NetStream.Publish.BadName"),
        "{}",
        p.output()
    );
}

#[test]
fn e2e_rtmp_reconnects_with_metadata_sequence_header_and_keyframe() {
    let s = Scratch::new("e2e_rtmp_reconnect");
    let n = names("rr");
    let port = free_tcp_port();
    let mut first = stub(
        &s,
        "first",
        "h264",
        port,
        &["--video-threshold", "60", "--accept-reconnects", "false"],
    );
    let mut st = rtmp_streamer(&s, &n, "h264", None, port, &[]);
    let mut sm = sim(&s, &n, &["--frames", "360", "--fps", "30"]);
    // The first server takes 60 frames and goes away (closing the connection).
    assert_exit(&mut first, T, 0);
    let mut second = stub(&s, "second", "h264", port, &["--video-threshold", "60"]);
    assert_exit(&mut second, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let (a, b) = (json(&s, "first"), json(&s, "second"));
    for r in [&a, &b] {
        assert_eq!(r["metadata_ok"], true, "{r}");
        assert!(r["sequence_headers"].as_u64().unwrap() >= 1, "{r}");
        assert_eq!(r["first_frame_keyframe"], true, "{r}");
        assert_eq!(r["timestamp_regressions"], 0, "{r}");
    }
    assert!(
        b["first_dts"].as_u64().unwrap() > a["last_dts"].as_u64().unwrap(),
        "timestamps went back: {a} {b}"
    );
    let summary = summary(&s);
    assert!(
        summary["stats"]["rtmp_reconnects"].as_u64().unwrap() >= 1,
        "{summary}"
    );
}

/// A modern ffmpeg listening as the RTMP server for rtmp://127.0.0.1:<port>/live/cam,
/// writing with `output` (its output options and file); returned once it listens.
fn ffmpeg_server(s: &Scratch, port: u16, output: &[&str]) -> Proc {
    let url = format!("rtmp://127.0.0.1:{port}/live/cam");
    let mut args = vec!["-hide_banner", "-nostdin", "-listen", "1", "-i", &url];
    args.extend_from_slice(output);
    let ff = Proc::spawn(&modern_ffmpeg(), &args, s.path("ffmpeg.log"));
    assert!(
        wait_tcp_listening(port, Duration::from_secs(10)),
        "ffmpeg not listening:\n{}",
        ff.output()
    );
    ff
}

/// A modern ffmpeg listening as an RTMP server decodes the stream.
fn ffmpeg_row(codec: &str, mode: Option<&str>) {
    let s = Scratch::new("e2e_rtmp_ffmpeg");
    let n = names("rf");
    let port = free_tcp_port();
    let raw = s.path("out.yuv");
    let mut ff = ffmpeg_server(
        &s,
        port,
        &[
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-y",
            raw.to_str().unwrap(),
        ],
    );
    let mut st = rtmp_streamer(&s, &n, codec, mode, port, &["--queue-size", "4"]);
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    ff.wait(Duration::from_secs(20));
    let log = ff.output();
    let frames = std::fs::metadata(&raw)
        .map(|m| m.len() as usize / (640 * 360 * 3 / 2))
        .unwrap_or(0);
    assert!(
        frames >= 285,
        "{codec} {mode:?}: ffmpeg decoded {frames} of 300:\n{log}"
    );
}

#[test]
fn e2e_rtmp_ffmpeg_decodes_h264() {
    ffmpeg_row("h264", None);
}

#[test]
fn e2e_rtmp_ffmpeg_decodes_h265_enhanced() {
    ffmpeg_row("h265", Some("enhanced"));
}

#[test]
fn e2e_rtmp_ffmpeg_decodes_h265_domestic() {
    ffmpeg_row("h265", Some("domestic"));
}

/// Resident and peak memory of a process in KiB, from /proc.
/// The stub stops reading 2 s into the stream, for 5 s; passes at 150 frames.
const STALL_2S_FOR_5S: [&str; 6] = [
    "--video-threshold",
    "150",
    "--stall-after-ms",
    "2000",
    "--stall-ms",
    "5000",
];

fn memory_kib(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn e2e_rtmp_stalled_server_bounded_memory_and_resume_on_a_keyframe() {
    let s = Scratch::new("e2e_rtmp_stall");
    let n = names("rs");
    let port = free_tcp_port();
    let mut rx = stub(&s, "stub", "h264", port, &STALL_2S_FOR_5S);
    let mut st = rtmp_streamer(&s, &n, "h264", None, port, &["--bitrate-kbps", "8000"]);
    let r = stalled_stub_scenario(&s, &n, &mut rx, &mut st, "RTMP");
    assert_eq!(r["stalls"], 1, "{r}");
}

/// The stall scenario over a streamer publishing to a stub that stops
/// reading after 2 s for 5 s (`STALL_2S_FOR_5S`): 330 frames of 720p at
/// 8 Mbit/s; the stream resumes on a keyframe with no timestamp going back,
/// units were dropped, RSS grew < 32 MiB from the stall's start to the peak.
/// Returns the stub's report.
fn stalled_stub_scenario(
    s: &Scratch,
    n: &Names,
    rx: &mut Proc,
    st: &mut Proc,
    what: &str,
) -> serde_json::Value {
    let mut sm = sim(
        s,
        n,
        &[
            "--frames", "330", "--fps", "30", "--width", "1280", "--height", "720",
        ],
    );
    // Memory when the stall begins (the stub says so on stdout), then the
    // peak once the stream has resumed and the stub passed.
    assert!(
        common::wait_for_log(rx, "stalling", Duration::from_secs(20)),
        "{}",
        rx.output()
    );
    let (before, _) = memory_kib(st.pid());
    assert_exit(rx, T, 0);
    let (_, peak) = memory_kib(st.pid());
    assert_exit(&mut sm, T, 0);
    assert_exit(st, T, 0);
    let r = json(s, "stub");
    assert!(
        r["dts_gaps"].as_u64().unwrap() >= 1,
        "the stall caused no drop: {r}"
    );
    assert_eq!(
        r["dts_gaps_not_on_keyframe"], 0,
        "resumed off a keyframe: {r}"
    );
    assert_eq!(r["timestamp_regressions"], 0, "{r}");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "{what}: RSS before the stall {before} KiB, peak {peak} KiB, growth {growth_mib:.1} MiB"
    );
    assert!(
        growth_mib < 32.0,
        "memory grew {growth_mib:.1} MiB during the stall"
    );
    let summary = summary(s);
    assert!(
        summary["stats"]["rtmp_units_dropped"].as_u64().unwrap() > 0,
        "{summary}"
    );
    r
}

/// One sink stalls, the other keeps every frame: RTP and RTMP from one
/// streamer, the RTMP server stops reading for 5 s. The RTP receiver still
/// gets >= 95% of the units with nothing dropped in front of the RTP sink,
/// and the stall costs at most 2 forced keyframes (one per drop episode),
/// so RTP viewers do not get a keyframe storm.
#[test]
fn e2e_stalled_rtmp_sink_does_not_degrade_rtp() {
    let s = Scratch::new("e2e_sink_isolation");
    let n = names("si");
    let rtmp_port = free_tcp_port();
    let rtp_port = common::free_udp_port();
    let frames = 330u64;
    let mut stub_rx = stub(&s, "stub", "h264", rtmp_port, &STALL_2S_FOR_5S);
    let mut rtp_rx = h264_receiver(&s, rtp_port, (frames * 95).div_ceil(100), &["--strict"]);
    let rtp_endpoint = format!("127.0.0.1:{rtp_port}");
    let mut st = rtmp_streamer(
        &s,
        &n,
        "h264",
        None,
        rtmp_port,
        &[
            "--rtp",
            "--rtp-endpoint",
            &rtp_endpoint,
            "--bitrate-kbps",
            "8000",
            "--queue-size",
            "4",
        ],
    );
    let frames_s = frames.to_string();
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", &frames_s, "--fps", "30", "--width", "1280", "--height", "720",
        ],
    );
    assert_exit(&mut rtp_rx, T, 0);
    assert_exit(&mut stub_rx, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);

    let rx = rx_report(&s);
    assert_eq!(rx["result"], "pass", "{rx}");
    let sum = summary(&s);
    let stats = &sum["stats"];
    assert_eq!(stats["rtp_units_dropped"], 0, "{sum}");
    assert!(stats["rtmp_units_dropped"].as_u64().unwrap() > 0, "{sum}");
    let forced = stats["keyframes_forced"].as_u64().unwrap();
    eprintln!(
        "RTP units {} complete, {} keyframes; RTMP dropped {}; keyframes forced {forced}",
        rx["access_units_complete"], rx["keyframes"], stats["rtmp_units_dropped"]
    );
    assert!(forced <= 2, "the stall forced {forced} keyframes: {sum}");
    // GOP 30: one keyframe a second, plus at most the forced ones.
    let keyframes = rx["keyframes"].as_u64().unwrap();
    assert!(
        keyframes <= frames / 30 + 1 + forced,
        "RTP saw {keyframes} keyframes in {frames} frames: {rx}"
    );
    let events = s.path("streamer.events.jsonl");
    let began = common::events(&events, "sink_stall_began");
    assert!(
        !began.is_empty() && began.iter().all(|e| e["sink"] == "rtmp"),
        "{began:?}"
    );
    assert!(!common::events(&events, "sink_stall_ended").is_empty());
}

/// A streamer publishing 720p at 8 Mbit/s to a stub that stops reading
/// after 1.5 s for a minute; returns once the RTMP sink's queue is full
/// (its `sink_stall_began` event): its thread is blocked on the socket.
fn streamer_stuck_on_a_stalled_server(s: &Scratch, n: &Names) -> (Proc, Proc, Proc) {
    let port = free_tcp_port();
    let rx = stub(
        s,
        "stub",
        "h264",
        port,
        &[
            "--video-threshold",
            "100000",
            "--stall-after-ms",
            "1500",
            "--stall-ms",
            "60000",
        ],
    );
    let st = rtmp_streamer(s, n, "h264", None, port, &["--bitrate-kbps", "8000"]);
    let sm = sim(
        s,
        n,
        &[
            "--frames", "1800", "--fps", "30", "--width", "1280", "--height", "720",
        ],
    );
    let events = s.path("streamer.events.jsonl");
    assert!(
        common::wait_for_event(&events, "sink_stall_began", Duration::from_secs(30)),
        "{}",
        st.output()
    );
    (rx, st, sm)
}

/// Issue 13, defect 10: a slow RTMP peer held the exit for 20 s per queued
/// unit (the write timeout). A stop now ends within the 3 s shutdown
/// deadline: the stuck sink is aborted (its socket closed).
#[test]
fn e2e_rtmp_a_stop_during_a_stall_ends_within_the_shutdown_deadline() {
    let s = Scratch::new("e2e_rtmp_stop_stall");
    let n = names("ss");
    let (mut rx, mut st, mut sm) = streamer_stuck_on_a_stalled_server(&s, &n);
    let t = std::time::Instant::now();
    st.signal(libc::SIGINT);
    let code = st.wait_code(Duration::from_secs(30));
    let took = t.elapsed();
    sm.signal(libc::SIGINT);
    rx.signal(libc::SIGKILL);
    let _ = (sm.wait_code(T), rx.wait(T));
    assert_eq!(code, 0, "{}", st.output());
    // 3 s deadline, plus ingest and encoder draining on a loaded host.
    assert!(took < Duration::from_secs(7), "the stop took {took:?}");
    assert!(
        st.output().contains("shutdown deadline"),
        "the sink was not aborted: {}",
        st.output()
    );
}

/// Issue 13, defect 10: one signal only. A second SIGINT during the clean
/// stop exits at once with 130.
#[test]
fn e2e_a_second_signal_exits_at_once() {
    let s = Scratch::new("e2e_second_signal");
    let n = names("s2");
    let (mut rx, mut st, mut sm) = streamer_stuck_on_a_stalled_server(&s, &n);
    st.signal(libc::SIGINT);
    // The first signal is being handled (the stop has begun: its
    // ingest ended) before the second one comes.
    let events = s.path("streamer.events.jsonl");
    assert!(
        common::wait_for_event(&events, "ingest_ended", Duration::from_secs(10)),
        "{}",
        st.output()
    );
    let t = std::time::Instant::now();
    st.signal(libc::SIGINT);
    let code = st.wait_code(Duration::from_secs(30));
    let took = t.elapsed();
    sm.signal(libc::SIGINT);
    rx.signal(libc::SIGKILL);
    let _ = (sm.wait_code(T), rx.wait(T));
    assert_eq!(code, 130, "{}", st.output());
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

/// Issue 13, defect 9: the stream key was printed in logs and could only
/// be given on the command line (visible in `ps`). CVMMAP_RTMP_URL holds
/// it now, and nothing the streamer writes shows it.
#[test]
fn e2e_rtmp_url_from_the_environment_never_shows_the_key() {
    let s = Scratch::new("e2e_rtmp_env_url");
    let n = names("ek");
    let port = free_tcp_port();
    let key = "s3cr3t-key-4242";
    let mut rx = stub(&s, "stub", "h264", port, &["--video-threshold", "30"]);
    let url = format!("rtmp://127.0.0.1:{port}/live/{key}");
    let summary = s.path("summary.json");
    let events = s.path("streamer.events.jsonl");
    let mut st = Proc::spawn_env(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--shm-name",
            &n.shm,
            "--zmq-endpoint",
            &n.ipc,
            "--rtmp",
            "--summary-json",
            summary.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--ingest-idle-timeout-ms",
            "2000",
        ],
        &[("CVMMAP_RTMP_URL", &url), ("RUST_LOG", "debug")],
        s.path("streamer.log"),
    );
    assert!(
        common::wait_for_event(&events, "ingest_started", Duration::from_secs(20)),
        "{}",
        st.output()
    );
    let mut sm = sim(&s, &n, &["--frames", "60", "--fps", "30"]);
    assert_exit(&mut rx, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    assert_eq!(
        json(&s, "stub")["stream_name"],
        key,
        "published under the key"
    );
    for file in ["streamer.log", "summary.json", "streamer.events.jsonl"] {
        let text = std::fs::read_to_string(s.path(file)).unwrap();
        assert!(!text.contains(key), "{file} shows the stream key:\n{text}");
    }
    assert!(st.output().contains("live/***"), "{}", st.output());
}

/// Issue 13, defect 6: a producer with B-frames writes its units in decode
/// order, each with its own `stream_pts_ns`. Passthrough published them
/// with DTS = PTS = the time of the frame that carried each, so players
/// showed B-frames in decode order. A modern ffmpeg, listening as the RTMP
/// server, records the stream untouched; ffprobe decodes the recording:
/// the frames' timestamps must rise in output order, and the packets carry
/// composition offsets (PTS > DTS).
#[test]
fn e2e_passthrough_keeps_producer_b_frames_in_presentation_order() {
    let s = Scratch::new("e2e_rtmp_bframes");
    let n = names("rb");
    let port = free_tcp_port();
    let flv = s.path("out.flv");
    let mut ff = ffmpeg_server(
        &s,
        port,
        &["-c", "copy", "-f", "flv", "-y", flv.to_str().unwrap()],
    );
    let mut st = rtmp_streamer(&s, &n, "h264", None, port, &["--passthrough"]);
    let mut sm = sim(
        &s,
        &n,
        &[
            "--abi",
            "v2.1",
            "--encoded-codec",
            "h264",
            "--encoded-bframes",
            "2",
            "--frames",
            "90",
            "--fps",
            "30",
            "--width",
            "320",
            "--height",
            "240",
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    ff.wait(Duration::from_secs(20));
    let stats = &summary(&s)["stats"];
    assert_eq!(stats["frames_encoded"], 0, "{stats}");
    assert_eq!(stats["passthrough_dts_adjusted"], 0, "{stats}");
    let probe = |entries: &str| -> Vec<Vec<i64>> {
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                entries,
            ])
            .args(["-of", "csv=p=0", flv.to_str().unwrap()])
            .output()
            .expect("ffprobe");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split(',').filter_map(|v| v.trim().parse().ok()).collect())
            .collect()
    };
    let frames: Vec<i64> = probe("frame=pts")
        .into_iter()
        .filter_map(|v| v.first().copied())
        .collect();
    assert!(
        frames.len() >= 80,
        "decoded {} frames:\n{}",
        frames.len(),
        ff.output()
    );
    for w in frames.windows(2) {
        assert!(w[1] > w[0], "frames out of presentation order: {frames:?}");
    }
    let packets = probe("packet=pts,dts");
    // bframes=2 without pyramid: I and P carry an offset, B-frames none,
    // so about one packet in three.
    let offsets = packets
        .iter()
        .filter(|p| p.len() == 2 && p[0] > p[1])
        .count();
    assert!(
        offsets * 4 >= packets.len(),
        "few composition offsets: {packets:?}"
    );
    assert!(
        packets.iter().all(|p| p.len() == 2 && p[0] >= p[1]),
        "{packets:?}"
    );
}

/// Several `--rtmp-url`s: each destination its own queue, session and
/// reconnects. Of three servers, one stops reading for good and one is
/// killed mid-stream; the third still gets every frame the streamer
/// encoded, with nothing dropped in front of it, and the summary counts
/// each destination apart.
#[test]
fn e2e_rtmp_three_destinations_one_stalls_one_dies_the_third_keeps_every_frame() {
    let s = Scratch::new("e2e_rtmp_multi");
    let n = names("rmd");
    let ports = [free_tcp_port(), free_tcp_port(), free_tcp_port()];
    let stalled = stub(
        &s,
        "stalled",
        "h264",
        ports[0],
        &[
            "--video-threshold",
            "100000",
            "--stall-after-ms",
            "2000",
            "--stall-ms",
            "60000",
        ],
    );
    let dying = stub(
        &s,
        "dying",
        "h264",
        ports[1],
        &["--video-threshold", "100000"],
    );
    let mut healthy = stub(
        &s,
        "healthy",
        "h264",
        ports[2],
        &["--video-threshold", "285", "--until-unpublish"],
    );
    let urls: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("rtmp://127.0.0.1:{p}/live/cam{i}"))
        .collect();
    let summary_path = s.path("summary.json");
    let events = s.path("streamer.events.jsonl");
    let mut args = vec![
        "--codec",
        "h264",
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
        "--events",
        events.to_str().unwrap(),
        "--rtmp",
        "--summary-json",
        summary_path.to_str().unwrap(),
        "--ingest-idle-timeout-ms",
        "3000",
        "--bitrate-kbps",
        "8000",
        "--queue-size",
        "4",
    ];
    for u in &urls {
        args.extend(["--rtmp-url", u.as_str()]);
    }
    let mut st = Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"));
    assert!(
        common::wait_for_event(&events, "ingest_started", Duration::from_secs(20)),
        "{}",
        st.output()
    );
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "1280", "--height", "720",
        ],
    );
    // When the first server stops reading, the second one dies.
    assert!(
        common::wait_for_log(&stalled, "stalling", Duration::from_secs(20)),
        "{}",
        stalled.output()
    );
    dying.signal(9);
    assert_exit(&mut healthy, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    stalled.signal(9);

    let sum = summary(&s);
    let stats = &sum["stats"];
    let dest = stats["rtmp_destinations"]
        .as_array()
        .expect("per destination");
    assert_eq!(dest.len(), 3, "{sum}");
    for (i, d) in dest.iter().enumerate() {
        assert_eq!(
            d["url"],
            format!("rtmp://127.0.0.1:{}/live/***", ports[i]),
            "{d}"
        );
    }
    let encoded = stats["frames_encoded"].as_u64().unwrap();
    let h = json(&s, "healthy");
    eprintln!(
        "encoded {encoded}; healthy got {} frames; destinations {dest:?}",
        h["video_frames"]
    );
    assert_eq!(h["result"], "pass", "{h}");
    assert_eq!(dest[2]["rtmp_units_dropped"], 0, "{sum}");
    assert_eq!(dest[2]["rtmp_units_sent"].as_u64(), Some(encoded), "{sum}");
    assert_eq!(h["video_frames"].as_u64(), Some(encoded), "{h}");
    assert_eq!(dest[2]["rtmp_reconnects"], 0, "{sum}");
    // The other two lost units, each on its own account.
    assert!(dest[0]["rtmp_units_dropped"].as_u64().unwrap() > 0, "{sum}");
    assert!(dest[1]["rtmp_units_dropped"].as_u64().unwrap() > 0, "{sum}");
    let total: u64 = dest
        .iter()
        .map(|d| d["rtmp_units_dropped"].as_u64().unwrap())
        .sum();
    assert_eq!(stats["rtmp_units_dropped"].as_u64(), Some(total), "{sum}");
    // The killed server's session ended mid-stream; the healthy one's never
    // (the stalled one's socket is closed by the shutdown deadline at the end).
    let gone = common::events(&events, "rtmp_disconnected");
    assert!(gone.iter().any(|e| e["destination"] == 1), "{gone:?}");
    assert!(!gone.iter().any(|e| e["destination"] == 2), "{gone:?}");
}

/// With several destinations a server that refuses the stream retires only
/// itself (event `rtmp_refused`); the others stream on and the run ends 0.
#[test]
fn e2e_rtmp_a_refused_destination_retires_alone() {
    let s = Scratch::new("e2e_rtmp_refused_one");
    let ports = [free_tcp_port(), free_tcp_port()];
    let refusing = stub(&s, "refusing", "h264", ports[0], &["--reject-publish"]);
    let mut good = stub(&s, "good", "h264", ports[1], &["--video-threshold", "50"]);
    let events = s.path("streamer.events.jsonl");
    let u0 = format!("rtmp://127.0.0.1:{}/live/a", ports[0]);
    let u1 = format!("rtmp://127.0.0.1:{}/live/b", ports[1]);
    let mut st = Proc::spawn(
        &bin("cvmmap_streamer"),
        &[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "90",
            "--no-nats",
            "--events",
            events.to_str().unwrap(),
            "--rtmp",
            "--rtmp-url",
            &u0,
            "--rtmp-url",
            &u1,
        ],
        s.path("streamer.log"),
    );
    assert_exit(&mut good, T, 0);
    assert_exit(&mut st, T, 0);
    let refused = common::events(&events, "rtmp_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["destination"], 0);
    refusing.signal(9);
}

// --- RTMPS (issue 17) --------------------------------------------------------

/// The stub serving RTMP over TLS (`--tls`), its certificate written to
/// `<tag>.ca.pem` before it listens; gives up after `timeout_ms`.
fn tls_stub(s: &Scratch, tag: &str, port: u16, timeout_ms: u64, extra: &[&str]) -> Proc {
    let ca = s.path(&format!("{tag}.ca.pem"));
    let mut args = vec!["--tls", "--tls-cert-out", ca.to_str().unwrap()];
    args.extend_from_slice(extra);
    plain_stub(s, tag, port, timeout_ms, &args)
}

/// The stub in H.264 mode with its own timeout (`stub` fixes 30 s).
fn plain_stub(s: &Scratch, tag: &str, port: u16, timeout_ms: u64, extra: &[&str]) -> Proc {
    let json = s.path(&format!("{tag}.json"));
    let (port_arg, timeout) = (port.to_string(), timeout_ms.to_string());
    let mut args = vec![
        "--mode",
        "h264",
        "--listen-port",
        &port_arg,
        "--timeout-ms",
        &timeout,
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let p = Proc::spawn(
        &bin("rtmp_stub_tester"),
        &args,
        s.path(&format!("{tag}.log")),
    );
    assert!(
        wait_tcp_listening(port, Duration::from_secs(10)),
        "stub not listening:\n{}",
        p.output()
    );
    p
}

/// The streamer on its dummy source publishing to `url`.
fn dummy_publisher(s: &Scratch, url: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "--codec",
        "h264",
        "--input-mode",
        "dummy",
        "--rtmp",
        "--rtmp-url",
        url,
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"))
}

/// The streamer publishing to rtmps://127.0.0.1:<port>/live/cam, trusting
/// the certificate of the stub `ca_tag`; ready when its ingest listens.
fn rtmps_streamer(s: &Scratch, n: &Names, port: u16, ca_tag: &str, extra: &[&str]) -> Proc {
    let ca = s.path(&format!("{ca_tag}.ca.pem"));
    let url = format!("rtmps://127.0.0.1:{port}/live/cam");
    let events = s.path("streamer.events.jsonl");
    let summary = s.path("summary.json");
    let mut args = vec![
        "--codec",
        "h264",
        "--shm-name",
        &n.shm,
        "--zmq-endpoint",
        &n.ipc,
        "--events",
        events.to_str().unwrap(),
        "--rtmp",
        "--rtmp-url",
        &url,
        "--rtmp-ca",
        ca.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--ingest-idle-timeout-ms",
        "3000",
    ];
    args.extend_from_slice(extra);
    let p = Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"));
    assert!(
        common::wait_for_event(&events, "ingest_started", Duration::from_secs(20)),
        "{}",
        p.output()
    );
    p
}

/// Waits until `needle` appears `count` times in the process's log.
fn wait_for_log_lines(p: &Proc, needle: &str, count: usize, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if p.output().matches(needle).count() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `rtmps://` end to end: TLS to the stub with its certificate as the only
/// root (`--rtmp-ca`); the same checks as the plain H.264 row.
#[test]
fn e2e_rtmps_h264_with_the_stub_certificate_as_ca() {
    let s = Scratch::new("e2e_rtmps_row");
    let n = names("rs");
    let port = free_tcp_port();
    let mut st_rx = tls_stub(
        &s,
        "stub",
        port,
        30_000,
        &["--video-threshold", "285", "--until-unpublish"],
    );
    let mut st = rtmps_streamer(&s, &n, port, "stub", &["--queue-size", "4"]);
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames", "300", "--fps", "30", "--width", "640", "--height", "360",
        ],
    );
    assert_exit(&mut st_rx, T, 0);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let r = json(&s, "stub");
    assert_eq!(r["result"], "pass", "{r}");
    assert_eq!(r["tls"], true, "{r}");
    assert_eq!(r["tls_handshake_failures"], 0, "{r}");
    assert!(r["video_frames"].as_u64().unwrap() >= 285, "{r}");
    assert_eq!(r["metadata_ok"], true, "{r}");
    assert_eq!(r["first_frame_keyframe"], true, "{r}");
    assert_eq!(r["timestamp_regressions"], 0, "{r}");
    // The tcUrl keeps the scheme; the key never shows in our log.
    assert_eq!(r["tc_url"], format!("rtmps://127.0.0.1:{port}/live"), "{r}");
    let commands = r["commands"].to_string();
    assert!(commands.contains("deleteStream"), "{commands}");
    assert!(!st.output().contains("/live/cam"), "{}", st.output());
}

/// A certificate the streamer does not trust: every attempt ends in the
/// TLS handshake (logged, retried with backoff) and not one byte of RTMP
/// reaches the server.
#[test]
fn e2e_rtmps_untrusted_certificate_never_publishes() {
    let s = Scratch::new("e2e_rtmps_untrusted");
    let port = free_tcp_port();
    // Another stub's certificate: a valid CA file, for the wrong server.
    let other_port = free_tcp_port();
    let mut other = tls_stub(&s, "other", other_port, 60_000, &[]);
    other.signal(libc::SIGKILL);
    let _ = other.wait(T);
    let wrong_ca = s.path("other.ca.pem");

    let mut st_rx = tls_stub(&s, "stub", port, 6_000, &[]);
    let url = format!("rtmps://127.0.0.1:{port}/live/cam");
    let mut st = dummy_publisher(&s, &url, &["--rtmp-ca", wrong_ca.to_str().unwrap()]);
    // The stub gives up at its timeout without a frame.
    assert_exit(&mut st_rx, T, 124);
    let r = json(&s, "stub");
    assert_eq!(r["video_frames"], 0, "{r}");
    assert_eq!(r["handshake_c2_echo"], serde_json::Value::Null, "{r}");
    assert!(
        r["tls_handshake_failures"].as_u64().unwrap() >= 2,
        "retried: {r}"
    );
    st.signal(libc::SIGINT);
    let _ = st.wait(T);
    let log = st.output();
    let line = log
        .lines()
        .find(|l| l.contains("RTMP connect failed"))
        .unwrap_or_else(|| panic!("no connect failure logged:\n{log}"));
    assert!(
        line.contains("invalid peer certificate: UnknownIssuer"),
        "{line}"
    );
    assert!(!log.contains("panicked"), "{log}");
    eprintln!("untrusted certificate: {line}");
}

/// `rtmps://` to a plain RTMP server: the handshake fails cleanly (the
/// server sees a TLS ClientHello, never plaintext RTMP) and is retried.
#[test]
fn e2e_rtmps_to_a_plain_server_fails_the_handshake_and_retries() {
    let s = Scratch::new("e2e_rtmps_plain");
    let port = free_tcp_port();
    let mut st_rx = plain_stub(&s, "stub", port, 10_000, &[]);
    let ca = s.path("unused.ca.pem");
    std::fs::write(
        &ca,
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .unwrap()
            .cert
            .pem(),
    )
    .unwrap();
    let url = format!("rtmps://127.0.0.1:{port}/live/cam");
    let mut st = dummy_publisher(&s, &url, &["--rtmp-ca", ca.to_str().unwrap()]);
    // 0x16 is a TLS handshake record (RFC 8446 §5.1): where RTMP's C0
    // would be, the stub sees TLS and stops with a protocol violation.
    assert_exit(&mut st_rx, T, 7);
    let r = json(&s, "stub");
    assert!(
        r["error"].as_str().unwrap_or("").contains("C0 version 22"),
        "{r}"
    );
    assert!(
        wait_for_log_lines(&st, "RTMP connect failed", 2, Duration::from_secs(10)),
        "not retried:\n{}",
        st.output()
    );
    st.signal(libc::SIGINT);
    let code = st.wait_code(T);
    let log = st.output();
    assert!(log.contains("TLS handshake with 127.0.0.1"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(code, 0, "{log}");
}

/// The stall test over TLS: the server stops reading, the pump's bounded
/// buffers fill, the session's writes block and the sink drops whole units;
/// the stream resumes on a keyframe and memory stays bounded.
#[test]
fn e2e_rtmps_stalled_server_bounded_memory_and_resume_on_a_keyframe() {
    let s = Scratch::new("e2e_rtmps_stall");
    let n = names("rt");
    let port = free_tcp_port();
    let mut rx = tls_stub(&s, "stub", port, 30_000, &STALL_2S_FOR_5S);
    let mut st = rtmps_streamer(&s, &n, port, "stub", &["--bitrate-kbps", "8000"]);
    let r = stalled_stub_scenario(&s, &n, &mut rx, &mut st, "RTMPS");
    assert_eq!(
        (r["tls"].clone(), r["stalls"].clone()),
        (true.into(), 1.into()),
        "{r}"
    );
}
