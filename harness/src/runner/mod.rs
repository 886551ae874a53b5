//! What `harness acceptance`, `faults` and `bench` share around their rows:
//! one run context ([`RunCtx`]: runtime, run id, binaries, git, host,
//! names, the run's nats-server, progress), one setup ([`Setup`]: resolve
//! the binaries, make the run folder, start the runtime and the
//! nats-server), one finalisation ([`RunCtx::finish`]: the summary written
//! atomically, `DIR/latest`, the exit code) and one summary header
//! ([`SummaryHeader`]) that the three summaries embed.

mod unit;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Serialize;

pub use unit::{Ended, INTERRUPTED, READY_TIMEOUT, Unit, UnitResult, why_stopped};

use crate::bins::{Binaries, SIM, STREAMER, supports_flag};
use crate::container::ContainerRuntime;
use crate::evidence::{RunDir, write_json};
use crate::model::{GitInfo, HarnessInfo, HostInfo, RunNats, SummaryHeader, Tally};
use crate::names::RunNames;
use crate::nats::NatsServer;
use crate::progress::Progress;
use crate::supervisor::Runtime;
use crate::{HarnessError, clock, host};

/// Exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The command-line options every runner takes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--evidence DIR`: the run goes to DIR/<run-id>/.
    pub evidence: PathBuf,
    /// `--bin-dir DIR` [default: next to the harness].
    pub bin_dir: Option<PathBuf>,
    /// `--runtime container --image IMAGE`: every process in a container.
    pub image: Option<String>,
    /// The harness's own argv, for the summary.
    pub argv: Vec<String>,
}

/// What differs between the runners' runs.
pub struct Spec {
    /// `acceptance`, `faults`, `bench`: part of the run id.
    pub command: &'static str,
    /// The summary's `kind`.
    pub kind: &'static str,
    /// Where the summary goes, relative to the run folder.
    pub summary: &'static str,
    /// Acceptance and faults: the run has its own nats-server, and the
    /// summary an overall `outcome` and a `container`. Bench has none of
    /// these (no NATS, as gst has none; each side judged apart; local only).
    pub verdict: bool,
}

/// A run whose binaries were found; [`Setup::start`] begins it. Two steps,
/// so that a runner checks its own flags in between and a usage error
/// leaves no run folder behind.
pub struct Setup<'o> {
    opts: &'o RunOptions,
    bins: Binaries,
}

/// Everything a row, scenario or configuration needs from its run.
pub struct RunCtx<'a> {
    pub folder: RunDir,
    pub run_id: String,
    /// Local child processes, or one container per process.
    pub runtime: Runtime,
    pub bins: Binaries,
    pub git: GitInfo,
    pub host: HostInfo,
    pub names: RunNames,
    /// The run's nats-server, when installed (acceptance and faults).
    pub nats: Option<NatsServer>,
    /// The summary's `nats` object.
    pub nats_info: RunNats,
    /// Whether `cvmmap_sim` / `cvmmap_streamer --help` list `--nats-url`.
    pub sim_takes_nats: bool,
    pub streamer_takes_nats: bool,
    pub progress: &'a dyn Progress,
    harness: HarnessInfo,
    spec: Spec,
    started_at: SystemTime,
    t0: Instant,
}

/// A summary with a [`SummaryHeader`], so that the run can save it.
pub trait Summarised: Serialize {
    fn header(&mut self) -> &mut SummaryHeader;
}

impl<'o> Setup<'o> {
    /// The binaries: on the image's PATH with `--image`, else in `--bin-dir`
    /// or next to the harness (a missing one is an error).
    pub fn resolve(opts: &'o RunOptions) -> Result<Self, HarnessError> {
        let bins = match &opts.image {
            Some(_) => Binaries::in_image(),
            None => Binaries::locate(opts.bin_dir.as_deref())?,
        };
        Ok(Self { opts, bins })
    }

    /// Makes the run folder, the runtime and (with `spec.verdict`) the
    /// run's nats-server.
    pub fn start<'p>(
        self,
        spec: Spec,
        progress: &'p dyn Progress,
    ) -> Result<RunCtx<'p>, HarnessError> {
        let (started_at, t0) = (SystemTime::now(), Instant::now());
        let folder = RunDir::create(&self.opts.evidence, spec.command, started_at)?;
        let runtime = match &self.opts.image {
            // The evidence folder (JSON outputs) and the temp folder (ipc://
            // sockets) are shared with every container at the same paths.
            Some(image) => Runtime::Container(Arc::new(ContainerRuntime::new(
                image,
                vec![folder.path.clone(), std::env::temp_dir()],
            )?)),
            None => Runtime::Local,
        };
        let bins = self.bins;
        let takes = |p: &Path| spec.verdict && supports_flag(p, "--nats-url");
        let (sim_takes_nats, streamer_takes_nats) = (takes(&bins.sim), takes(&bins.streamer));
        let (nats, nats_info) = if spec.verdict {
            let takers = [(SIM, sim_takes_nats), (STREAMER, streamer_takes_nats)];
            crate::nats::start_for_run(&folder, &takers)?
        } else {
            (None, RunNats::default())
        };
        Ok(RunCtx {
            run_id: folder.run_id.clone(),
            names: RunNames::new(folder.token()),
            folder,
            runtime,
            git: host::git_info(),
            host: host::host_info(),
            nats,
            nats_info,
            sim_takes_nats,
            streamer_takes_nats,
            progress,
            harness: HarnessInfo {
                version: env!("CARGO_PKG_VERSION"),
                argv: self.opts.argv.clone(),
                bin_dir: bins.dir.display().to_string(),
            },
            bins,
            spec,
            started_at,
            t0,
        })
    }
}

