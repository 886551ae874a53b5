//! The container runtime (`--runtime container --image IMAGE`): every process
//! of a row runs in its own container of IMAGE, started with testcontainers.
//!
//! Wiring (checked by scripts/docker-smoke.sh, see docker/README.md):
//! - `--network host`: the free 127.0.0.1 ports the harness picks work as
//!   they do locally, for testers, RTMP and nats-server alike;
//! - `--ipc host`: the producer and the streamer share the host's /dev/shm,
//!   so segment names stay unique per run and leftovers are cleaned the same;
//! - bind mounts, at the same path inside, of the run's evidence folder (the
//!   processes write their JSON there) and of the run's socket folder (the
//!   ZeroMQ `ipc://` endpoints); both are made writable for the image's
//!   non-root user;
//! - the GPU (all of it, with the `video` capability NVENC needs) when the
//!   host has one.
//!
//! The containers' stdout and stderr are streamed into the same log files the
//! local runtime writes.

use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;

use serde::Serialize;
use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

use crate::HarnessError;

/// Which image runs, and how; recorded in every result.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerRuntime {
    /// As given (`name:tag`).
    pub image: String,
    /// The engine's image id (`sha256:…`), so evidence names the exact image.
    pub image_id: String,
    /// Whether the GPU was requested (the host has one).
    pub gpu_requested: bool,
    #[serde(skip)]
    mounts: Vec<PathBuf>,
}

fn docker(args: &[&str]) -> Option<String> {
    let out = Command::new("docker").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether a Docker engine answers here.
pub fn engine_answers() -> bool {
    docker(&["info", "--format", "{{.ServerVersion}}"]).is_some_and(|v| !v.is_empty())
}

/// Whether this host has an NVIDIA GPU to hand to containers.
fn host_has_gpu() -> bool {
    Path::new("/dev/nvidia0").exists() || Path::new("/dev/nvidiactl").exists()
}

impl ContainerRuntime {
    /// Checks the engine and the image; `mounts` are made world-writable
    /// (sticky) folders shared with every container.
    pub fn new(image: &str, mounts: Vec<PathBuf>) -> Result<Self, HarnessError> {
        if !engine_answers() {
            return Err(HarnessError::Container {
                reason: "no Docker engine answers (docker info failed)".into(),
            });
        }
        let image_id =
            docker(&["image", "inspect", "--format", "{{.Id}}", image]).ok_or_else(|| {
                HarnessError::Container {
                    reason: format!(
                        "image {image} is not present (build it: scripts/docker-build.sh)"
                    ),
                }
            })?;
        for m in &mounts {
            std::fs::create_dir_all(m).map_err(|e| HarnessError::io(m, e))?;
            std::fs::set_permissions(m, std::fs::Permissions::from_mode(0o1777))
                .map_err(|e| HarnessError::io(m, e))?;
        }
        Ok(Self {
            image: image.to_owned(),
            image_id,
            gpu_requested: host_has_gpu(),
            mounts,
        })
    }

    /// Folders created below a mount must be writable by the image's user too.
    pub fn share_dir(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
    }

    /// Starts `program args` (a binary on the image's PATH) in a container
    /// named `name`; its output goes to the two log files.
    pub fn start(
        &self,
        name: &str,
        program: &str,
        args: &[String],
        stdout_log: &Path,
        stderr_log: &Path,
    ) -> Result<ContainerProc, HarnessError> {
        let (repo, tag) = match self.image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (self.image.as_str(), "latest"),
        };
        let mut cmd = vec![program.to_owned()];
        cmd.extend(args.iter().cloned());
        let mut req = GenericImage::new(repo, tag)
            .with_wait_for(WaitFor::Nothing)
            .with_cmd(cmd)
            .with_network("host")
            .with_container_name(name)
            .with_env_var("RUST_LOG", "info")
            .with_env_var("NO_COLOR", "1")
            .with_host_config_modifier(|hc| hc.ipc_mode = Some("host".into()));
        for m in &self.mounts {
            let p = m.display().to_string();
            req = req.with_mount(Mount::bind_mount(p.clone(), p));
        }
        if self.gpu_requested {
            req = req.with_device_requests(vec![testcontainers::bollard::models::DeviceRequest {
                driver: Some("nvidia".into()),
                count: Some(-1),
                capabilities: Some(vec![vec![
                    "gpu".into(),
                    "video".into(),
                    "compute".into(),
                    "utility".into(),
                ]]),
                ..Default::default()
            }]);
        }
        let container = req.start().map_err(|e| HarnessError::Container {
            reason: format!("cannot start {program} in {}: {e}", self.image),
        })?;
        let pumps = vec![
            pump(container.stdout(true), stdout_log)?,
            pump(container.stderr(true), stderr_log)?,
        ];
        let host_pid = docker(&["inspect", "--format", "{{.State.Pid}}", container.id()])
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Ok(ContainerProc {
            container: Some(container),
            pumps,
            host_pid,
        })
    }
}

/// Copies one container stream into a log file until the stream ends.
fn pump(mut from: Box<dyn BufRead + Send>, to: &Path) -> Result<JoinHandle<()>, HarnessError> {
    let mut file = std::fs::File::create(to).map_err(|e| HarnessError::io(to, e))?;
    Ok(std::thread::spawn(move || {
        let mut buf = Vec::new();
        while let Ok(n) = from.read_until(b'\n', &mut buf) {
            if n == 0 || file.write_all(&buf).is_err() {
                break;
            }
            let _ = file.flush();
            buf.clear();
        }
    }))
}

/// One process in a container.
pub struct ContainerProc {
    container: Option<Container<GenericImage>>,
    pumps: Vec<JoinHandle<()>>,
    /// The process's pid on the host (for /proc sampling), 0 if unknown.
    pub host_pid: u32,
}

impl ContainerProc {
    /// The exit code once the container has stopped (a signal shows as
    /// 128 + signal, as the engine reports it).
    pub fn exit_code(&self) -> Option<i32> {
        let c = self.container.as_ref()?;
        match c.is_running() {
            Ok(false) => c.exit_code().ok().flatten().map(|code| code as i32),
            _ => None,
        }
    }

    /// SIGTERM, then SIGKILL after `grace_s` (docker stop).
    pub fn stop(&mut self, grace_s: i32) {
        if let Some(c) = &self.container {
            let _ = c.stop_with_timeout(Some(grace_s));
        }
    }

    /// SIGKILL at once.
    pub fn kill(&mut self) {
        if let Some(c) = &self.container {
            let _ = docker(&["kill", "--signal", "KILL", c.id()]);
        }
    }

    /// Waits for the log pumps (after the container stopped) and removes it.
    pub fn finish(&mut self) {
        for p in self.pumps.drain(..) {
            let _ = p.join();
        }
        if let Some(c) = self.container.take() {
            let _ = c.rm();
        }
    }
}

impl Drop for ContainerProc {
    fn drop(&mut self) {
        if self.exit_code().is_none() {
            self.stop(3);
        }
        self.finish();
    }
}
