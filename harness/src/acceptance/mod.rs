//! `harness acceptance`: the seed's compatibility matrix, row by row, each
//! as real `cvmmap_sim` -> `cvmmap_streamer` -> tester processes over shared
//! memory, ZeroMQ and loopback sockets, with a result.json per row and a
//! summary.json for the run.

pub mod judge;
pub mod matrix;
mod negative;
pub mod row;
mod rtmp;
mod rtp;
mod stream;

use std::path::PathBuf;

use crate::HarnessError;
use crate::interrupt;
use crate::model::{KIND_SUMMARY, Outcome, RowEntry, RowResult, Summary, Tally};
use crate::progress::Progress;
use crate::runner::{RunCtx, RunOptions, Setup, Spec, not_selected, verdict, why_stopped};
use matrix::{RowDef, Sabotage};
use row::{RowCtx, base_result};

pub struct Options {
    pub run: RunOptions,
    pub rows: Option<Vec<String>>,
    pub keep_going: bool,
    pub breaks: Vec<String>,
}

pub struct Finished {
    pub summary: Summary,
    pub run_dir: PathBuf,
    pub exit_code: u8,
}

/// Runs one row (or records why it did not run) and writes its result.json.
fn run_one(
    ctx: &RunCtx,
    def: &'static RowDef,
    sabotage: Option<Sabotage>,
    not_run: Option<String>,
) -> Result<RowEntry, HarnessError> {
    let rc = RowCtx {
        unit: ctx.unit(def.id, def.id)?,
        def,
        sabotage,
    };
    let mut res = base_result(&rc);
    if let Some(why) = not_run {
        res.reason = why;
    } else {
        let before = ctx.nats.as_ref().and_then(|n| n.total_connections());
        let mut procs = if def.negative {
            negative::run(&rc, &mut res)
        } else {
            stream::run(&rc, &mut res)
        };
        res.processes = rc.close(&mut procs, why_stopped("row finished"));
        drop(procs);
        let after = ctx.nats.as_ref().and_then(|n| n.total_connections());
        if let (Some(b), Some(a)) = (before, after) {
            res.nats.server_connections_during_row = Some(a.saturating_sub(b));
            res.nats.took_part = Some(a > b);
        }
    }
    rc.write_result(&mut res)?;
    Ok(RowEntry {
        row: def.id.into(),
        title: def.title.into(),
        negative: def.negative,
        outcome: res.outcome,
        detail: detail(&res),
        reason: res.reason,
        duration_ms: res.duration_ms,
        result: Some(format!("{}/result.json", def.id)),
    })
}

/// The figures a reader wants first, e.g. "300 published, 285 received
/// (>= 285), 285 decoded, latency p50 4.8 ms p99 8.7 ms, x264enc".
fn detail(r: &RowResult) -> String {
    let c = &r.counts;
    let mut parts = Vec::new();
    if let Some(n) = c.frames_published {
        parts.push(format!("{n} published"));
    }
    if let Some(n) = c.access_units_received.or(c.video_frames_received) {
        let min = c
            .receive_threshold
            .map(|t| format!(" (>= {t})"))
            .unwrap_or_default();
        parts.push(format!("{n} received{min}"));
    }
    if let Some(n) = c.decoded_frames {
        parts.push(format!("{n} decoded"));
    }
    if let Some(l) = &r.latency_ms {
        parts.push(format!("latency p50 {:.1} ms p99 {:.1} ms", l.p50, l.p99));
    }
    if let Some(e) = &r.encoder {
        parts.push(e.element.clone());
    }
    parts.join(", ")
}

pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Finished, HarnessError> {
    let setup = Setup::resolve(&opts.run)?;
    let selected = matrix::select(opts.rows.as_deref())?;
    let breaks = matrix::parse_breaks(&opts.breaks)?;
    if let Some(row) = breaks
        .keys()
        .find(|r| !selected.iter().any(|d| d.id == **r))
    {
        return Err(HarnessError::BadBreak {
            spec: row.to_string(),
            why: "that row is not selected (--rows)".into(),
        });
    }
    let spec = Spec {
        command: "acceptance",
        kind: KIND_SUMMARY,
        summary: "summary.json",
        verdict: true,
    };
    let ctx = setup.start(spec, progress)?;
    let mut summary = Summary {
        head: ctx.header(),
        nats: ctx.nats_info.clone(),
        totals: Tally::default(),
        negative: Tally::default(),
        rows: Vec::new(),
        rows_not_selected: not_selected(&matrix::MATRIX, &selected, |d| d.id),
    };
    ctx.save(&mut summary)?;
    for def in selected {
        let failed_before = summary.rows.iter().any(|r| r.outcome == Outcome::Fail);
        let not_run = if interrupt::requested() {
            Some("interrupted (SIGINT/SIGTERM) before this row started".to_owned())
        } else if failed_before && !opts.keep_going {
            Some("not run: an earlier row failed and --keep-going is false".to_owned())
        } else {
            progress.started(def.id);
            None
        };
        let entry = run_one(&ctx, def, breaks.get(def.id).copied(), not_run)?;
        let tally = if def.negative {
            &mut summary.negative
        } else {
            &mut summary.totals
        };
        tally.add(entry.outcome);
        progress.finished(&entry);
        summary.rows.push(entry);
        ctx.save(&mut summary)?;
    }
    let tallies = [summary.totals, summary.negative];
    let (outcome, exit_code) = verdict(&tallies, interrupt::requested());
    let run_dir = ctx.finish(&mut summary, Some(outcome), exit_code)?;
    Ok(Finished {
        summary,
        run_dir,
        exit_code,
    })
}
