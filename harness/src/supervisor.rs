//! Child processes of a row or scenario. Each runs in its own process group
//! (so the harness, not the terminal, decides when and how it stops), dies
//! with the harness (PR_SET_PDEATHSIG), logs stdout and stderr to files in
//! the evidence folder, and is waited on with deadlines that also end on
//! SIGINT/SIGTERM. Dropping a `Proc` stops it: TERM, a grace period, KILL.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::HarnessError;
use crate::container::{ContainerProc, ContainerRuntime};
use crate::model::ProcessRecord;

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
    Local(Child),
    Container(Box<ContainerProc>),
}

/// How long a process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

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

pub struct Proc {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    backend: Backend,
    started: Instant,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    exit: Option<(Exit, Duration)>,
    /// Why the harness stopped it, when it did.
    stopped_by: Option<String>,
}

impl Proc {
    /// Starts `program args` with its logs at `dir/NAME.stdout.log` and
    /// `dir/NAME.stderr.log`.
    pub fn spawn(
        dir: &Path,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Proc, HarnessError> {
        let stdout_log = dir.join(format!("{name}.stdout.log"));
        let stderr_log = dir.join(format!("{name}.stderr.log"));
        let out = File::create(&stdout_log).map_err(|e| HarnessError::io(&stdout_log, e))?;
        let err = File::create(&stderr_log).map_err(|e| HarnessError::io(&stderr_log, e))?;
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Info-level logs are part of the evidence, and the row runners
            // wait for lines such as "ingest started"; plain text reads
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
        Ok(Proc {
            name: name.to_owned(),
            program: program.to_path_buf(),
            args,
            backend: Backend::Local(child),
            started: Instant::now(),
            stdout_log,
            stderr_log,
            exit: None,
            stopped_by: None,
        })
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
        let stdout_log = dir.join(format!("{name}.stdout.log"));
        let stderr_log = dir.join(format!("{name}.stderr.log"));
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
        Ok(Proc {
            name: name.to_owned(),
            program: PathBuf::from(binary),
            args,
            backend: Backend::Container(Box::new(proc)),
            started: Instant::now(),
            stdout_log,
            stderr_log,
            exit: None,
            stopped_by: None,
        })
    }

    /// The process id on this host (a container's main process too).
    pub fn pid(&self) -> u32 {
        match &self.backend {
            Backend::Local(child) => child.id(),
            Backend::Container(c) => c.host_pid,
        }
    }

    /// The exit, if it happened (non-blocking).
    pub fn poll(&mut self) -> Option<Exit> {
        if self.exit.is_none() {
            let exit = match &mut self.backend {
                Backend::Local(child) => match child.try_wait() {
                    Ok(Some(status)) => {
                        use std::os::unix::process::ExitStatusExt;
                        Some(match (status.code(), status.signal()) {
                            (Some(c), _) => Exit::Code(c),
                            (None, Some(s)) => Exit::Signal(s),
                            (None, None) => Exit::Code(-1),
                        })
                    }
                    _ => None,
                },
                // The engine reports a death by signal as 128 + signal.
                Backend::Container(c) => c.exit_code().map(|code| match code {
                    129..=159 => Exit::Signal(code - 128),
                    c => Exit::Code(c),
                }),
            };
            if let Some(exit) = exit {
                if let Backend::Container(c) = &mut self.backend {
                    // Flush the log pumps before anyone reads the logs.
                    c.finish();
                }
                self.exit = Some((exit, self.started.elapsed()));
            }
        }
        self.exit.map(|(e, _)| e)
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
            std::thread::sleep(Duration::from_millis(20));
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
        // SAFETY: kill(2) on the process group we created for this child.
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
        if let Backend::Local(child) = &mut self.backend {
            let _ = child.wait();
        }
        self.poll().unwrap_or(Exit::Signal(libc::SIGKILL))
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout_log).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Waits until the stderr log contains `needle`; false on the process's
    /// exit, timeout or interrupt.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr_text().contains(needle) {
                return true;
            }
            if self.poll().is_some() || Instant::now() >= deadline || crate::interrupt::requested()
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last non-empty stderr line, for one-line failure reasons.
    pub fn last_stderr_line(&self) -> Option<String> {
        self.stderr_text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
    }

    /// What the evidence says about this process; file names are relative
    /// to the folder holding the logs.
    pub fn record(&mut self) -> ProcessRecord {
        self.poll();
        let (exit_code, signal) = match self.exit.map(|(e, _)| e) {
            Some(Exit::Code(c)) => (Some(c), None),
            Some(Exit::Signal(s)) => (None, Some(s)),
            None => (None, None),
        };
        let duration = self.exit.map_or(self.started.elapsed(), |(_, d)| d);
        let file = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut argv = vec![self.program.display().to_string()];
        argv.extend(self.args.iter().cloned());
        ProcessRecord {
            name: self.name.clone(),
            command_line: shell_line(&argv),
            argv,
            pid: self.pid(),
            exit_code,
            signal,
            stopped_by_harness: self.stopped_by.clone(),
            duration_ms: duration.as_millis() as u64,
            stdout_log: file(&self.stdout_log),
            stderr_log: file(&self.stderr_log),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop("harness cleanup");
    }
}

/// `argv` as one line a POSIX shell would run unchanged.
pub fn shell_line(argv: &[String]) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c);
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(safe) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        let argv = ["a".into(), "b c".into(), "it's".into(), "".into()];
        assert_eq!(shell_line(&argv), r"a 'b c' 'it'\''s' ''");
    }

    #[test]
    fn runs_waits_and_stops() {
        let dir = std::env::temp_dir().join(format!("harness_sup_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sh = Path::new("/bin/sh");
        let mut ok =
            Proc::spawn(&dir, "ok", sh, vec!["-c".into(), "echo hi; exit 3".into()]).unwrap();
        let far = Instant::now() + Duration::from_secs(10);
        assert_eq!(ok.wait_until(far), Wait::Exited(Exit::Code(3)));
        assert_eq!(ok.stdout_text(), "hi\n");
        let mut slow = Proc::spawn(&dir, "slow", sh, vec!["-c".into(), "sleep 30".into()]).unwrap();
        let soon = Instant::now() + Duration::from_millis(100);
        assert_eq!(slow.wait_until(soon), Wait::TimedOut);
        assert_eq!(slow.stop("test"), Exit::Signal(libc::SIGTERM));
        let rec = slow.record();
        assert_eq!(rec.signal, Some(libc::SIGTERM));
        assert_eq!(rec.stopped_by_harness.as_deref(), Some("test"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
