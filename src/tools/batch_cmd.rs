//! `cvmmap_tools batch` and `worker`: inputs -> jobs -> what exists ->
//! list, run locally, or queue; progress on stderr, a JSON report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use cvmmap_streamer::batch::inputs::{InputSpec, collect};
use cvmmap_streamer::batch::plan::{self, OutputState};
use cvmmap_streamer::batch::pool::{self, Event, Pools};
use cvmmap_streamer::batch::progress::Progress;
use cvmmap_streamer::batch::queue::{self, QueueConfig, QueueEvent, WorkerOptions};
use cvmmap_streamer::batch::{Job, Outcome, Slot, Verb};

use super::app;
use super::cli::{BatchFlags, BatchJob, QueueFlags};

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("cvmmap_tools batch: {msg}");
    ExitCode::from(2)
}

fn queue_config(q: &QueueFlags, url: &str) -> QueueConfig {
    QueueConfig {
        url: url.to_owned(),
        jobs_stream: "CVMMAP_JOBS".into(),
        results_stream: "CVMMAP_RESULTS".into(),
        ack_wait: Duration::from_secs_f64(q.ack_wait_seconds.max(1.0)),
        max_deliver: q.max_deliver.max(1),
    }
}

/// The report written with `--report`.
#[derive(serde::Serialize)]
struct Report<'a> {
    verb: &'static str,
    started_unix_ms: u64,
    ended_unix_ms: u64,
    pools: &'a Pools,
    queue: Option<&'a str>,
    batch: &'a str,
    inputs: usize,
    ran: usize,
    ok: usize,
    failed: usize,
    skipped: &'a [plan::Skipped],
    /// The most jobs that ran at once, per pool (from start/end times).
    max_concurrent: serde_json::Value,
    outcomes: &'a [Outcome],
}

