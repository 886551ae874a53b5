//! `harness faults`: the fault suite. Each scenario runs the simulator, the
//! streamer, a tester (and a nats-server where NATS is part of it) as real
//! processes over shared memory, ZeroMQ and loopback sockets, injects one
//! fault, and measures what the issue asks: torn frames rejected, memory
//! bounded under a sink stall, recovery after producer resets, re-attach
//! and reconnect times, NATS loss, and the latency guard. Evidence goes to
//! `DIR/<run-id>/<scenario>/result.json` and `DIR/<run-id>/summary.json`,
//! in the acceptance runner's layout.

pub mod ctx;
pub mod judge;
pub mod model;
mod own_nats;
pub mod scenarios;

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::bins::{Binaries, SIM, STREAMER, supports_flag};
use crate::evidence::{RunDir, list_files, write_json};
use crate::model::{Counts, HarnessInfo, Outcome, RowEntry, RunNats, Tally};
use crate::names::RunNames;
use crate::nats::NatsServer;
use crate::progress::Progress;
use crate::supervisor::Proc;
use crate::supervisor::Runtime;
use crate::{HarnessError, clock, host, interrupt};
use ctx::{Ctx, Ended, RunCtx};
use model::{FaultResult, FaultSummary, KIND_RESULT, KIND_SUMMARY, ScenarioEntry, ScenarioNats};
use scenarios::{NatsNeed, SCENARIOS, ScenarioDef};

pub struct Options {
    pub evidence: PathBuf,
    pub bin_dir: Option<PathBuf>,
    pub scenarios: Option<Vec<String>>,
    pub argv: Vec<String>,
    /// `--runtime container --image IMAGE`: run every process in a container.
    pub image: Option<String>,
}

pub struct Finished {
    pub summary: FaultSummary,
    pub run_dir: PathBuf,
    pub exit_code: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum FaultsError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("--scenarios: {0}")]
    Selection(String),
}

/// Exit code of an interrupted run.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The run's nats-server (for the scenarios that use the run's), or why
/// there is none.
fn start_nats(
    run: &RunDir,
    bins: &Binaries,
) -> Result<(Option<NatsServer>, RunNats), HarnessError> {
    let mut info = RunNats {
        present: false,
        url: None,
        version: None,
        monitoring_url: None,
        passed_to: Vec::new(),
        skipped_reason: None,
    };
    if crate::nats::find().is_none() {
        info.skipped_reason = Some(crate::nats::NatsError::NotInstalled.to_string());
        return Ok((None, info));
    }
    match NatsServer::start(&run.sub_dir("nats")?) {
        Ok(server) => {
            info.present = true;
            info.url = Some(server.url.clone());
            info.version = server.version.clone();
            info.monitoring_url = Some(server.monitoring_url.clone());
            info.passed_to = [(&bins.sim, SIM), (&bins.streamer, STREAMER)]
                .iter()
                .filter(|(p, _)| supports_flag(p, "--nats-url"))
                .map(|(_, n)| n.to_string())
                .collect();
            Ok((Some(server), info))
        }
        Err(e) => {
            tracing::warn!(error = %e, "running without NATS");
            info.skipped_reason = Some(e.to_string());
            Ok((None, info))
        }
    }
}

fn base_result(c: &Ctx) -> FaultResult {
    let d = c.def;
    let run_server = d.nats != NatsNeed::Own && c.run.nats.is_some();
    let mut passed_to = Vec::new();
    if run_server {
        if c.run.sim_takes_nats {
            passed_to.push(SIM.to_owned());
        }
        if c.run.streamer_takes_nats {
            passed_to.push(STREAMER.to_owned());
        }
    }
    FaultResult {
        schema_version: crate::SCHEMA_VERSION,
        kind: KIND_RESULT,
        run_id: c.run.run_id.clone(),
        scenario: d.id.into(),
        title: d.title.into(),
        fault: d.fault.into(),
        outcome: Outcome::Skip,
        reason: "not run".into(),
        started_at: clock::rfc3339(c.started_at),
        duration_ms: 0,
        git: c.run.git.clone(),
        host: c.run.host.clone(),
        runtime: c.run.runtime.name(),
        container: c.run.runtime.container().cloned(),
        protocol: d.protocol,
        codec: "h264",
        encoder: None,
        encoder_note: None,
        peers: Vec::new(),
        nats: ScenarioNats {
            server_present: run_server,
            url: run_server
                .then(|| c.run_nats_url().map(str::to_owned))
                .flatten(),
            server: run_server.then_some("run"),
            passed_to,
            streamer_nats_connects: None,
            streamer_nats_disconnects: None,
            note: None,
        },
        counts: Counts::default(),
        figures: serde_json::Value::Null,
        latency_ms: None,
        latency_note: None,
        checks: Vec::new(),
        processes: Vec::new(),
        artifacts: Vec::new(),
    }
}

