//! The workspace binaries the harness drives, found next to the harness's own
//! executable (where `cargo build --workspace` leaves them) or in `--bin-dir`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::HarnessError;

pub const SIM: &str = "cvmmap_sim";
pub const STREAMER: &str = "cvmmap_streamer";
pub const RTP_RECEIVER: &str = "rtp_receiver_tester";
pub const RTMP_STUB: &str = "rtmp_stub_tester";

/// Paths of the four binaries; every one exists when this is built.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
    pub sim: PathBuf,
    pub streamer: PathBuf,
    pub rtp_receiver: PathBuf,
    pub rtmp_stub: PathBuf,
}

impl Binaries {
    /// Looks in `bin_dir`, else in the directory of the running executable.
    pub fn locate(bin_dir: Option<&Path>) -> Result<Self, HarnessError> {
        let dir = match bin_dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_exe()
                .map_err(|source| HarnessError::CurrentExe { source })?
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        let find = |name: &'static str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(HarnessError::MissingBinary {
                    name,
                    dir: dir.clone(),
                })
            }
        };
        Ok(Self {
            sim: find(SIM)?,
            streamer: find(STREAMER)?,
            rtp_receiver: find(RTP_RECEIVER)?,
            rtmp_stub: find(RTMP_STUB)?,
            dir,
        })
    }
}

impl Binaries {
    /// The binaries on the PATH of a container image (`--runtime container`):
    /// only their names matter, the image holds them in /usr/local/bin.
    pub fn in_image() -> Self {
        Self {
            dir: PathBuf::from("/usr/local/bin (in the image)"),
            sim: PathBuf::from(SIM),
            streamer: PathBuf::from(STREAMER),
            rtp_receiver: PathBuf::from(RTP_RECEIVER),
            rtmp_stub: PathBuf::from(RTMP_STUB),
        }
    }
}

/// Whether `program --help` mentions `flag`. Features still being added
/// elsewhere (NATS) are detected this way, so the harness runs both before
/// and after they land instead of failing on an unknown flag.
pub fn supports_flag(program: &Path, flag: &str) -> bool {
    // A bare name is a binary inside the container image (`--runtime
    // container`), built from this source tree: it takes every flag.
    if program.parent().is_some_and(|p| p.as_os_str().is_empty()) {
        return true;
    }
    Command::new(program)
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                .any(|word| word == flag)
        })
        .unwrap_or(false)
}
