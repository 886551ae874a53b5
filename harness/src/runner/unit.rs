//! One row, scenario or bench configuration of a run: its folder, its
//! shm/ipc names, starting its processes (the streamer with its events
//! file), waiting for the streamer's readiness event, and closing it (every
//! process stopped and recorded, leftover names removed, `result.json`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::RunCtx;
use crate::events::{self, Event, Events};
use crate::evidence::{list_files, write_json};
use crate::model::{Outcome, ProcessRecord};
use crate::names::RowNames;
use crate::supervisor::{Proc, Wait};
use crate::{HarnessError, interrupt};

pub const INTERRUPTED: &str = "interrupted (SIGINT/SIGTERM)";
/// How long a streamer gets to report `ingest_started` (start-up on a
/// loaded two-core host, the encoder's probing included).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How a row or scenario ended before its verdict.
#[derive(Debug)]
pub struct Ended(pub Outcome, pub String);

impl Ended {
    pub fn fail(why: impl Into<String>) -> Self {
        Ended(Outcome::Fail, why.into())
    }

    /// SIGINT/SIGTERM while `doing`: a skip, never a pass or a fail.
    pub fn interrupted(doing: &str) -> Self {
        Ended(Outcome::Skip, format!("{INTERRUPTED} while {doing}"))
    }
}

impl From<HarnessError> for Ended {
    /// A process that cannot even start fails its row.
    fn from(e: HarnessError) -> Self {
        Ended::fail(e.to_string())
    }
}

/// `interrupted` when the run was interrupted, else `finished`: why the
/// processes still running at the end of a row were stopped.
pub fn why_stopped(finished: &'static str) -> &'static str {
    if interrupt::requested() {
        "interrupted"
    } else {
        finished
    }
}

/// A unit's `result.json`: it gets the unit's wall time and files when the
/// unit closes.
pub trait UnitResult: Serialize {
    fn closing(&mut self, duration_ms: u64, artifacts: Vec<String>);
}

pub struct Unit<'a> {
    pub run: &'a RunCtx<'a>,
    /// The row, scenario or configuration id (progress lines, names).
    pub id: String,
    pub dir: PathBuf,
    /// Where this unit's producer and streamer meet.
    pub names: RowNames,
    pub started: Instant,
    pub started_at: SystemTime,
}

impl<'a> Unit<'a> {
    pub(super) fn new(run: &'a RunCtx<'a>, id: &str, dir: PathBuf) -> Self {
        Self {
            run,
            id: id.to_owned(),
            dir,
            names: run.names.row(id),
            started: Instant::now(),
            started_at: SystemTime::now(),
        }
    }

    pub fn phase(&self, phase: &str) {
        self.run.progress.phase(&self.id, phase);
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn path_arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }

    /// Starts `program args` named `name` in the run's runtime, with its
    /// logs in the unit's folder.
    pub fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Proc, HarnessError> {
        Proc::spawn_in(&self.run.runtime, &self.dir, name, program, args)
    }

    /// The events file of the streamer process named `name`.
    pub fn events_file(&self, name: &str) -> PathBuf {
        events::file(&self.dir, name)
    }

    /// What the streamer process named `name` reported so far.
    pub fn events(&self, name: &str) -> Events {
        Events::read(&self.events_file(name))
    }

    /// `cvmmap_streamer args --events <dir>/<name>.events.jsonl`: every
    /// streamer the harness starts reports its events.
    pub fn spawn_streamer(&self, name: &str, mut args: Vec<String>) -> Result<Proc, HarnessError> {
        args.extend([
            "--events".into(),
            self.events_file(name).display().to_string(),
        ]);
        self.spawn(name, &self.run.bins.streamer, args)
    }

    /// Waits for the streamer's `ingest_started` event (its ingest listens,
    /// a producer may start), or says why it did not come.
    pub fn ingest_started(&self, st: &mut Proc) -> Result<Event, Wait> {
        let path = self.events_file(&st.name);
        events::wait_for_event(st, &path, events::INGEST_STARTED, READY_TIMEOUT)
    }

    /// Stops every process still running (with `why`), records them all,
    /// and removes the segment and socket a killed producer left behind.
    pub fn close(&self, procs: &mut [Proc], why: &str) -> Vec<ProcessRecord> {
        for p in procs.iter_mut() {
            p.stop(why);
        }
        let records = procs.iter_mut().map(Proc::record).collect();
        self.names.clean_up();
        records
    }

    /// Wall time of the unit so far.
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Completes `res` with the unit's wall time and the files in its
    /// folder, and writes it as the unit's `result.json` (atomically).
    pub fn write_result(&self, res: &mut impl UnitResult) -> Result<(), HarnessError> {
        res.closing(self.elapsed_ms(), list_files(&self.dir, &["result.json"]));
        write_json(&self.path("result.json"), res)
    }
}
