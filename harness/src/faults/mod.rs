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
mod rss;
pub mod scenarios;

use std::path::PathBuf;

use crate::bins::{SIM, STREAMER};
use crate::model::{Counts, Outcome, RowEntry, Tally};
use crate::progress::Progress;
use crate::runner::{Ended, RunCtx, RunOptions, Setup, Spec, not_selected, verdict, why_stopped};
use crate::{HarnessError, clock, interrupt};
use ctx::Ctx;
use model::{FaultResult, FaultSummary, KIND_RESULT, KIND_SUMMARY, ScenarioEntry, ScenarioNats};
use scenarios::{NatsNeed, SCENARIOS, ScenarioDef};

pub struct Options {
    pub run: RunOptions,
    pub scenarios: Option<Vec<String>>,
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
                .then(|| c.run.nats_url().map(str::to_owned))
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
    def: &'static ScenarioDef,
    not_run: Option<String>,
) -> Result<ScenarioEntry, HarnessError> {
    let c = Ctx {
        unit: ctx.unit(def.id, def.id)?,
        def,
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
        res.processes = c.close(&mut procs, why_stopped("scenario finished"));
        drop(procs);
        if res.figures.is_null() {
            res.figures = serde_json::json!({});
        }
    }
    c.write_result(&mut res)?;
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
    let spec = Spec {
        command: "faults",
        kind: KIND_SUMMARY,
        summary: "summary.json",
        verdict: true,
    };
    let ctx = Setup::resolve(&opts.run)?.start(spec, progress)?;
    let mut summary = FaultSummary {
        head: ctx.header(),
        nats: ctx.nats_info.clone(),
        totals: Tally::default(),
        scenarios: Vec::new(),
        scenarios_not_selected: not_selected(&SCENARIOS, &selected, |d| d.id),
    };
    ctx.save(&mut summary)?;
    for def in selected {
        let not_run = if interrupt::requested() {
            Some("interrupted (SIGINT/SIGTERM) before this scenario started".to_owned())
        } else {
            progress.started(def.id);
            None
        };
        let entry = run_one(&ctx, def, not_run)?;
        summary.totals.add(entry.outcome);
        progress.finished(&as_row(&entry));
        summary.scenarios.push(entry);
        ctx.save(&mut summary)?;
    }
    let (outcome, exit_code) = verdict(&[summary.totals], interrupt::requested());
    let run_dir = ctx.finish(&mut summary, Some(outcome), exit_code)?;
    Ok(Finished {
        summary,
        run_dir,
        exit_code,
    })
}