pub fn run(job: BatchJob) -> ExitCode {
    let (verb, b, args): (Verb, BatchFlags, Vec<String>) = match job {
        BatchJob::ExportMp4 { batch, flags } => {
            if flags.output.is_some() {
                return usage("--output names one file; a batch writes each job's default names");
            }
            (Verb::ExportMp4, batch, flags.job_args())
        }
        BatchJob::Grid { batch, flags } => {
            if flags.output.is_some() || !flags.inputs.is_empty() {
                return usage(
                    "a grid batch takes one bundled recording a job (no --output, no --input)",
                );
            }
            (Verb::Grid, batch, flags.job_args())
        }
        BatchJob::Recover { batch } => (Verb::Recover, batch, Vec::new()),
    };
    let spec = InputSpec {
        paths: b.inputs.clone(),
        recursive: b.recursive,
        pattern: b.pattern.clone(),
        segments: b.segments.clone(),
        segments_csv: b.segments_csv.clone(),
        csv_root: b.csv_root.clone(),
    };
    let inputs = match collect(&spec) {
        Ok(i) => i,
        Err(e) => return usage(e),
    };
    let jobs: Vec<Job> = inputs
        .iter()
        .map(|i| plan::job_for(verb, i, &args))
        .collect();

    if b.report_existing {
        let states = plan::existing(&jobs);
        let (mut valid, mut invalid, mut missing) = (0, 0, 0);
        for (path, state) in &states {
            match state {
                OutputState::Valid => valid += 1,
                OutputState::Missing => missing += 1,
                OutputState::Invalid(why) => {
                    invalid += 1;
                    println!("invalid: {}: {why}", path.display());
                }
            }
        }
        println!("{valid} valid, {invalid} invalid, {missing} missing");
        return ExitCode::SUCCESS;
    }

    let planned = plan::plan(jobs, b.overwrite, b.probe_existing);
    if b.dry_run {
        for j in &planned.run {
            println!("would run: {}", j.describe());
        }
        for s in &planned.skipped {
            println!("skip: {} ({})", s.input.display(), s.reason);
        }
        println!(
            "{} would run, {} skipped",
            planned.run.len(),
            planned.skipped.len()
        );
        return ExitCode::SUCCESS;
    }

    let mixed = b.hardware_jobs > 0 || b.software_jobs > 0;
    if mixed && b.jobs.is_some() {
        return usage(
            "--jobs is one pool; --hardware-jobs/--software-jobs are mixed pools: give one or the other",
        );
    }
    if !b.hardware_devices.is_empty() && b.hardware_jobs == 0 {
        return usage("--hardware-devices needs --hardware-jobs");
    }
    let pools = if mixed {
        Pools {
            any: 0,
            hardware: b.hardware_jobs,
            devices: b.hardware_devices.clone(),
            software: b.software_jobs,
        }
    } else {
        Pools {
            any: b.jobs.unwrap_or(1).max(1),
            ..Pools::default()
        }
    };
    let started = cvmmap_streamer::batch::job::unix_ms();
    let batch_id = format!("{started}-{}", std::process::id());
    let mut progress = Progress::new(
        b.progress_ui,
        verb.name(),
        planned.run.len(),
        pools.slots().len(),
        Duration::from_secs_f64(b.heartbeat_seconds.max(0.5)),
    );
    for s in &planned.skipped {
        eprintln!("skip: {} ({})", s.input.display(), s.reason);
    }

    let outcomes: Vec<Outcome> = if let Some(url) = &b.queue.queue {
        let cfg = queue_config(&b.queue, url);
        if let Err(e) = queue::publish(&cfg, &batch_id, &planned.run) {
            eprintln!("cvmmap_tools batch: {e}");
            return ExitCode::from(1);
        }
        eprintln!(
            "published {} jobs to {url} (batch {batch_id}); run `cvmmap_tools worker --queue {url}` anywhere that sees the files",
            planned.run.len()
        );
        if !b.wait {
            return ExitCode::SUCCESS;
        }
        let descs: std::collections::HashMap<String, String> = planned
            .run
            .iter()
            .map(|j| (j.id.clone(), j.describe()))
            .collect();
        let mut on_event = |ev: QueueEvent| match ev {
            QueueEvent::Started {
                id,
                worker,
                delivery,
            } => {
                let desc = descs.get(&id).cloned().unwrap_or(id.clone());
                progress.started(&id, &desc, Slot::Any, &worker, delivery);
            }
            QueueEvent::Done(o) => progress.done(&o),
        };
        match queue::wait(&cfg, &batch_id, &planned.run, &mut on_event) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("cvmmap_tools batch: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        let tools = match std::env::current_exe() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cvmmap_tools batch: cannot find this program: {e}");
                return ExitCode::from(1);
            }
        };
        let progress = std::cell::RefCell::new(&mut progress);
        pool::run_local(
            planned.run.clone(),
            &pools,
            &tools,
            &mut |ev| match ev {
                Event::Started {
                    id,
                    desc,
                    slot,
                    worker,
                    delivery,
                } => progress
                    .borrow_mut()
                    .started(&id, &desc, slot, &worker, delivery),
                Event::Done(o) => progress.borrow_mut().done(&o),
            },
            &mut || progress.borrow_mut().tick(),
        )
    };
    progress.finish();
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if let Some(path) = &b.report {
        let report = Report {
            verb: verb.name(),
            started_unix_ms: started,
            ended_unix_ms: cvmmap_streamer::batch::job::unix_ms(),
            pools: &pools,
            queue: b.queue.queue.as_deref(),
            batch: &batch_id,
            inputs: inputs.len(),
            ran: outcomes.len(),
            ok: outcomes.len() - failed,
            failed,
            skipped: &planned.skipped,
            max_concurrent: serde_json::json!({
                "hardware": pool::max_concurrent(&outcomes, |s| matches!(s, Slot::Hardware { .. })),
                "software": pool::max_concurrent(&outcomes, |s| matches!(s, Slot::Software)),
                "any": pool::max_concurrent(&outcomes, |s| matches!(s, Slot::Any)),
            }),
            outcomes: &outcomes,
        };
        let written = serde_json::to_vec_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(path, b));
        if let Err(e) = written {
            eprintln!("cvmmap_tools batch: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::from(u8::from(failed > 0))
}

pub fn worker(q: &QueueFlags, max_jobs: Option<u64>, idle_exit: Option<Duration>) -> ExitCode {
    let Some(url) = &q.queue else {
        eprintln!("cvmmap_tools worker: --queue nats://HOST:PORT is required");
        return ExitCode::from(2);
    };
    let stop: std::sync::Arc<AtomicBool> = match app::stop_on_signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let tools: PathBuf = match std::env::current_exe() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cvmmap_tools worker: cannot find this program: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = WorkerOptions {
        max_jobs,
        idle_exit,
    };
    match queue::work(&queue_config(q, url), &tools, &opts, &stop) {
        Ok(n) => {
            tracing::info!(jobs = n, "worker stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cvmmap_tools worker: {e}");
            ExitCode::from(1)
        }
    }
}
