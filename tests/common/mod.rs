//! Helpers for end-to-end tests: real processes, unique names, free ports,
//! bounded waits. Binaries of the whole workspace are expected next to the
//! test executable's parent (`target/<profile>/`), as `cargo build
//! --workspace` leaves them.

#![allow(dead_code)]

pub mod decoder;
pub mod nats;
pub mod record;
pub mod stack;

use std::fs::File;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Path of a workspace binary built next to this test.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// A name unique to this process and call, for shm segments, sockets, files.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process, killed if still running when dropped. Its stderr and
/// stdout go to a log file so that a failing test can show them.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(program: &Path, args: &[&str], log: PathBuf) -> Proc {
        Self::spawn_env(program, args, &[], log)
    }

    /// [`Proc::spawn`] with extra environment variables.
    pub fn spawn_env(program: &Path, args: &[&str], env: &[(&str, &str)], log: PathBuf) -> Proc {
        let out = File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        Proc { name, child, log }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for exit up to `timeout`; kills the process and panics with its
    /// log on overrun.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {timeout:?}; log:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits and returns the exit code (panics on death by signal).
    pub fn wait_code(&mut self, timeout: Duration) -> i32 {
        let status = self.wait(timeout);
        status.code().unwrap_or_else(|| {
            panic!(
                "{} died by a signal: {status}; log:\n{}",
                self.name,
                self.output()
            )
        })
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc_kill(self.pid(), sig) };
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `path` exists, up to `timeout`.
pub fn wait_for_file(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    path.exists()
}

/// Asserts an exit code, showing the process log when it differs.
pub fn assert_exit(p: &mut Proc, timeout: Duration, expected: i32) {
    let code = p.wait_code(timeout);
    assert_eq!(
        code,
        expected,
        "{} exited {code}, expected {expected}; log:\n{}",
        p.name,
        p.output()
    );
}

/// Whether some socket is bound to UDP `port` (from /proc/net/udp{,6}).
pub fn udp_port_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|a| format!("{a} ").ends_with(&needle))
                })
            })
            .unwrap_or(false)
    })
}

/// Waits until a receiver has bound UDP `port`, up to `timeout`.
pub fn wait_udp_bound(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if udp_port_bound(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Waits until the process's log contains `needle` (a readiness line),
/// up to `timeout`.
pub fn wait_for_log(p: &Proc, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if p.output().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Events of one name from a streamer's `--events` file (docs/events.md);
/// a last line still being written is skipped.
pub fn events(path: &Path, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

/// Waits until the `--events` file at `path` has `count` events named `name`,
/// up to `timeout`.
pub fn wait_for_events(path: &Path, name: &str, count: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if events(path, name).len() >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Waits until the `--events` file at `path` has an event named `name`.
pub fn wait_for_event(path: &Path, name: &str, timeout: Duration) -> bool {
    wait_for_events(path, name, 1, timeout)
}

/// A modern ffmpeg (the static build shipped by the PyPI package
/// imageio-ffmpeg, which scripts/install-deps.sh installs), or
/// `$CVMMAP_FFMPEG`. Panics with the fix when neither is there.
pub fn modern_ffmpeg() -> PathBuf {
    if let Some(p) = std::env::var_os("CVMMAP_FFMPEG") {
        return PathBuf::from(p);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "no modern ffmpeg: run scripts/install-deps.sh (pip install imageio-ffmpeg)"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Waits until some socket listens on TCP `port` (from /proc/net/tcp{,6}).
pub fn wait_tcp_listening(port: u16, timeout: Duration) -> bool {
    let needle = format!(":{port:04X}");
    let listening = || {
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&needle) && cols[3] == "0A"
                })
            })
        })
    };
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if listening() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