/// Why a scenario cannot run at all (a prerequisite is absent).
fn prerequisite(ctx: &RunCtx, def: &ScenarioDef) -> Option<String> {
    match def.nats {
        NatsNeed::Required if ctx.nats.is_none() => Some(
            "needs a nats-server (STREAM_RESET over NATS): none could be started for this run"
                .into(),
        ),
        NatsNeed::Required if !(ctx.sim_takes_nats && ctx.streamer_takes_nats) => {
            Some("cvmmap_sim or cvmmap_streamer does not take --nats-url".into())
        }
        NatsNeed::Own if crate::nats::find().is_none() => {
            Some(crate::nats::NatsError::NotInstalled.to_string())
        }
        _ => None,
    }
}

fn run_one(
    ctx: &RunCtx,
    run: &RunDir,
    def: &'static ScenarioDef,
    not_run: Option<String>,
) -> Result<ScenarioEntry, HarnessError> {
    let dir = run.sub_dir(def.id)?;
    let c = Ctx {
        run: ctx,
        def,
        dir: dir.clone(),
        names: ctx.names.row(def.id),
        started: Instant::now(),
        started_at: SystemTime::now(),
    };
    let mut res = base_result(&c);
    let mut detail = String::new();
    let why_not = not_run.or_else(|| prerequisite(ctx, def));
    if let Some(why) = why_not {
        res.reason = why;
        res.figures = serde_json::json!({});
    } else {
        let mut procs = Vec::new();
        match (def.run)(&c, &mut res, &mut procs) {
            Ok(d) => detail = d,
            Err(Ended(outcome, reason)) => {
                res.outcome = outcome;
                res.reason = reason;
                // What a checked scenario measured before it ended stays;
                // a scenario that never got that far has no checks.
                if res.outcome == Outcome::Fail {
                    res.checks.clear();
                }
            }
        }
        let why = if interrupt::requested() {
            "interrupted"
        } else {
            "scenario finished"
        };
        procs.iter_mut().for_each(|p| {
            p.stop(why);
        });
        res.processes = procs.iter_mut().map(Proc::record).collect();
        drop(procs);
        c.names.clean_up();
        if res.figures.is_null() {
            res.figures = serde_json::json!({});
        }
    }
    res.duration_ms = c.started.elapsed().as_millis() as u64;
    res.artifacts = list_files(&dir, &["result.json"]);
    write_json(&dir.join("result.json"), &res)?;
    Ok(ScenarioEntry {
        scenario: def.id.into(),
        title: def.title.into(),
        outcome: res.outcome,
        reason: res.reason,
        detail,
        duration_ms: res.duration_ms,
        result: Some(format!("{}/result.json", def.id)),
    })
}

fn overall(t: &Tally, interrupted: bool) -> (&'static str, u8) {
    match (interrupted, t.fail > 0, t.skip > 0) {
        (true, _, _) => ("incomplete", EXIT_INTERRUPTED),
        (false, true, _) => ("fail", 1),
        (false, false, true) => ("incomplete", 1),
        (false, false, false) => ("pass", 0),
    }
}

/// The progress line's view of a scenario entry.
fn as_row(e: &ScenarioEntry) -> RowEntry {
    RowEntry {
        row: e.scenario.clone(),
        title: e.title.clone(),
        negative: false,
        outcome: e.outcome,
        reason: e.reason.clone(),
        detail: e.detail.clone(),
        duration_ms: e.duration_ms,
        result: e.result.clone(),
    }
}

pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Finished, FaultsError> {
    let selected = scenarios::select(opts.scenarios.as_deref()).map_err(FaultsError::Selection)?;
    let bins = match &opts.image {
        Some(_) => Binaries::in_image(),
        None => Binaries::locate(opts.bin_dir.as_deref())?,
    };
    let (started_at, t0) = (SystemTime::now(), Instant::now());
    let run = RunDir::create(&opts.evidence, "faults", started_at)?;
    let runtime = match &opts.image {
        Some(image) => Runtime::Container(std::sync::Arc::new(
            crate::container::ContainerRuntime::new(
                image,
                vec![run.path.clone(), std::env::temp_dir()],
            )?,
        )),
        None => Runtime::Local,
    };
    let (nats, nats_info) = start_nats(&run, &bins)?;
    let ctx = RunCtx {
        runtime,
        run_id: run.run_id.clone(),
        git: host::git_info(),
        host: host::host_info(),
        names: RunNames::new(run.token()),
        sim_takes_nats: supports_flag(&bins.sim, "--nats-url"),
        streamer_takes_nats: supports_flag(&bins.streamer, "--nats-url"),
        nats,
        progress,
        bins,
    };
    let mut summary = FaultSummary {
        schema_version: crate::SCHEMA_VERSION,
        kind: KIND_SUMMARY,
        run_id: run.run_id.clone(),
        status: "running",
        outcome: "incomplete",
        exit_code: None,
        started_at: clock::rfc3339(started_at),
        finished_at: None,
        duration_ms: 0,
        git: ctx.git.clone(),
        host: ctx.host.clone(),
        runtime: ctx.runtime.name(),
        container: ctx.runtime.container().cloned(),
        harness: HarnessInfo {
            version: env!("CARGO_PKG_VERSION"),
            argv: opts.argv.clone(),
            bin_dir: ctx.bins.dir.display().to_string(),
        },
        nats: nats_info,
        totals: Tally::default(),
        scenarios: Vec::new(),
        scenarios_not_selected: SCENARIOS
            .iter()
            .filter(|d| !selected.iter().any(|s| s.id == d.id))
            .map(|d| d.id.to_owned())
            .collect(),
    };
    let summary_path = run.path.join("summary.json");
    write_json(&summary_path, &summary)?;
    for def in selected {
        let not_run = if interrupt::requested() {
            Some("interrupted (SIGINT/SIGTERM) before this scenario started".to_owned())
        } else {
            progress.started(def.id);
            None
        };
        let entry = run_one(&ctx, &run, def, not_run)?;
        summary.totals.add(entry.outcome);
        progress.finished(&as_row(&entry));
        summary.scenarios.push(entry);
        summary.duration_ms = t0.elapsed().as_millis() as u64;
        write_json(&summary_path, &summary)?;
    }
    drop(ctx);
    let interrupted = interrupt::requested();
    let (outcome, exit_code) = overall(&summary.totals, interrupted);
    summary.status = if interrupted {
        "interrupted"
    } else {
        "complete"
    };
    summary.outcome = outcome;
    summary.exit_code = Some(i32::from(exit_code));
    summary.finished_at = Some(clock::rfc3339(SystemTime::now()));
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    write_json(&summary_path, &summary)?;
    if let Err(e) = run.point_latest() {
        tracing::warn!(error = %e, "cannot point DIR/latest at this run");
    }
    Ok(Finished {
        summary,
        run_dir: run.path.clone(),
        exit_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_outcome() {
        let t = |pass, fail, skip| Tally {
            total: pass + fail + skip,
            pass,
            fail,
            skip,
        };
        assert_eq!(overall(&t(7, 0, 0), false), ("pass", 0));
        assert_eq!(overall(&t(6, 1, 0), false), ("fail", 1));
        assert_eq!(overall(&t(6, 0, 1), false), ("incomplete", 1));
        assert_eq!(overall(&t(1, 0, 0), true), ("incomplete", 130));
    }
}
