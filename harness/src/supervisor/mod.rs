//! Child processes of a row, scenario or bench run: the one process type
//! of the harness. Each runs in its own process group (so the harness, not
//! the terminal, decides when and how it stops), dies with the harness
//! (PR_SET_PDEATHSIG), logs stdout and stderr to files in the evidence
//! folder, and is waited on with deadlines that also end on SIGINT/SIGTERM.
//! A local child is reaped with wait4(2), so its CPU time and peak memory
//! are known ([`reap`]); a container's are not. Dropping a `Proc` stops it:
//! TERM, a grace period, KILL.

mod reap;
pub mod threads;
mod wait;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use reap::Usage;
pub use wait::{Interrupted, shell_line, wait_all};

use crate::HarnessError;
use crate::container::{ContainerProc, ContainerRuntime};

/// Where a row's processes run.
#[derive(Debug, Clone, Default)]
pub enum Runtime {
    /// Child processes of the harness (the default).
    #[default]
    Local,
    /// One container per process (`--runtime container --image IMAGE`).
    Container(Arc<ContainerRuntime>),
}

impl Runtime {
    /// "local" or "container", as the evidence records it.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Local => "local",
            Runtime::Container(_) => "container",
        }
    }

    /// The image and engine facts, for the evidence.
    pub fn container(&self) -> Option<&ContainerRuntime> {
        match self {
            Runtime::Local => None,
            Runtime::Container(c) => Some(c),
        }
    }
}

enum Backend {
    /// Kept for its pid only: it is reaped with wait4, never through std.
    Local(Child),
    Container(Box<ContainerProc>),
}

/// How long a process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);
/// How often waits look at a process: short, because bench takes the wall
/// time of a run to this granularity.
const POLL: Duration = Duration::from_millis(5);

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// Result of a bounded wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Exited(Exit),
    TimedOut,
    Interrupted,
}

/// A process that has ended: how, after how long, and what it cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ended {
    pub exit: Exit,
    /// From spawn to the harness seeing the exit.
    pub wall: Duration,
    /// None in a container: the engine reports no rusage.
    pub usage: Option<Usage>,
}

pub struct Proc {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    backend: Backend,
    started: Instant,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    ended: Option<Ended>,
    /// Why the harness stopped it, when it did.
    stopped_by: Option<String>,
    /// Its threads' CPU, while [`Proc::sample_threads`] reads them.
    sampler: Option<threads::Sampler>,
    /// Every thread the sampler saw, once the process has ended.
    threads: Option<Vec<threads::ThreadCpu>>,
}

fn log_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.stdout.log")),
        dir.join(format!("{name}.stderr.log")),
    )
}

impl Proc {
    fn new(name: &str, program: PathBuf, args: Vec<String>, backend: Backend, dir: &Path) -> Self {
        let (stdout_log, stderr_log) = log_paths(dir, name);
        Proc {
            name: name.to_owned(),
            program,
            args,
            backend,
            started: Instant::now(),
            stdout_log,
            stderr_log,
            ended: None,
            stopped_by: None,
            sampler: None,
            threads: None,
        }
    }

