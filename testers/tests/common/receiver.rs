//! Starts the real `rtp_receiver_tester` binary and talks to it over UDP.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{StderrLines, unique, wait_timeout};

pub const RX: &str = env!("CARGO_BIN_EXE_rtp_receiver_tester");

/// A running receiver; killed and its JSON removed on drop.
pub struct Receiver {
    pub child: Child,
    pub stderr: StderrLines,
    pub port: u16,
    pub json: PathBuf,
    pub started: Instant,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.json);
    }
}

/// A free UDP port whose successor (the RTCP port) is free too.
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// Starts the receiver on a fresh port pair (`--port` passed) and waits until
/// it reports that it is listening.
pub fn start(extra: &[&str]) -> Receiver {
    let port = free_port_pair();
    let port_s = port.to_string();
    let mut args = vec!["--port", port_s.as_str()];
    args.extend_from_slice(extra);
    start_raw(port, &args)
}

/// Starts the receiver with exactly `args` (plus `--json`); `port` is where it
/// will listen (e.g. the port of an `--sdp` file).
pub fn start_raw(port: u16, args: &[&str]) -> Receiver {
    let json = PathBuf::from(format!("/tmp/{}.json", unique("cvmt_rtp_")));
    let mut child = Command::new(RX)
        .args(["--json", json.to_str().unwrap()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rtp_receiver_tester");
    let mut stderr = StderrLines::capture(child.stderr.take().unwrap());
    let started = Instant::now();
    assert!(
        stderr.wait_for("listening on", Duration::from_secs(10)),
        "receiver not ready: {}",
        stderr.text()
    );
    Receiver {
        child,
        stderr,
        port,
        json,
        started,
    }
}

impl Receiver {
    /// Sends datagrams to the RTP port, in order.
    pub fn send(&self, packets: &[Vec<u8>]) {
        self.send_to(self.port, packets);
    }

    /// Sends datagrams to the RTCP port (RTP port + 1).
    pub fn send_rtcp(&self, packets: &[Vec<u8>]) {
        self.send_to(self.port + 1, packets);
    }

    fn send_to(&self, port: u16, packets: &[Vec<u8>]) {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for p in packets {
            tx.send_to(p, ("127.0.0.1", port)).unwrap();
        }
    }

    /// Waits for the exit (bounded) and reads the one JSON line.
    pub fn finish(&mut self, limit: Duration) -> (ExitStatus, serde_json::Value) {
        let status = wait_timeout(&mut self.child, limit)
            .unwrap_or_else(|| panic!("receiver overran {limit:?}: {}", self.stderr.text()));
        let text = std::fs::read_to_string(&self.json).expect("--json written");
        assert_eq!(text.trim_end().lines().count(), 1, "one JSON line: {text}");
        (status, serde_json::from_str(text.trim()).unwrap())
    }
}
