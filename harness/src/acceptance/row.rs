//! What every row shares: its unit of the run, the simulator and streamer
//! command lines, and assembling `result.json`.

use std::ops::Deref;
use std::time::{Duration, Instant};

use super::judge::{Checks, encoder, streamer_counts, u};
use super::matrix::{FPS, HEIGHT, Protocol, RowDef, Sabotage, WIDTH};
use crate::HarnessError;
use crate::bins::{SIM, STREAMER};
use crate::clock;
use crate::evidence::read_json;
use crate::model::{Counts, KIND_ROW, Outcome, Peer, RowNats, RowResult};
use crate::runner::Unit;
use crate::supervisor::Proc;

/// One row: its unit of the run (folder, names, processes) and its
/// definition in the matrix.
pub struct RowCtx<'a> {
    pub unit: Unit<'a>,
    pub def: &'static RowDef,
    pub sabotage: Option<Sabotage>,
}

impl<'a> Deref for RowCtx<'a> {
    type Target = Unit<'a>;

    fn deref(&self) -> &Unit<'a> {
        &self.unit
    }
}

/// File names inside a row folder.
pub const SIM_JSON: &str = "sim.json";
pub const STREAMER_JSON: &str = "streamer.summary.json";
/// Frames-to-idle: the streamer ends this long after the last frame.
const IDLE_TIMEOUT_MS: u64 = 3000;

impl RowCtx<'_> {
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
            self.path_arg(STREAMER_JSON),
        ];
        if let (true, Some(url)) = (self.run.streamer_takes_nats, self.run.nats_url()) {
            a.extend(["--nats-url".into(), url.into()]);
        }
        a.extend(output);
        self.spawn_streamer("streamer", a)
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
            &self.path_arg(SIM_JSON),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let (true, Some(url)) = (self.run.sim_takes_nats, self.run.nats_url()) {
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

/// A result with the row's identity and the run's context filled in, and
/// everything else "not measured" until the row says otherwise.
pub fn base_result(ctx: &RowCtx) -> RowResult {
    let d = ctx.def;
    RowResult {
        schema_version: crate::SCHEMA_VERSION,
        kind: KIND_ROW,
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
            url: ctx.run.nats_url().map(str::to_owned),
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
    let rtp = ctx.def.protocol == Protocol::Rtp;
    streamer_counts(s, rtp, &mut res.counts);
    res.nats.streamer_nats_connects = u(s, "stats.nats_connects");
    (res.encoder, res.encoder_note) = encoder(s);
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