    /// Starts `program args` with its logs at `dir/NAME.stdout.log` and
    /// `dir/NAME.stderr.log`.
    pub fn spawn(
        dir: &Path,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Proc, HarnessError> {
        let (stdout_log, stderr_log) = log_paths(dir, name);
        let out = File::create(&stdout_log).map_err(|e| HarnessError::io(&stdout_log, e))?;
        let err = File::create(&stderr_log).map_err(|e| HarnessError::io(&stderr_log, e))?;
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Info-level logs are part of the evidence (the harness judges
            // by events and reports, never by this text); plain text reads
            // better in a file than ANSI colours.
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        CommandExt::process_group(&mut cmd, 0);
        // SAFETY: between fork and exec only async-signal-safe calls are
        // allowed; prctl(2) is one. The child then gets SIGTERM if the harness
        // dies without cleaning up (e.g. SIGKILL), so nothing is orphaned.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| HarnessError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
        tracing::debug!(name, pid = child.id(), program = %program.display(), "started");
        let backend = Backend::Local(child);
        Ok(Proc::new(name, program.to_path_buf(), args, backend, dir))
    }

    /// Starts `program args` where `runtime` says: locally as [`Proc::spawn`],
    /// or in a container of the image, where `program`'s file name is run
    /// from the image's PATH.
    pub fn spawn_in(
        runtime: &Runtime,
        dir: &Path,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Proc, HarnessError> {
        let Runtime::Container(rt) = runtime else {
            return Proc::spawn(dir, name, program, args);
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        ContainerRuntime::share_dir(dir);
        let (stdout_log, stderr_log) = log_paths(dir, name);
        let binary = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let container_name = format!(
            "cvh-{}-{}-{name}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let proc = rt.start(&container_name, &binary, &args, &stdout_log, &stderr_log)?;
        tracing::debug!(name, container = %container_name, image = %rt.image, "started in a container");
        let backend = Backend::Container(Box::new(proc));
        Ok(Proc::new(name, PathBuf::from(binary), args, backend, dir))
    }

    /// The process id on this host (a container's main process too).
    pub fn pid(&self) -> u32 {
        match &self.backend {
            Backend::Local(child) => child.id(),
            Backend::Container(c) => c.host_pid,
        }
    }

    /// `program args`, as run.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec![self.program.display().to_string()];
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// How it ended, once it has (non-blocking).
    pub fn ended(&mut self) -> Option<Ended> {
        if self.ended.is_none() {
            let got = match &mut self.backend {
                Backend::Local(child) => reap::reap(child.id(), false).map(|(e, u)| (e, Some(u))),
                // The engine reports a death by signal as 128 + signal.
                Backend::Container(c) => c.exit_code().map(|code| match code {
                    129..=159 => (Exit::Signal(code - 128), None),
                    c => (Exit::Code(c), None),
                }),
            };
            if let Some((exit, usage)) = got {
                self.set_ended(exit, usage);
            }
        }
        self.ended
    }

    /// Reads its threads' CPU every [`threads::PERIOD`] until it ends
    /// (a local child only; a container's threads are not ours to read).
    pub fn sample_threads(&mut self) {
        if let Backend::Local(child) = &self.backend
            && self.sampler.is_none()
        {
            match threads::Sampler::start(child.id()) {
                Ok(s) => self.sampler = Some(s),
                Err(e) => tracing::warn!(name = %self.name, error = %e, "no thread sampler"),
            }
        }
    }

    /// The threads [`Proc::sample_threads`] saw, each at its last sample;
    /// None before the end or without sampling.
    pub fn threads(&self) -> Option<&[threads::ThreadCpu]> {
        self.threads.as_deref()
    }

    fn set_ended(&mut self, exit: Exit, usage: Option<Usage>) {
        if let Some(s) = self.sampler.take() {
            self.threads = Some(s.finish());
        }
        if let Backend::Container(c) = &mut self.backend {
            // Flush the log pumps before anyone reads the logs.
            c.finish();
        }
        let wall = self.started.elapsed();
        self.ended = Some(Ended { exit, wall, usage });
    }

    /// The exit, if it happened (non-blocking).
    pub fn poll(&mut self) -> Option<Exit> {
        self.ended().map(|e| e.exit)
    }

    /// Waits for the exit until `deadline`; also returns on SIGINT/SIGTERM.
    pub fn wait_until(&mut self, deadline: Instant) -> Wait {
        loop {
            if let Some(e) = self.poll() {
                return Wait::Exited(e);
            }
            if crate::interrupt::requested() {
                return Wait::Interrupted;
            }
            if Instant::now() >= deadline {
                return Wait::TimedOut;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stops the process group if still running (TERM, then KILL after
    /// [`GRACE`]) and records `why`.
    pub fn stop(&mut self, why: &str) -> Exit {
        if let Some(e) = self.poll() {
            return e;
        }
        self.stopped_by = Some(why.to_owned());
        let pgid = match &mut self.backend {
            Backend::Local(child) => child.id() as libc::pid_t,
            Backend::Container(c) => {
                c.stop(GRACE.as_secs() as i32);
                return self.poll().unwrap_or(Exit::Signal(libc::SIGKILL));
            }
        };
        // SAFETY: kill(2) on the process group created for this child, which
        // is not reaped yet (so its id cannot have been reused).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(e) = self.poll() {
                return e;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(name = %self.name, "did not stop on SIGTERM; killing");
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        if let Some((exit, usage)) = reap::reap(self.pid(), true) {
            self.set_ended(exit, Some(usage));
        }
        self.poll().unwrap_or(Exit::Signal(libc::SIGKILL))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop("harness cleanup");
    }
}

#[cfg(test)]
mod tests;