impl<'a> RunCtx<'a> {
    /// The run's NATS URL, when its nats-server runs.
    pub fn nats_url(&self) -> Option<&str> {
        self.nats.as_ref().map(|n| n.url.as_str())
    }

    /// The summary's header while the run is running.
    pub fn header(&self) -> SummaryHeader {
        let verdict = self.spec.verdict;
        SummaryHeader {
            schema_version: crate::SCHEMA_VERSION,
            kind: self.spec.kind,
            run_id: self.run_id.clone(),
            status: "running",
            outcome: verdict.then_some("incomplete"),
            exit_code: None,
            started_at: clock::rfc3339(self.started_at),
            finished_at: None,
            duration_ms: 0,
            git: self.git.clone(),
            host: self.host.clone(),
            runtime: self.runtime.name(),
            container: verdict.then(|| self.runtime.container().cloned()),
            harness: self.harness.clone(),
        }
    }

    /// A row, scenario or configuration called `id`, in `<run>/<folder>/`.
    pub fn unit(&self, id: &str, folder: &str) -> Result<Unit<'_>, HarnessError> {
        Ok(Unit::new(self, id, self.folder.sub_dir(folder)?))
    }

    fn summary_path(&self) -> PathBuf {
        self.folder.path.join(self.spec.summary)
    }

    /// Rewrites the summary (after each row), with the time so far.
    pub fn save(&self, s: &mut impl Summarised) -> Result<(), HarnessError> {
        s.header().duration_ms = self.t0.elapsed().as_millis() as u64;
        write_json(&self.summary_path(), s)
    }

    /// Ends the run: stops its nats-server, writes the final summary
    /// (`interrupted` when `exit_code` says so, else `complete`) and points
    /// `DIR/latest` at the run. Returns the run folder.
    pub fn finish(
        mut self,
        s: &mut impl Summarised,
        outcome: Option<&'static str>,
        exit_code: u8,
    ) -> Result<PathBuf, HarnessError> {
        // Stopped before the summary says the run is over.
        drop(self.nats.take());
        let h = s.header();
        h.status = if exit_code == EXIT_INTERRUPTED {
            "interrupted"
        } else {
            "complete"
        };
        h.outcome = outcome.or(h.outcome);
        h.exit_code = Some(i32::from(exit_code));
        h.finished_at = Some(clock::rfc3339(SystemTime::now()));
        self.save(s)?;
        // The run itself is complete and on disk; a `latest` that cannot be
        // moved (e.g. a real folder of that name) is worth a warning, not
        // the loss of the tally lines.
        if let Err(e) = self.folder.point_latest() {
            tracing::warn!(error = %e, "cannot point DIR/latest at this run");
        }
        Ok(self.folder.path.clone())
    }
}

/// The ids of `all` that are not `selected` (a summary's
/// `*_not_selected`), in `all`'s order.
pub fn not_selected<T>(all: &[T], selected: &[&T], id: impl Fn(&T) -> &'static str) -> Vec<String> {
    all.iter()
        .filter(|d| !selected.iter().any(|s| id(s) == id(d)))
        .map(|d| id(d).to_owned())
        .collect()
}

/// The outcome and exit code of a run judged by its tallies: `pass` (0)
/// only when everything passed; a skip is not a pass (`incomplete`, 1);
/// an interrupted run is 130 whatever ran.
pub fn verdict(tallies: &[Tally], interrupted: bool) -> (&'static str, u8) {
    let failed = tallies.iter().any(|t| t.fail > 0);
    let skipped = tallies.iter().any(|t| t.skip > 0);
    match (interrupted, failed, skipped) {
        (true, _, _) => ("incomplete", EXIT_INTERRUPTED),
        (false, true, _) => ("fail", 1),
        (false, false, true) => ("incomplete", 1),
        (false, false, false) => ("pass", 0),
    }
}

#[cfg(test)]
mod tests;
