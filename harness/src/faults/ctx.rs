//! What every scenario shares: its unit of the run, starting the simulator,
//! the streamer, the RTP receiver and the RTMP stub with this scenario's
//! names and ports, waiting for them, and killing a process on purpose.

use std::ops::Deref;
use std::time::{Duration, Instant};

use super::scenarios::ScenarioDef;
use crate::clock::unix_ns;
use crate::ports;
use crate::runner::{Ended, Unit};
use crate::supervisor::Proc;

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

/// One scenario: its unit of the run and its definition.
pub struct Ctx<'a> {
    pub unit: Unit<'a>,
    pub def: &'static ScenarioDef,
}

impl<'a> Deref for Ctx<'a> {
    type Target = Unit<'a>;

    fn deref(&self) -> &Unit<'a> {
        &self.unit
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Ctx<'_> {
    /// `cvmmap_sim` with this scenario's names at [`FPS`], 640x360 BGR,
    /// `--json JSON`, plus `extra`; `nats` is given as `--nats-url`.
    pub fn sim(
        &self,
        name: &str,
        json: &str,
        nats: Option<&str>,
        extra: &[&str],
    ) -> Result<Proc, Ended> {
        self.sim_sized(name, json, nats, (640, 360), extra)
    }

    /// [`Ctx::sim`] at another starting size.
    pub fn sim_sized(
        &self,
        name: &str,
        json: &str,
        nats: Option<&str>,
        (width, height): (u32, u32),
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
            &width.to_string(),
            "--height",
            &height.to_string(),
            "--json",
            &self.path_arg(json),
        ]);
        a.extend(strings(extra));
        if let (true, Some(url)) = (self.run.sim_takes_nats, nats) {
            a.extend(["--nats-url".into(), url.into()]);
        }
        Ok(self.spawn(name, &self.run.bins.sim, a)?)
    }

    /// The streamer (H.264, `--gop 30`, idle timeout, summary JSON, events)
    /// with `output` flags, started and waited for until its
    /// `ingest_started` event; returns its index in `procs`.
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
        procs.push(self.spawn_streamer("streamer", a)?);
        let i = procs.len() - 1;
        if self.ingest_started(&mut procs[i]).is_err() {
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
        procs: &mut Vec<Proc>,
    ) -> Result<u16, Ended> {
        let port = ports::free_udp_pair()
            .map_err(|e| Ended::fail(format!("no free UDP port pair: {e}")))?;
        let a = strings(&[
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
        procs.push(self.spawn("receiver", &self.run.bins.rtp_receiver, a)?);
        if !ports::wait_udp_bound(port, Duration::from_secs(15)) {
            let i = procs.len() - 1;
            return Err(self.not_ready(&mut procs[i], &format!("it bound UDP {port}")));
        }
        Ok(port)
    }

    /// The receiver (`threshold` units, time for `frames` at [`FPS`] plus
    /// start-up) and the streamer sending RTP to it with `extra` flags:
    /// what every RTP scenario starts before its simulator.
    pub fn rtp_pair(
        &self,
        nats: Option<&str>,
        threshold: u64,
        frames: u64,
        extra: &[&str],
        procs: &mut Vec<Proc>,
    ) -> Result<(), Ended> {
        self.phase("starting receiver");
        let port = self.receiver(threshold, frames * 1000 / FPS + 30_000, procs)?;
        self.phase("starting streamer");
        let mut output = self.rtp_output(port);
        output.extend(strings(extra));
        self.streamer(nats, output, procs)?;
        Ok(())
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
    /// choice); returns the port from its documented `listening PORT` line.
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
        match procs[i].wait_stdout_line("listening ", Duration::from_secs(15)) {
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
            return Ended::interrupted("starting");
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
            Err(Ended::interrupted("streaming"))
        }
    }

    /// A hard deadline for the whole scenario's processes.
    pub fn deadline(&self) -> Instant {
        self.started + Duration::from_secs(self.def.limit_s)
    }

    /// Waits for `procs` against the scenario's deadline: the names of those
    /// that overran it (now stopped), or a skip on an interrupt.
    pub fn wait_all<'p>(
        &self,
        procs: impl Iterator<Item = &'p mut Proc>,
    ) -> Result<Vec<String>, Ended> {
        crate::supervisor::wait_all(procs, self.deadline(), "scenario deadline passed")
            .map_err(|_| Ended::interrupted("streaming"))
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
