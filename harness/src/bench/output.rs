//! The end of a run: the plot, the table, then the run's finalisation
//! (the final result.json and `DIR/latest`); the exit code.

use std::path::Path;

use super::model::{BenchResult, GoalOutcome, Status};
use super::plan::{Config, Plan};
use super::{BenchError, Finished, svg, table};
use crate::evidence::list_files;
use crate::runner::{EXIT_INTERRUPTED, RunCtx};
use crate::{HarnessError, interrupt};

/// Writes the table and the plot, then finishes the run.
pub fn finish(
    ctx: RunCtx,
    bench_dir: &Path,
    plan: &Plan,
    mut result: BenchResult,
) -> Result<Finished, BenchError> {
    let interrupted = interrupt::requested();
    result.configs_not_run = plan
        .configs
        .iter()
        .map(Config::id)
        .filter(|id| !result.configs.iter().any(|c| &c.id == id))
        .collect();
    let sides = result
        .configs
        .iter()
        .flat_map(|c| [c.streamer.status, c.gst.status, c.floor.status]);
    // A goal missed where it was judged (release build, gst-launch holding
    // real time) fails the run like a failed side: the figures say why.
    let goals_met = result
        .configs
        .iter()
        .flat_map(|c| &c.comparison.goals)
        .all(|g| g.outcome != GoalOutcome::Missed);
    let all_ok = sides.clone().all(|s| s == Status::Ok) && goals_met && !result.configs.is_empty();
    let exit_code = match (interrupted, all_ok) {
        (true, _) => EXIT_INTERRUPTED,
        // A skipped side is not a comparison: the table says why.
        (false, false) => 1,
        (false, true) => 0,
    };
    let series: Vec<svg::Series> = result
        .configs
        .iter()
        .map(|c| svg::Series {
            label: format!("{}x{} {}", c.width, c.height, c.codec),
            latency: c.streamer.latency_ms.as_ref(),
            note: format!(
                "not measured: {}",
                c.streamer
                    .latency_note
                    .as_deref()
                    .unwrap_or(&c.streamer.reason)
            ),
        })
        .collect();
    let plot = svg::render(
        "cvmmap_streamer capture-to-receiver latency (paced 30 fps, RTP over loopback)",
        &series,
    );
    let svg_path = bench_dir.join("latency.svg");
    std::fs::write(&svg_path, plot).map_err(|e| HarnessError::io(&svg_path, e))?;
    let table = table::render(&result);
    let table_path = bench_dir.join("table.txt");
    std::fs::write(&table_path, &table).map_err(|e| HarnessError::io(&table_path, e))?;
    result.artifacts = list_files(bench_dir, &["result.json"]);
    let run_dir = ctx.finish(&mut result, None, exit_code)?;
    Ok(Finished {
        result,
        run_dir,
        table,
        exit_code,
    })
}
