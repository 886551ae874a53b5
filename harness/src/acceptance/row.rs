//! What every row shares: the run's context, the simulator and streamer
//! command lines, waiting for the processes, and assembling `result.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::judge::{Checks, u};
use super::matrix::{FPS, HEIGHT, Protocol, RowDef, Sabotage, WIDTH};
use crate::bins::{Binaries, SIM, STREAMER};
use crate::evidence::read_json;
use crate::model::{
    Counts, EncoderUsed, GitInfo, HostInfo, Kind, Outcome, Peer, RowNats, RowResult,
};
use crate::names::{RowNames, RunNames};
use crate::nats::NatsServer;
use crate::progress::Progress;
use crate::supervisor::{Proc, Runtime, Wait};
use crate::{HarnessError, clock};

/// Everything a row needs from its run.
pub struct RunCtx<'a> {
    pub run_id: String,
    /// Local child processes, or one container per process.
    pub runtime: Runtime,
    pub bins: Binaries,
    pub git: GitInfo,
    pub host: HostInfo,
    pub names: RunNames,
    pub nats: Option<NatsServer>,
    /// Whether `cvmmap_sim` / `cvmmap_streamer --help` list `--nats-url`.
    pub sim_takes_nats: bool,
    pub streamer_takes_nats: bool,
    pub progress: &'a dyn Progress,
}

pub struct RowCtx<'a> {
    pub run: &'a RunCtx<'a>,
    pub def: &'static RowDef,
    pub dir: PathBuf,
    pub names: RowNames,
    pub sabotage: Option<Sabotage>,
    pub started: Instant,
    pub started_at: SystemTime,
}

/// File names inside a row folder.
pub const SIM_JSON: &str = "sim.json";
pub const STREAMER_JSON: &str = "streamer.summary.json";
/// Frames-to-idle: the streamer ends this long after the last frame.
const IDLE_TIMEOUT_MS: u64 = 3000;

impl RowCtx<'_> {
    pub fn phase(&self, phase: &str) {
        self.run.progress.phase(self.def.id, phase);
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn nats_url(&self) -> Option<&str> {
        self.run.nats.as_ref().map(|n| n.url.as_str())
    }

    /// Milliseconds a tester may wait for the whole stream: its length plus
    /// room for start-up on a loaded two-core host.
    pub fn tester_timeout_ms(&self) -> u64 {
        self.def.frames * 1000 / FPS + 30_000
    }

    /// When the row gives up on its processes (they all have their own,
    /// shorter limits; this only catches a hung one).
    pub fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.tester_timeout_ms() + 30_000)
    }

    pub fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Proc, HarnessError> {
        Proc::spawn_in(&self.run.runtime, &self.dir, name, program, args)
    }

    /// The streamer with the row's codec, this row's source names and the
    /// given output flags.
    pub fn streamer(&self, output: Vec<String>) -> Result<Proc, HarnessError> {
        let d = self.def;
        let mut a: Vec<String> = vec![
            "--codec".into(),
            d.codec.into(),
            "--shm-name".into(),
            self.names.shm.clone(),
            "--zmq-endpoint".into(),
            self.names.endpoint.clone(),
            // x265 on two cores can fall behind for a moment; a short queue
            // keeps those frames (latest-frame drops are not what the matrix
            // is about), exactly as the end-to-end tests do.
            "--queue-size".into(),
            "4".into(),
            "--ingest-idle-timeout-ms".into(),
            IDLE_TIMEOUT_MS.to_string(),
            "--summary-json".into(),
            self.path(STREAMER_JSON).display().to_string(),
        ];
        if let (true, Some(url)) = (self.run.streamer_takes_nats, self.nats_url()) {
            a.extend(["--nats-url".into(), url.into()]);
        }
        a.extend(output);
        self.spawn("streamer", &self.run.bins.streamer, a)
    }

    pub fn sim(&self) -> Result<Proc, HarnessError> {
        let d = self.def;
        let mut a: Vec<String> = [
            "--label",
            d.label,
            "--shm-name",
            &self.names.shm,
            "--zmq-endpoint",
            &self.names.endpoint,
            "--frames",
            &d.frames.to_string(),
            "--fps",
            &FPS.to_string(),
            "--width",
            &WIDTH.to_string(),
            "--height",
            &HEIGHT.to_string(),
            "--json",
            &self.path(SIM_JSON).display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let (true, Some(url)) = (self.run.sim_takes_nats, self.nats_url()) {
            a.extend(["--nats-url".into(), url.into()]);
        }
        self.spawn("sim", &self.run.bins.sim, a)
    }

    /// Who was given the NATS URL in this row.
    pub fn nats_passed_to(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.run.nats.is_some() && !self.def.negative {
            if self.run.sim_takes_nats {
                v.push(SIM.to_owned());
            }
            if self.run.streamer_takes_nats {
                v.push(STREAMER.to_owned());
            }
        }
        v
    }
}

