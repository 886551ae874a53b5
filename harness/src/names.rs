//! Shared-memory names and ipc socket paths unique to a run and a row: they
//! carry the harness's pid and the run's random token, so concurrent runs
//! (and leftovers of a killed one) never collide.

use std::path::PathBuf;

/// Name parts common to every row of one run.
#[derive(Debug, Clone)]
pub struct RunNames {
    pid: u32,
    token: String,
}

/// Where one row's producer and streamer meet.
#[derive(Debug, Clone)]
pub struct RowNames {
    /// POSIX shm name (the segment is /dev/shm/NAME).
    pub shm: String,
    /// ZeroMQ endpoint, `ipc://` + [`RowNames::ipc_path`].
    pub endpoint: String,
    pub ipc_path: PathBuf,
}

impl RunNames {
    pub fn new(token: &str) -> Self {
        Self {
            pid: std::process::id(),
            token: token.to_owned(),
        }
    }

    pub fn row(&self, row: &str) -> RowNames {
        let shm = format!("cvh_{}_{}_{row}", self.pid, self.token);
        // /tmp rather than the evidence folder: a Unix socket path must stay
        // under 108 bytes, and evidence folders can be deep.
        let ipc_path = std::env::temp_dir().join(format!("{shm}.ipc"));
        RowNames {
            endpoint: format!("ipc://{}", ipc_path.display()),
            shm,
            ipc_path,
        }
    }
}

impl RowNames {
    /// Removes the segment and the socket if a killed producer left them;
    /// they are ours alone (pid + token), so this cannot hurt anyone else.
    pub fn clean_up(&self) {
        let _ = std::fs::remove_file(PathBuf::from("/dev/shm").join(&self.shm));
        let _ = std::fs::remove_file(&self.ipc_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_pid_and_token() {
        let r = RunNames::new("3f2a").row("rtp_h264");
        assert!(r.shm.contains(&std::process::id().to_string()));
        assert!(r.shm.ends_with("_3f2a_rtp_h264"));
        assert!(r.endpoint.starts_with("ipc:///"));
        assert!(r.endpoint.ends_with(".ipc"));
    }
}
