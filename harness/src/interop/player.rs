//! The far-side player: a modern ffmpeg (the static build of the PyPI
//! package imageio-ffmpeg that scripts/install-deps.sh installs, or
//! `$CVMMAP_FFMPEG`, as the end-to-end tests find it) pulling the stream
//! back, decoding every frame into the null muxer, and counting them from
//! its stats line (`frame=N`, rewritten twice a second and printed one last
//! time when it ends, also on SIGTERM). Its `-progress` file is not used:
//! ffmpeg 9 leaves it empty when it is stopped by a signal.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::model::PlayerReport;
use super::server::version_line;
use crate::HarnessError;
use crate::supervisor::{Exit, Proc};

/// ffmpeg and its version line, or why there is none.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    pub program: PathBuf,
    pub version: Option<String>,
}

pub fn locate() -> Result<Ffmpeg, String> {
    let program = match std::env::var_os("CVMMAP_FFMPEG") {
        Some(p) => PathBuf::from(p),
        None => {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
                ])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| format!("python3: {e}"))?;
            if !out.status.success() {
                return Err(
                    "no modern ffmpeg: set $CVMMAP_FFMPEG or run scripts/install-deps.sh \
                     (pip install imageio-ffmpeg)"
                        .into(),
                );
            }
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    if !program.is_file() {
        return Err(format!("{} does not exist", program.display()));
    }
    let version = version_line(&program, &["-hide_banner", "-version"]);
    Ok(Ffmpeg { program, version })
}

/// Starts ffmpeg playing `url` into the null muxer, its logs in `dir`.
/// `-fps_mode passthrough`: one output frame per decoded
/// frame, none duplicated or dropped, so `frame=` counts decoded frames.
pub fn spawn(ff: &Ffmpeg, dir: &Path, url: &str) -> Result<Proc, HarnessError> {
    let args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "info",
        "-i",
        url,
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-f",
        "null",
        "-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Proc::spawn(dir, "player", &ff.program, args)
}

/// Ends a player that is still running: SIGTERM twice, a second apart.
/// ffmpeg takes the first as "finish", but a read blocked on the RTMP
/// socket is only interrupted by the second; either way it flushes its
/// decoder and prints its final stats line. KILL (through the supervisor)
/// only when that fails. Returns how it was ended, for the evidence.
pub fn finish(p: &mut Proc) -> Option<String> {
    for n in 1..=2 {
        if p.poll().is_some() {
            return (n > 1).then(|| {
                "SIGTERM once (its frame count stood still after the stream ended)".into()
            });
        }
        // SAFETY: kill(2) on our child, not reaped yet (poll said it runs),
        // so the pid cannot have been reused.
        unsafe { libc::kill(p.pid() as libc::pid_t, libc::SIGTERM) };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while p.poll().is_none() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    if p.poll().is_some() {
        return Some("SIGTERM twice (its frame count stood still after the stream ended)".into());
    }
    p.stop("did not end on two SIGTERMs");
    Some("SIGTERM twice, then SIGKILL: it did not end".into())
}

/// "exit N", "signal N" or "still running" (ffmpeg's and the servers'
/// codes are theirs, not the seed's documented ones).
pub fn exit_text(e: Option<Exit>) -> String {
    match e {
        Some(Exit::Code(c)) => format!("exit {c}"),
        Some(Exit::Signal(s)) => format!("killed by signal {s}"),
        None => "still running".into(),
    }
}

/// The last `frame=N` of ffmpeg's stats in its log (`frame=  150 fps=..`,
/// lines separated by `\r` while it runs).
pub fn frames_in_log(text: &str) -> Option<u64> {
    let at = text.rfind("frame=")?;
    let digits: String = text[at + "frame=".len()..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What the finished (or stopped) player reported.
pub fn report(
    ff: &Ffmpeg,
    url: &str,
    p: &mut Proc,
    stopped: Option<String>,
    counting: String,
) -> PlayerReport {
    let log = p.stderr_text();
    let stream_line = log
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Stream #0:") && l.contains("Video:"))
        .map(str::to_owned);
    // Stats lines end in `\r`, not `\n`: split on both, and leave them out.
    let errors = log
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.starts_with("frame="))
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("error") || lower.contains("invalid") || lower.contains("unsupported")
        })
        .take(5)
        .map(str::to_owned)
        .collect();
    PlayerReport {
        program: ff.program.display().to_string(),
        version: ff.version.clone(),
        url: url.to_owned(),
        frames_decoded: frames_in_log(&log),
        stream_line,
        errors,
        exit: Some(exit_text(p.poll())),
        stopped,
        counting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_frame_count() {
        let t = "Input #0\nframe=   10 fps=0.0 q=-0.0\rframe=  297 fps=30 q=-0.0 size=N/A\n";
        assert_eq!(frames_in_log(t), Some(297));
        assert_eq!(frames_in_log("no stats"), None);
    }
}