/// Why waiting stopped early.
pub enum Stopped {
    Interrupted,
    /// Names of the processes that overran the row deadline (now stopped).
    Overran(Vec<String>),
}

/// Waits for every process in turn, against one deadline. Overrunning
/// processes are stopped (and named); an interrupt stops the wait at once.
pub fn wait_all<'p>(
    procs: impl Iterator<Item = &'p mut Proc>,
    deadline: Instant,
) -> Result<(), Stopped> {
    let mut overran = Vec::new();
    for p in procs {
        match p.wait_until(deadline) {
            Wait::Exited(_) => {}
            Wait::Interrupted => return Err(Stopped::Interrupted),
            Wait::TimedOut => {
                p.stop("row deadline passed");
                overran.push(p.name.clone());
            }
        }
    }
    if overran.is_empty() {
        Ok(())
    } else {
        Err(Stopped::Overran(overran))
    }
}

/// A result with the row's identity and the run's context filled in, and
/// everything else "not measured" until the row says otherwise.
pub fn base_result(ctx: &RowCtx) -> RowResult {
    let d = ctx.def;
    RowResult {
        schema_version: crate::SCHEMA_VERSION,
        kind: Kind::AcceptanceRow,
        run_id: ctx.run.run_id.clone(),
        row: d.id.into(),
        title: d.title.into(),
        protocol: d.protocol.as_str().into(),
        codec: d.codec.into(),
        rtmp_mode: d.rtmp_mode.map(str::to_owned),
        negative: d.negative,
        outcome: Outcome::Skip,
        reason: "not run".into(),
        broken_on_purpose: ctx.sabotage.map(|s| s.as_str().to_owned()),
        started_at: clock::rfc3339(ctx.started_at),
        duration_ms: 0,
        git: ctx.run.git.clone(),
        host: ctx.run.host.clone(),
        runtime: ctx.run.runtime.name(),
        container: ctx.run.runtime.container().cloned(),
        encoder: None,
        encoder_note: None,
        peers: Vec::new(),
        nats: RowNats {
            server_present: ctx.run.nats.is_some(),
            url: ctx.nats_url().map(str::to_owned),
            passed_to: ctx.nats_passed_to(),
            server_connections_during_row: None,
            streamer_nats_connects: None,
            took_part: None,
        },
        counts: Counts::default(),
        latency_ms: None,
        latency_note: None,
        checks: Vec::new(),
        processes: Vec::new(),
        artifacts: Vec::new(),
    }
}

/// Reads the simulator's and streamer's reports into `res` and adds the
/// producer-side checks every streaming row shares.
pub fn producer_side(
    ctx: &RowCtx,
    res: &mut RowResult,
    checks: &mut Checks,
    sim: &mut Proc,
    st: &mut Proc,
) {
    let sim_json = read_json(&ctx.path(SIM_JSON));
    let st_json = read_json(&ctx.path(STREAMER_JSON));
    let s = st_json.as_ref();
    res.counts.frames_requested = Some(ctx.def.frames);
    res.counts.frames_published = u(sim_json.as_ref(), "frames_published");
    res.counts.frames_ingested = u(s, "stats.frames_ingested");
    res.counts.frames_encoded = u(s, "stats.frames_encoded");
    res.counts.access_units_sent = u(s, "stats.access_units");
    if ctx.def.protocol == Protocol::Rtp {
        res.counts.rtp_packets_sent = u(s, "stats.rtp_packets_sent");
    } else {
        res.counts.rtmp_units_sent = u(s, "stats.rtmp_units_sent");
        res.counts.rtmp_units_dropped = u(s, "stats.rtmp_units_dropped");
    }
    res.nats.streamer_nats_connects = u(s, "stats.nats_connects");
    match s.and_then(|v| v.get("encoder")) {
        Some(e) => match serde_json::from_value::<EncoderUsed>(e.clone()) {
            Ok(enc) => res.encoder = Some(enc),
            Err(err) => res.encoder_note = Some(format!("unreadable encoder object: {err}")),
        },
        None => {
            res.encoder_note = Some("the streamer wrote no --summary-json encoder object".into())
        }
    }
    checks.exit("simulator exit", sim.poll(), 0);
    checks.equals(
        "frames published",
        res.counts.frames_published,
        ctx.def.frames,
    );
    checks.exit("streamer exit", st.poll(), 0);
    checks.is_true("encoder reported", Some(res.encoder.is_some()));
    res.peers.push(Peer {
        name: SIM.into(),
        role: "producer (shared memory + ZeroMQ)".into(),
        ran: true,
        note: None,
    });
}
