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

/// A real recording of a live rig: `labels` cameras of 320x240 at 30 fps,
/// `frames` each, depth in millimetres, encoded with `codec`, by
/// `cvmmap_record` into `<dir>/<name>`, from one `cvmmap_sim --camera`
/// process. Returns the MCAP's path.
pub fn record_rig(
    dir: &Path,
    name: &str,
    labels: &[&str],
    codec: &str,
    frames: u32,
) -> std::path::PathBuf {
    let t = Duration::from_secs(60);
    // Contract §1: a namespace is [A-Za-z0-9][A-Za-z0-9._-]*.
    let ns = unique("tools").replace('_', "-");
    let out = dir.join(name);
    let targets: Vec<String> = labels
        .iter()
        .map(|l| format!("cvmmap://{l}@{}?namespace={ns}", dir.display()))
        .collect();
    let summary = dir.join(format!("{name}.summary.json"));
    let mut args: Vec<&str> = vec![
        "--codec",
        codec,
        "--no-nats",
        "--ingest-idle-timeout-ms",
        "2000",
        "--progress",
        "off",
        "-o",
        out.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    for t in &targets {
        args.extend(["--source", t.as_str()]);
    }
    let mut rec = Proc::spawn(
        &bin("cvmmap_record"),
        &args,
        dir.join(format!("{name}.record.log")),
    );
    wait_count(&rec, "ingest started", labels.len());
    let specs: Vec<String> = labels
        .iter()
        .map(|l| format!("{l}:30:0:{frames}"))
        .collect();
    let prefix = dir.display().to_string();
    let mut sim_args = vec![
        "--rig-prefix",
        prefix.as_str(),
        "--rig-namespace",
        ns.as_str(),
        "--width",
        "320",
        "--height",
        "240",
        "--depth-unit",
        "mm",
    ];
    for s in &specs {
        sim_args.extend(["--camera", s.as_str()]);
    }
    let mut sim = Proc::spawn(
        &bin("cvmmap_sim"),
        &sim_args,
        dir.join(format!("{name}.sim.log")),
    );
    super::assert_exit(&mut sim, t, 0);
    super::assert_exit(&mut rec, t, 0);
    // Cameras started together: each begins at the keyframe asked for at
    // the common start. (Asked for "at the next frame", it once landed on a
    // frame still in flight before the start and was trimmed with it: no
    // video at all for that camera in 4 of 15 recordings.)
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    for cam in s["cameras"].as_array().unwrap() {
        assert!(
            cam["trimmed"]["waiting_keyframe"].as_u64().unwrap() <= 1
                && cam["written"].as_u64().unwrap() * 4 >= u64::from(frames) * 3,
            "{s}"
        );
    }
    out
}

/// ffprobe's packets of the first video stream of `mp4`, each as its
/// length-prefixed NAL units (4-byte lengths: `avc`/`hvc1` as our muxer
/// writes them) split out.
pub fn mp4_samples(mp4: &Path) -> Vec<Vec<Vec<u8>>> {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_packets",
            "-show_data",
        ])
        .arg(mp4)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let mut packets = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for line in text.lines() {
        if line == "data=" {
            cur = Some(Vec::new());
        } else if line == "[/PACKET]" {
            if let Some(bytes) = cur.take() {
                packets.push(bytes);
            }
        } else if let Some(bytes) = cur.as_mut() {
            // "00000000: 0000 0001 6764 ...  ASCII": 8 groups of hex.
            let hex: String = line.get(10..49).unwrap_or("").split_whitespace().collect();
            for i in (0..hex.len()).step_by(2) {
                bytes.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
            }
        }
    }
    packets
        .iter()
        .map(|p| {
            let mut nals = Vec::new();
            let mut at = 0;
            while at + 4 <= p.len() {
                let n = u32::from_be_bytes(p[at..at + 4].try_into().unwrap()) as usize;
                nals.push(p[at + 4..(at + 4 + n).min(p.len())].to_vec());
                at += 4 + n;
            }
            nals
        })
        .collect()
}

/// The units of a `.units` dump (u32 LE length, then the bytes).
pub fn read_units(path: &Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= b.len() {
        let n = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        out.push(b[at + 4..at + 4 + n].to_vec());
        at += 4 + n;
    }
    out
}

/// One decoded picture of `file` (video or PNG) at `seek` seconds, as RGB:
/// (width, height, pixels), by ffmpeg 9.
pub fn ffmpeg_rgb_frame(file: &Path, seek: f64) -> (u32, u32, Vec<u8>) {
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    let dims = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    let (w, h) = dims
        .split_once(',')
        .unwrap_or_else(|| panic!("ffprobe: {dims:?}"));
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let o = Command::new(modern_ffmpeg())
        .args(["-v", "error", "-ss", &seek.to_string(), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert_eq!(
        o.stdout.len(),
        (w * h * 3) as usize,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (w, h, o.stdout)
}
