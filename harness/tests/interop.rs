//! `harness interop` on this machine: nginx with Debian's RTMP module is
//! started by the harness; its H.264 row must pass with ffmpeg decoding at
//! least 95% of the frames published, its two H.265 rows must be recorded
//! with their observations, and the servers not given (SRS, ZLMediaKit,
//! MediaMTX) must be skipped with a reason, never passed. Skips cleanly,
//! saying why, where nginx, its RTMP module or a modern ffmpeg is missing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The whole run: nine rows skip at once, three stream for about 10 s,
/// 5 s and 5 s plus start-up and player drain on a loaded two-core host.
const LIMIT: Duration = Duration::from_secs(180);

fn missing_prerequisite() -> Option<String> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !nginx {
        return Some("nginx is not installed (apt-get install nginx)".into());
    }
    let module = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
    if !Path::new(module).is_file() {
        return Some(format!(
            "{module} is missing (apt-get install libnginx-mod-rtmp)"
        ));
    }
    if std::env::var_os("CVMMAP_FFMPEG").is_none() {
        let ok = Command::new("python3")
            .args([
                "-c",
                "import imageio_ffmpeg; imageio_ffmpeg.get_ffmpeg_exe()",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(
                "no modern ffmpeg (pip install imageio-ffmpeg, or set CVMMAP_FFMPEG)".into(),
            );
        }
    }
    None
}

/// Runs `harness ARGS` with a deadline (killed past it, so a hang fails
/// the test instead of blocking the suite).
fn harness_bounded(args: &[&str], limit: Duration) -> std::process::Output {
    bin_dir();
    let mut child = Command::new(HARNESS)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run harness");
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            kill(child.id(), 15);
            let out = child.wait_with_output().unwrap();
            panic!(
                "harness interop ran past {} s:\n{}\n{}",
                limit.as_secs(),
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn nginx_rows_run_and_absent_servers_skip() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("SKIPPED nginx_rows_run_and_absent_servers_skip: {why}");
        return;
    }
    let ev = Scratch::new("interop");
    let out = harness_bounded(&["interop", "--evidence", ev.0.to_str().unwrap()], LIMIT);
    let stdout = exited(&out, 0);
    assert_eq!(
        stdout.lines().last(),
        Some("total=12 pass=1 fail=0 recorded=2 skip=9"),
        "{stdout}"
    );
    let run = run_dir(&stdout);
    let s = read(&run.join("summary.json"));
    assert_eq!(s["kind"], "interop_summary");
    assert_eq!(
        (s["outcome"].as_str(), s["status"].as_str()),
        (Some("pass"), Some("complete"))
    );
    assert!(
        s["tools"]["ffmpeg_version"]
            .as_str()
            .unwrap()
            .starts_with("ffmpeg version"),
        "{s:#}"
    );

    let h264 = read(&run.join("nginx_h264/result.json"));
    assert_eq!(h264["outcome"], "pass", "{h264:#}");
    assert_eq!(h264["server"]["how"], "started");
    assert!(
        h264["server"]["version"]
            .as_str()
            .unwrap()
            .contains("nginx/"),
        "{h264:#}"
    );
    let published = h264["counts"]["frames_published"].as_u64().unwrap();
    let decoded = h264["player"]["frames_decoded"].as_u64().unwrap();
    assert_eq!(published, 300, "{h264:#}");
    assert!(
        decoded * 100 >= published * 95,
        "{decoded} of {published}: {h264:#}"
    );
    let view = &h264["server_view"];
    assert_eq!(view["video_codec"], "H264", "{h264:#}");
    assert_eq!(
        (view["width"].as_u64(), view["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert!(view["bytes_in"].as_u64().unwrap() > 0, "{h264:#}");
    assert!(run.join("nginx_h264/stat.xml").is_file());
    assert!(run.join("server_nginx/nginx.conf").is_file());

    for row in ["nginx_h265_enhanced", "nginx_h265_domestic"] {
        let r = read(&run.join(format!("{row}/result.json")));
        assert_eq!(
            (r["outcome"].as_str(), r["judged"].as_bool()),
            (Some("recorded"), Some(false)),
            "{r:#}"
        );
        let obs = r["observations"].as_array().unwrap();
        assert!(obs.len() >= 3, "publish, server view and player: {r:#}");
        assert!(
            r["player"]["url"]
                .as_str()
                .unwrap()
                .starts_with("rtmp://127.0.0.1:"),
            "{r:#}"
        );
        assert!(
            r["reason"].as_str().unwrap().starts_with("recorded"),
            "{r:#}"
        );
    }

    for kind in ["srs", "zlm", "mediamtx"] {
        for mode in ["h264", "h265_enhanced", "h265_domestic"] {
            let r = read(&run.join(format!("{kind}_{mode}/result.json")));
            assert_eq!(r["outcome"], "skip", "{r:#}");
            let reason = r["reason"].as_str().unwrap();
            assert!(reason.contains("--server-url given"), "{reason}");
            assert_eq!(r["server"]["how"], "none");
        }
    }
}
