//! A real `nats-server` on a free 127.0.0.1 port for the tests, killed on
//! drop; readiness is its own "Server is ready" log line, not a sleep.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::StderrLines;

/// The server binary: `$NATS_SERVER`, else the Debian package's.
pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return p.into();
    }
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("nats-server is not installed (scripts/install-deps.sh installs it)")
}

/// A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it).
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub struct NatsServer {
    child: Child,
    pub port: u16,
    /// Keeps draining the server's stderr: a Go program writing to a closed
    /// pipe on fd 2 dies of SIGPIPE.
    _log: StderrLines,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NatsServer {
    /// On a free port (retried when another process takes it meanwhile).
    pub fn start() -> Self {
        for _ in 0..5 {
            if let Some(s) = Self::try_start(free_tcp_port()) {
                return s;
            }
        }
        panic!("nats-server did not start on any free port");
    }

    /// On `port`, which a client may already be trying.
    pub fn start_on(port: u16) -> Self {
        Self::try_start(port).unwrap_or_else(|| panic!("nats-server did not start on {port}"))
    }

    fn try_start(port: u16) -> Option<Self> {
        let mut child = Command::new(nats_server_bin())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nats-server");
        let mut log = StderrLines::capture(child.stderr.take().unwrap());
        let ready = log.wait_for("Server is ready", Duration::from_secs(10));
        let server = Self {
            child,
            port,
            _log: log,
        };
        ready.then_some(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}
