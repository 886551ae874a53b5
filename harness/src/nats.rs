//! A private `nats-server` for one run: on ports the server picks itself
//! (`-p -1 -m -1`, read back from its ports file, so no race with other
//! runs), ready once it accepts TCP, stopped when dropped. Its monitoring
//! endpoint's connection counter shows whether a row's processes actually
//! connected, which is how the evidence tells "took part" from "was told".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::evidence::RunDir;
use crate::model::RunNats;
use crate::supervisor::Proc;

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("nats-server is not installed (looked for /usr/sbin/nats-server and on PATH)")]
    NotInstalled,
    #[error("cannot start {program}: {detail}")]
    Start { program: PathBuf, detail: String },
    #[error("nats-server wrote no ports file in {dir} within {waited_ms} ms")]
    NoPorts { dir: PathBuf, waited_ms: u64 },
    #[error("nats-server does not accept TCP on {addr} within {waited_ms} ms")]
    NotAccepting { addr: String, waited_ms: u64 },
}

pub struct NatsServer {
    proc: Proc,
    pub url: String,
    pub monitoring_url: String,
    pub version: Option<String>,
    monitor: SocketAddr,
}

/// `/usr/sbin/nats-server` (Debian's package), else the first on PATH.
pub fn find() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nats-server");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The first `scheme://host:port` of `key` in the ports file's JSON.
fn addr_of(ports: &serde_json::Value, key: &str) -> Option<SocketAddr> {
    let url = ports.get(key)?.get(0)?.as_str()?;
    url.split_once("://")?.1.parse().ok()
}

impl NatsServer {
    /// Starts the server with its logs and ports file in `dir`.
    pub fn start(dir: &Path) -> Result<Self, NatsError> {
        let program = find().ok_or(NatsError::NotInstalled)?;
        let version = std::process::Command::new(&program)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .map(|s| s.rsplit(' ').next().unwrap_or_default().to_owned())
            .filter(|s| !s.is_empty());
        let args = [
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-m",
            "-1",
            "--ports_file_dir",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(dir.display().to_string());
        let mut proc =
            Proc::spawn(dir, "nats-server", &program, args).map_err(|e| NatsError::Start {
                program: program.clone(),
                detail: e.to_string(),
            })?;
        let ports_file = dir.join(format!("nats-server_{}.ports", proc.pid()));
        let started = Instant::now();
        let limit = Duration::from_secs(10);
        let ports = loop {
            let parsed = std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            if let Some(p) = parsed
                .as_ref()
                .and_then(|p| Some((addr_of(p, "nats")?, addr_of(p, "monitoring")?)))
            {
                break p;
            }
            if started.elapsed() > limit || proc.poll().is_some() || crate::interrupt::requested() {
                return Err(NatsError::NoPorts {
                    dir: dir.to_path_buf(),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (client, monitor) = ports;
        while TcpStream::connect_timeout(&client, Duration::from_millis(200)).is_err() {
            if started.elapsed() > limit || proc.poll().is_some() {
                return Err(NatsError::NotAccepting {
                    addr: client.to_string(),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!(url = %client, version = ?version, "nats-server ready");
        Ok(Self {
            proc,
            url: format!("nats://{client}"),
            monitoring_url: format!("http://{monitor}"),
            version,
            monitor,
        })
    }

    /// Client connections the server has accepted so far (`/varz`
    /// `total_connections`); None when the monitor does not answer. Our own
    /// readiness probe above counts as one, hence deltas are what matter.
    pub fn total_connections(&self) -> Option<u64> {
        let mut s = TcpStream::connect_timeout(&self.monitor, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let body = text.split_once("\r\n\r\n")?.1;
        let varz: serde_json::Value = serde_json::from_str(body).ok()?;
        varz.get("total_connections")?.as_u64()
    }

    /// Whether it still runs (it should for the whole run).
    pub fn alive(&mut self) -> bool {
        self.proc.poll().is_none()
    }
}

/// The run's nats-server, with its logs in `<run>/nats/`, and what the
/// summary says about it; `takers` are the binaries that get its URL, with
/// whether their `--help` lists `--nats-url`. A server that cannot start is
/// a reason in the summary, not an error: the run goes on without NATS.
pub fn start_for_run(
    run: &RunDir,
    takers: &[(&str, bool)],
) -> Result<(Option<NatsServer>, RunNats), HarnessError> {
    let mut info = RunNats {
        present: false,
        url: None,
        version: None,
        monitoring_url: None,
        passed_to: Vec::new(),
        skipped_reason: None,
    };
    if find().is_none() {
        info.skipped_reason = Some(NatsError::NotInstalled.to_string());
        return Ok((None, info));
    }
    match NatsServer::start(&run.sub_dir("nats")?) {
        Ok(server) => {
            info.present = true;
            info.url = Some(server.url.clone());
            info.version = server.version.clone();
            info.monitoring_url = Some(server.monitoring_url.clone());
            info.passed_to = takers
                .iter()
                .filter(|(_, takes)| *takes)
                .map(|(name, _)| name.to_string())
                .collect();
            if info.passed_to.is_empty() {
                info.skipped_reason = Some("no binary's --help lists --nats-url".into());
            }
            Ok((Some(server), info))
        }
        Err(e) => {
            tracing::warn!(error = %e, "running without NATS");
            info.skipped_reason = Some(e.to_string());
            Ok((None, info))
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.proc.stop("run finished");
    }
}
