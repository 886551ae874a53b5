//! What every scenario shares: the run's context, starting the simulator,
//! the streamer, the RTP receiver and the RTMP stub with this scenario's
//! names and ports, killing a process on purpose, and sampling memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::scenarios::ScenarioDef;
use crate::bins::Binaries;
use crate::model::{GitInfo, HostInfo, Outcome};
use crate::names::{RowNames, RunNames};
use crate::nats::NatsServer;
use crate::ports;
use crate::progress::Progress;
use crate::supervisor::{Proc, Wait};

/// Frames per second of every scenario's simulator.
pub const FPS: u64 = 30;
/// The streamer's `--gop`: one keyframe a second at [`FPS`].
pub const GOP: u64 = 30;
/// One GOP in milliseconds.
pub const GOP_MS: u64 = GOP * 1000 / FPS;
/// The streamer ends this long after the last frame.
pub const IDLE_TIMEOUT_MS: u64 = 3000;

pub const SIM_JSON: &str = "sim.json";
pub const STREAMER_JSON: &str = "streamer.summary.json";
pub const RECEIVER_JSON: &str = "receiver.json";
pub const STUB_JSON: &str = "stub.json";

pub const INTERRUPTED: &str = "interrupted (SIGINT/SIGTERM)";

/// Everything a scenario needs from its run.
pub struct RunCtx<'a> {
    /// Local child processes, or one container per process.
    pub runtime: crate::supervisor::Runtime,
    pub run_id: String,
    pub bins: Binaries,
    pub git: GitInfo,
    pub host: HostInfo,
    pub names: RunNames,
    /// The run's nats-server, when installed.
    pub nats: Option<NatsServer>,
    pub sim_takes_nats: bool,
    pub streamer_takes_nats: bool,
    pub progress: &'a dyn Progress,
}

pub struct Ctx<'a> {
    pub run: &'a RunCtx<'a>,
    pub def: &'static ScenarioDef,
    pub dir: PathBuf,
    pub names: RowNames,
    pub started: Instant,
    pub started_at: SystemTime,
}

/// How a scenario ended before its verdict.
#[derive(Debug)]
pub struct Ended(pub Outcome, pub String);

impl Ended {
    pub fn fail(why: impl Into<String>) -> Self {
        Ended(Outcome::Fail, why.into())
    }
}

/// Wall clock in Unix nanoseconds.
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Ctx<'_> {
    pub fn phase(&self, phase: &str) {
        self.run.progress.phase(self.def.id, phase);
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn path_arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }

    /// The run's NATS URL, when a server runs and the binaries take it.
    pub fn run_nats_url(&self) -> Option<&str> {
        self.run.nats.as_ref().map(|n| n.url.as_str())
    }

    pub fn spawn(&self, name: &str, program: &Path, args: Vec<String>) -> Result<Proc, Ended> {
        Proc::spawn_in(&self.run.runtime, &self.dir, name, program, args)
            .map_err(|e| Ended::fail(e.to_string()))
    }

    /// `cvmmap_sim` with this scenario's names at [`FPS`], 640x360 BGR,
    /// `--json JSON`, plus `extra`; `nats` is given as `--nats-url`.
    pub fn sim(
        &self,
        name: &str,
        json: &str,
        nats: Option<&str>,
        extra: &[&str],
    ) -> Result<Proc, Ended> {
        let mut a = strings(&[
            "--label",
            &format!("flt_{}", self.def.short),
            "--shm-name",
            &self.names.shm,
            "--zmq-endpoint",
            &self.names.endpoint,
            "--fps",
            &FPS.to_string(),
            "--width",
            "640",
            "--height",
            "360",
            "--json",
            &self.path_arg(json),
        ]);
        a.extend(strings(extra));
        if let (true, Some(url)) = (self.run.sim_takes_nats, nats) {
            a.extend(["--nats-url".into(), url.into()]);
        }
        self.spawn(name, &self.run.bins.sim, a)
    }

    /// The streamer (H.264, `--gop 30`, idle timeout, summary JSON) with
    /// `output` flags, started and waited for until its ingest listens.
    pub fn streamer(
        &self,
        nats: Option<&str>,
        output: Vec<String>,
        procs: &mut Vec<Proc>,
    ) -> Result<usize, Ended> {
        let mut a = strings(&[
            "--codec",
            "h264",
            "--shm-name",
            &self.names.shm,
            "--zmq-endpoint",
            &self.names.endpoint,
            "--gop",
            &GOP.to_string(),
            "--ingest-idle-timeout-ms",
            &IDLE_TIMEOUT_MS.to_string(),
            "--summary-json",
            &self.path_arg(STREAMER_JSON),
        ]);
        match (self.run.streamer_takes_nats, nats) {
            (true, Some(url)) => a.extend(["--nats-url".into(), url.into()]),
            (true, None) => a.push("--no-nats".into()),
            (false, _) => {}
        }
        a.extend(output);
        procs.push(self.spawn("streamer", &self.run.bins.streamer, a)?);
        let i = procs.len() - 1;
        if !procs[i].wait_for_stderr("ingest started", Duration::from_secs(30)) {
            return Err(self.not_ready(&mut procs[i], "its ingest started"));
        }
        Ok(i)
    }

    /// `rtp_receiver_tester --strict` on a fresh even port pair, lingering
    /// after its threshold so the whole stream is measured; returns the
    /// port once it is bound.
    pub fn receiver(
        &self,
        threshold: u64,
        timeout_ms: u64,
        extra: &[&str],
        procs: &mut Vec<Proc>,
    ) -> Result<u16, Ended> {
        let port = ports::free_udp_pair()
            .map_err(|e| Ended::fail(format!("no free UDP port pair: {e}")))?;
        let mut a = strings(&[
            "--listen-host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--expect-pt",
            "96",
            "--expect-codec",
            "h264",
            "--frame-threshold",
            &threshold.to_string(),
            "--strict",
            "--linger-ms",
            "1500",
            "--timeout-ms",
            &timeout_ms.to_string(),
            "--json",
            &self.path_arg(RECEIVER_JSON),
        ]);
        a.extend(strings(extra));
        procs.push(self.spawn("receiver", &self.run.bins.rtp_receiver, a)?);
        if !ports::wait_udp_bound(port, Duration::from_secs(15)) {
            let i = procs.len() - 1;
            return Err(self.not_ready(&mut procs[i], &format!("it bound UDP {port}")));
        }
        Ok(port)
    }

    /// Streamer output flags for RTP to `port`.
    pub fn rtp_output(&self, port: u16) -> Vec<String> {
        strings(&[
            "--rtp",
            "--rtp-endpoint",
            &format!("127.0.0.1:{port}"),
            "--rtp-payload-type",
            "96",
            "--rtp-sdp",
            &self.path_arg("stream.sdp"),
        ])
    }

    /// `rtmp_stub_tester --mode h264` named `name` on `port` (0: its own
    /// choice); returns the port from its `listening PORT` line.
    pub fn stub(
        &self,
        name: &str,
        port: u16,
        json: &str,
        extra: &[&str],
        procs: &mut Vec<Proc>,
    ) -> Result<u16, Ended> {
        let mut a = strings(&[
            "--mode",
            "h264",
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &port.to_string(),
            "--json",
            &self.path_arg(json),
        ]);
        a.extend(strings(extra));
        procs.push(self.spawn(name, &self.run.bins.rtmp_stub, a)?);
        let i = procs.len() - 1;
        match wait_stdout_line(&mut procs[i], "listening ", Duration::from_secs(15)) {
            Some(rest) => rest
                .trim()
                .parse()
                .map_err(|_| Ended::fail(format!("{name} printed `listening {rest}`"))),
            None => Err(self.not_ready(&mut procs[i], "it listened")),
        }
    }

    /// A process that exited or hung before it was ready.
    pub fn not_ready(&self, p: &mut Proc, what: &str) -> Ended {
        if crate::interrupt::requested() {
            return Ended(Outcome::Skip, format!("{INTERRUPTED} while starting"));
        }
        let last = p.last_stderr_line().unwrap_or_default();
        let state = crate::acceptance::judge::describe_exit(p.poll());
        Ended::fail(format!(
            "{} not ready ({state}) before {what}; last log line: {last}",
            p.name
        ))
    }

    /// Sleeps `d`; an interrupt ends the scenario as a skip.
    pub fn sleep(&self, d: Duration) -> Result<(), Ended> {
        if crate::interrupt::sleep(d) {
            Ok(())
        } else {
            Err(Ended(
                Outcome::Skip,
                format!("{INTERRUPTED} while streaming"),
            ))
        }
    }

    /// A hard deadline for the whole scenario's processes.
    pub fn deadline(&self) -> Instant {
        self.started + Duration::from_secs(self.def.limit_s)
    }
}

