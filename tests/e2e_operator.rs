//! The operator's surface of `cvmmap_streamer`. `--metrics-addr`: `/readyz` says 503 until a frame is encoded and 200
//! after; `/metrics` parses with a Prometheus text parser we did not write
//! (the `prometheus-parse` crate) and its counters move with the stream;
//! `/healthz` answers while the pipeline runs; junk gets 4xx, never a
//! crash; the port is let go when the pipeline ends.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::stack::{T, names, ready_streamer, sim};
use common::{Scratch, assert_exit, free_tcp_port, free_udp_port};

/// One request; (status code, body).
fn get(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

fn path(port: u16, p: &str) -> (u16, String) {
    get(port, &format!("GET {p} HTTP/1.1\r\nHost: x\r\n\r\n"))
        .unwrap_or_else(|| panic!("GET {p} failed"))
}

/// The samples of a scrape, by metric name (labels dropped, first sample).
fn scrape(port: u16) -> std::collections::HashMap<String, f64> {
    let (code, body) = path(port, "/metrics");
    assert_eq!(code, 200, "{body}");
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut out = std::collections::HashMap::new();
    for s in parsed.samples {
        let v = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        if s.metric == "cvmmap_encoder_info" {
            out.insert(
                format!("backend={}", s.labels.get("backend").unwrap_or("")),
                v,
            );
        }
        out.entry(s.metric).or_insert(v);
    }
    out
}

#[test]
fn metrics_health_and_readiness_follow_the_pipeline() {
    let s = Scratch::new("metrics");
    let n = names("metrics");
    let mport = free_tcp_port();
    let addr = format!("127.0.0.1:{mport}");
    let mut st = ready_streamer(
        &s,
        &n,
        free_udp_port(),
        "h264",
        &[
            "--no-nats",
            "--metrics-addr",
            &addr,
            "--ingest-idle-timeout-ms",
            "1500",
        ],
    );
    // Listening before the first frame: alive, not ready.
    assert_eq!(path(mport, "/healthz").0, 200);
    let (code, body) = path(mport, "/readyz");
    assert_eq!(code, 503, "{body}");
    let before = scrape(mport);
    assert_eq!(before["cvmmap_ready"], 0.0);
    assert_eq!(before["cvmmap_frames_encoded_total"], 0.0);
    assert_eq!(before.get("backend=software"), Some(&1.0), "{before:?}");

    let mut p = sim(
        &s,
        &n,
        &[
            "--frames", "90", "--fps", "30", "--width", "320", "--height", "240",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while path(mport, "/readyz").0 != 200 {
        assert!(Instant::now() < deadline, "never ready: {}", st.output());
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = scrape(mport);
    // Bad requests: answered, and the server goes on.
    assert_eq!(path(mport, "/nope").0, 404);
    assert_eq!(get(mport, "POST /metrics HTTP/1.1\r\n\r\n").unwrap().0, 405);
    assert_eq!(get(mport, "garbage\r\n\r\n").unwrap().0, 400);
    assert_eq!(
        get(
            mport,
            &format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(9000))
        )
        .map(|r| r.0),
        Some(400)
    );
    assert_exit(&mut p, T, 0);
    let later = scrape(mport);
    for counter in [
        "cvmmap_frames_ingested_total",
        "cvmmap_frames_encoded_total",
        "cvmmap_rtp_packets_sent_total",
    ] {
        assert!(later[counter] > 0.0, "{counter}: {later:?}");
        assert!(later[counter] >= first[counter], "{counter} went back");
    }
    assert!(later["cvmmap_frames_encoded_total"] >= 80.0, "{later:?}");
    assert!(later["cvmmap_uptime_seconds"] > first["cvmmap_uptime_seconds"]);
    assert_eq!(later["cvmmap_target_bitrate_kbps"], 2500.0);
    assert_exit(&mut st, T, 0);
    // The pipeline ended: so did the server.
    assert!(
        TcpStream::connect(("127.0.0.1", mport)).is_err(),
        "still listening"
    );
}

#[test]
fn a_metrics_address_in_use_is_a_configuration_error() {
    let s = Scratch::new("metrics_busy");
    let n = names("metrics_busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut st = common::stack::streamer(
        &s,
        &n,
        free_udp_port(),
        &["--no-nats", "--metrics-addr", &addr],
    );
    assert_exit(&mut st, T, 2);
    assert!(st.output().contains("--metrics-addr"), "{}", st.output());
    let mut st = common::stack::streamer(
        &s,
        &n,
        free_udp_port(),
        &["--no-nats", "--metrics-addr", "nowhere"],
    );
    assert_exit(&mut st, T, 2);
}

/// `--log-format json` (or `CVMMAP_LOG_FORMAT=json`): every stderr line is
/// one JSON object with the level, the target and the event's fields at
/// the top level (the encoder selection names its element).
#[test]
fn json_logs_are_one_object_a_line() {
    let s = Scratch::new("jsonlog");
    for (flag, env) in [(Some("json"), None), (None, Some("json"))] {
        let port = free_udp_port().to_string();
        let endpoint = format!("127.0.0.1:{port}");
        let mut args = vec![
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "10",
            "--codec",
            "h264",
            "--no-nats",
            "--rtp",
            "--rtp-endpoint",
            &endpoint,
            "--rtp-payload-type",
            "96",
        ];
        if let Some(f) = flag {
            args.extend(["--log-format", f]);
        }
        let envs: Vec<(&str, &str)> = env.map(|v| ("CVMMAP_LOG_FORMAT", v)).into_iter().collect();
        let mut p = common::Proc::spawn_env(
            &common::bin("cvmmap_streamer"),
            &args,
            &envs,
            s.path("streamer.log"),
        );
        assert_exit(&mut p, T, 0);
        let out = p.output();
        let mut selected = false;
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(v["level"].is_string() && v["target"].is_string(), "{line}");
            if v["message"] == "encoder selected" {
                assert_eq!(v["element"], "x264enc", "{line}");
                selected = true;
            }
        }
        assert!(selected, "{out}");
        let _ = std::fs::remove_file(s.path("streamer.log"));
    }
}

/// `--version` names the commit, the GStreamer runtime and the encoders
/// (here: no NVENC, and why; x264enc and x265enc installed); `probe --json`
/// says the same as data.
#[test]
fn version_and_probe_say_what_this_host_encodes_with() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(common::bin("cvmmap_streamer"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let v = run(&["--version"]);
    let first = v.lines().next().unwrap();
    assert!(
        first.starts_with("cvmmap_streamer ") && first.contains("(commit "),
        "{v}"
    );
    assert!(
        !first.contains("commit unknown"),
        "built from a git checkout: {v}"
    );
    assert!(v.contains("GStreamer: GStreamer 1."), "{v}");
    // NVENC usable (a GPU runner) or not, and why; the software encoders
    // are always installed here.
    for (codec, sw) in [("h264", "x264enc"), ("h265", "x265enc")] {
        let line = v
            .lines()
            .find(|l| l.starts_with(&format!("{codec}: NVENC: ")))
            .unwrap_or_else(|| panic!("{v}"));
        assert!(
            line.contains("usable") || line.contains("NVENC is absent"),
            "{line}"
        );
        assert!(
            line.contains(&format!("{sw} installed")) && line.contains("auto uses "),
            "{line}"
        );
    }
    assert_eq!(run(&["-V"]), v);
    let p: serde_json::Value = serde_json::from_str(&run(&["probe", "--json"])).unwrap();
    let codecs = p["encoders"]["codecs"].as_array().unwrap();
    assert_eq!(codecs.len(), 2, "{p}");
    for c in codecs {
        assert_eq!(c["software_installed"], true, "{p}");
        // Either an element or the reason there is none.
        assert!(
            c["nvenc"].is_string() == c["nvenc_reason"].as_str().unwrap().is_empty(),
            "{p}"
        );
        assert!(c["auto_uses"].is_string(), "{p}");
    }
    assert!(run(&["probe"]).contains("h265: NVENC: "));
}
