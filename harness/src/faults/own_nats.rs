//! A nats-server of one scenario's own, so that it can be killed (the
//! run's server in [`crate::nats`] serves the other scenarios and is never
//! killed). Same start-up as the run's: ports chosen by the server and read
//! back from its ports file, ready once it accepts TCP.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::supervisor::Proc;

pub struct OwnNats {
    pub proc: Proc,
    pub url: String,
    pub version: Option<String>,
}

/// Starts `nats-server` with its logs and ports file in `dir`; the error
/// says why (not installed, no ports file, not accepting).
pub fn start(dir: &Path) -> Result<OwnNats, String> {
    let program =
        crate::nats::find().ok_or_else(|| crate::nats::NatsError::NotInstalled.to_string())?;
    let version = std::process::Command::new(&program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .and_then(|s| s.rsplit(' ').next().map(str::to_owned))
        .filter(|s| !s.is_empty());
    let args = ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.display().to_string()])
        .collect();
    let mut proc = Proc::spawn(dir, "nats-server", &program, args).map_err(|e| e.to_string())?;
    let ports_file = dir.join(format!("nats-server_{}.ports", proc.pid()));
    let started = Instant::now();
    let limit = Duration::from_secs(10);
    let addr: SocketAddr = loop {
        let parsed = std::fs::read_to_string(&ports_file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|p| {
                let url = p.get("nats")?.get(0)?.as_str()?.to_owned();
                url.split_once("://")?.1.parse().ok()
            });
        if let Some(a) = parsed {
            break a;
        }
        if started.elapsed() > limit || proc.poll().is_some() || crate::interrupt::requested() {
            return Err(format!(
                "nats-server wrote no ports file in {} within {} ms",
                dir.display(),
                started.elapsed().as_millis()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if started.elapsed() > limit || proc.poll().is_some() {
            return Err(format!("nats-server does not accept TCP on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(OwnNats {
        proc,
        url: format!("nats://{addr}"),
        version,
    })
}