/// Waits until a stdout line starts with `prefix`; returns the rest.
pub fn wait_stdout_line(p: &mut Proc, prefix: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(rest) = p
            .stdout_text()
            .lines()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        {
            return Some(rest);
        }
        if p.poll().is_some() || Instant::now() >= deadline || crate::interrupt::requested() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILL to `p` (the fault), then reaps it; returns the wall clock of the
/// kill (Unix ns).
pub fn kill_hard(p: &mut Proc) -> u64 {
    let at = unix_ns();
    // SAFETY: kill(2) on a child we started and have not reaped.
    unsafe { libc::kill(p.pid() as libc::pid_t, libc::SIGKILL) };
    let _ = p.wait_until(Instant::now() + Duration::from_secs(5));
    at
}

/// Waits for every process against one deadline; the names of those that
/// overran (now stopped), or an interrupt.
pub fn wait_all<'p>(
    procs: impl Iterator<Item = &'p mut Proc>,
    deadline: Instant,
) -> Result<Vec<String>, Ended> {
    let mut overran = Vec::new();
    for p in procs {
        match p.wait_until(deadline) {
            Wait::Exited(_) => {}
            Wait::Interrupted => {
                return Err(Ended(
                    Outcome::Skip,
                    format!("{INTERRUPTED} while streaming"),
                ));
            }
            Wait::TimedOut => {
                p.stop("scenario deadline passed");
                overran.push(p.name.clone());
            }
        }
    }
    Ok(overran)
}

/// One VmRSS sample: when (Unix ns) and how much (KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RssSample {
    pub unix_ns: u64,
    pub kib: u64,
}

/// VmRSS of `pid` from /proc, in KiB.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Samples VmRSS of a process every `every` on a thread of its own, until
/// the process is gone (it becomes a zombie; VmRSS then disappears) or the
/// sampler is finished.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<RssSample>>>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match vm_rss_kib(pid) {
                    Some(kib) => samples.push(RssSample {
                        unix_ns: unix_ns(),
                        kib,
                    }),
                    None => break,
                }
                std::thread::sleep(every);
            }
            samples
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Vec<RssSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_rss() {
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
        let s = RssSampler::start(std::process::id(), Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(60));
        let v = s.finish();
        assert!(v.len() >= 2, "{v:?}");
        assert!(v.windows(2).all(|w| w[0].unix_ns <= w[1].unix_ns));
    }
}
