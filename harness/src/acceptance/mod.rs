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
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::bins::{Binaries, SIM, STREAMER, supports_flag};
use crate::container::ContainerRuntime;
use crate::evidence::{RunDir, list_files, write_json};
use crate::model::{HarnessInfo, Kind, Outcome, RowEntry, RowResult, RunNats, Summary, Tally};
use crate::names::RunNames;
use crate::nats::NatsServer;
use crate::progress::Progress;
use crate::supervisor::Proc;
use crate::supervisor::Runtime;
use crate::{HarnessError, clock, host, interrupt};
use matrix::{RowDef, Sabotage};
use row::{RowCtx, RunCtx, base_result};

pub struct Options {
    pub evidence: PathBuf,
    pub bin_dir: Option<PathBuf>,
    pub rows: Option<Vec<String>>,
    pub keep_going: bool,
    pub breaks: Vec<String>,
    pub argv: Vec<String>,
    /// `--runtime container --image IMAGE`: run every process in a container.
    pub image: Option<String>,
}

pub struct Finished {
    pub summary: Summary,
    pub run_dir: PathBuf,
    pub exit_code: u8,
}

/// Exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The run's nats-server, or why there is none.
fn start_nats(
    run: &RunDir,
    bins: &Binaries,
    in_image: bool,
) -> Result<(Option<NatsServer>, RunNats), HarnessError> {
    // An image is built from this source tree: its binaries take NATS.
    let sim = in_image || supports_flag(&bins.sim, "--nats-url");
    let streamer = in_image || supports_flag(&bins.streamer, "--nats-url");
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
            info.passed_to = [(sim, SIM), (streamer, STREAMER)]
                .iter()
                .filter(|(takes, _)| *takes)
                .map(|(_, name)| name.to_string())
                .collect();
            if info.passed_to.is_empty() {
                info.skipped_reason = Some("no binary's --help lists --nats-url".into());
            }
            Ok((Some(server), info))
        }
        Err(e) => {
            tracing::warn!(error = %e, "running without NATS");
            info.skipped_reason = Some(e.to_string());
            Ok((None, info))
        }
    }
}

/// Runs one row (or records why it did not run) and writes its result.json.
fn run_one(
    ctx: &RunCtx,
    run: &RunDir,
    def: &'static RowDef,
    sabotage: Option<Sabotage>,
    not_run: Option<String>,
) -> Result<RowEntry, HarnessError> {
    let dir = run.sub_dir(def.id)?;
    let rc = RowCtx {
        run: ctx,
        def,
        dir: dir.clone(),
        names: ctx.names.row(def.id),
        sabotage,
        started: Instant::now(),
        started_at: SystemTime::now(),
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
        let why = if interrupt::requested() {
            "interrupted"
        } else {
            "row finished"
        };
        procs.iter_mut().for_each(|p| {
            p.stop(why);
        });
        res.processes = procs.iter_mut().map(Proc::record).collect();
        drop(procs);
        rc.names.clean_up();
        let after = ctx.nats.as_ref().and_then(|n| n.total_connections());
        if let (Some(b), Some(a)) = (before, after) {
            res.nats.server_connections_during_row = Some(a.saturating_sub(b));
            res.nats.took_part = Some(a > b);
        }
    }
    res.duration_ms = rc.started.elapsed().as_millis() as u64;
    res.artifacts = list_files(&dir, &["result.json"]);
    write_json(&dir.join("result.json"), &res)?;
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

fn overall(s: &Summary, interrupted: bool) -> (&'static str, u8) {
    let failed = s.totals.fail + s.negative.fail > 0;
    let skipped = s.totals.skip + s.negative.skip > 0;
    match (interrupted, failed, skipped) {
        (true, _, _) => ("incomplete", EXIT_INTERRUPTED),
        (false, true, _) => ("fail", 1),
        // A skipped row is not a pass: acceptance was not shown.
        (false, false, true) => ("incomplete", 1),
        (false, false, false) => ("pass", 0),
    }
}

pub fn run(opts: &Options, progress: &dyn Progress) -> Result<Finished, HarnessError> {
    let bins = match &opts.image {
        Some(_) => Binaries::in_image(),
        None => Binaries::locate(opts.bin_dir.as_deref())?,
    };
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
    let (started_at, t0) = (SystemTime::now(), Instant::now());
    let run = RunDir::create(&opts.evidence, "acceptance", started_at)?;
    let runtime = match &opts.image {
        // The evidence folder (JSON outputs) and the temp folder (ipc://
        // sockets) are shared with every container at the same paths.
        Some(image) => Runtime::Container(Arc::new(ContainerRuntime::new(
            image,
            vec![run.path.clone(), std::env::temp_dir()],
        )?)),
        None => Runtime::Local,
    };
    let (nats, nats_info) = start_nats(&run, &bins, opts.image.is_some())?;
    let ctx = RunCtx {
        runtime,
        run_id: run.run_id.clone(),
        git: host::git_info(),
        host: host::host_info(),
        names: RunNames::new(run.token()),
        sim_takes_nats: nats_info.passed_to.iter().any(|n| n == SIM),
        streamer_takes_nats: nats_info.passed_to.iter().any(|n| n == STREAMER),
        nats,
        progress,
        bins,
    };
    let mut summary = Summary {
        schema_version: crate::SCHEMA_VERSION,
        kind: Kind::AcceptanceSummary,
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
        negative: Tally::default(),
        rows: Vec::new(),
        rows_not_selected: matrix::MATRIX
            .iter()
            .filter(|d| !selected.iter().any(|s| s.id == d.id))
            .map(|d| d.id.to_owned())
            .collect(),
    };
    let summary_path = run.path.join("summary.json");
    write_json(&summary_path, &summary)?;
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
        let entry = run_one(&ctx, &run, def, breaks.get(def.id).copied(), not_run)?;
        let tally = if def.negative {
            &mut summary.negative
        } else {
            &mut summary.totals
        };
        tally.add(entry.outcome);
        progress.finished(&entry);
        summary.rows.push(entry);
        summary.duration_ms = t0.elapsed().as_millis() as u64;
        write_json(&summary_path, &summary)?;
    }
    drop(ctx); // stops nats-server before the summary says the run is over
    let interrupted = interrupt::requested();
    let (outcome, exit_code) = overall(&summary, interrupted);
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
    // The run itself is complete and on disk; a `latest` that cannot be
    // moved (e.g. a real folder of that name) is worth a warning, not the
    // loss of the tally lines.
    if let Err(e) = run.point_latest() {
        tracing::warn!(error = %e, "cannot point DIR/latest at this run");
    }
    Ok(Finished {
        summary,
        run_dir: run.path.clone(),
        exit_code,
    })
}
