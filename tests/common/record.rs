//! Recording checks shared by the recording tests, each with a reader we
//! did not write: Python's `mcap` readers (scripts/mcap_check.py), ffmpeg 9,
//! and our own `cvmmap_tools` as a process.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Proc, bin, modern_ffmpeg, unique};

/// Reads `mcap` with scripts/mcap_check.py; each video channel's payloads
/// and each image channel's images go to `dump_dir` (by default the file's
/// own directory).
pub fn mcap_check(mcap: &Path, dump_dir: Option<&Path>) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mcap_check.py");
    let dir = dump_dir
        .or(mcap.parent())
        .expect("a directory to dump into");
    let out = Command::new("python3")
        .arg(&script)
        .arg(mcap)
        .arg("--dump-dir")
        .arg(dir)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "the reference MCAP readers are missing (bash scripts/install-deps.sh installs them): {stderr}"
    );
    assert!(out.status.success(), "mcap_check failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("mcap_check prints JSON")
}

/// `cvmmap_tools` on `args`: (exit code, stdout and stderr).
pub fn tools(args: &[&str]) -> (i32, String) {
    let out = Command::new(bin("cvmmap_tools"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The last `frame=` count of ffmpeg's `-stats` lines.
fn frames_in(log: &str) -> u64 {
    log.rsplit("frame=")
        .next()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// ffmpeg 9 decodes the Annex-B elementary stream in `units` (a recorded
/// channel's payloads, concatenated): (frames decoded, its error lines).
pub fn ffmpeg_decode_units(units: &[Vec<u8>], codec: &str, scratch: &Path) -> (u64, String) {
    let es = scratch.join(format!("decode_{}.es", unique(codec)));
    std::fs::write(&es, units.concat()).unwrap();
    let demuxer = if codec == "h264" { "h264" } else { "hevc" };
    let o = Command::new(modern_ffmpeg())
        .args(["-v", "error", "-stats", "-f", demuxer, "-i"])
        .arg(&es)
        // Every decoded frame out, none dropped or repeated for a rate;
        // rawvideo checks no timestamps (an ES carries none: the null
        // muxer would complain of the ones ffmpeg makes up).
        .args([
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-y",
            "/dev/null",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    let errors = log
        .lines()
        .filter(|l| !l.contains("frame=") && !l.trim().is_empty())
        .filter(|l| !l.contains("dts to muxer"))
        .collect::<Vec<_>>()
        .join("\n");
    (frames_in(&log), errors)
}

/// ffmpeg 9 decodes an MP4: (frames decoded, its video stream line, its
/// error lines).
pub fn ffmpeg_mp4(mp4: &Path) -> (u64, String, String) {
    let o = Command::new(modern_ffmpeg())
        .arg("-i")
        .arg(mp4)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    let stream = log
        .lines()
        .find(|l| l.contains("Video:"))
        .unwrap_or("")
        .to_owned();
    let errors = log
        .lines()
        .filter(|l| l.contains("rror"))
        .collect::<Vec<_>>()
        .join("\n");
    (frames_in(&log), stream, errors)
}

/// Waits (20 s at most) until `p`'s log says `needle` `n` times.
pub fn wait_count(p: &Proc, needle: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.output().matches(needle).count() < n {
        assert!(Instant::now() < deadline, "{}", p.output());
        std::thread::sleep(Duration::from_millis(20));
    }
}
