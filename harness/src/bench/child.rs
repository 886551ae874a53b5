//! A measured child process: like `supervisor::Proc` (own process group,
//! parent-death signal, logs in the evidence folder, bounded waits, TERM then
//! KILL), but reaped with wait4(2), which returns the child's own resource
//! usage: user and system CPU time and peak resident memory. Nothing else
//! gives these per process (getrusage(RUSAGE_CHILDREN) sums every child
//! ever waited for, including the simulator and the receiver), and std's
//! `Child::wait` discards them; so the `Child` here is never waited on
//! through std.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::model::ProcessRecord;
use crate::supervisor::{Exit, GRACE, Wait, shell_line};

/// What the kernel accounted to the child (and its reaped descendants).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub user_ms: f64,
    pub sys_ms: f64,
    /// `ru_maxrss`: peak resident set size, in KiB on Linux.
    pub max_rss_kib: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Ended {
    pub exit: Exit,
    pub wall: Duration,
    pub usage: Usage,
}

pub struct Measured {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Kept for its pid only; see the module comment.
    child: Child,
    started: Instant,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    ended: Option<Ended>,
    stopped_by: Option<String>,
}

fn ms(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0
}

impl Measured {
    /// Starts `program args` with its logs at `dir/NAME.{stdout,stderr}.log`.
    pub fn spawn(
        dir: &Path,
        name: &str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<Self, HarnessError> {
        let stdout_log = dir.join(format!("{name}.stdout.log"));
        let stderr_log = dir.join(format!("{name}.stderr.log"));
        let out = File::create(&stdout_log).map_err(|e| HarnessError::io(&stdout_log, e))?;
        let err = File::create(&stderr_log).map_err(|e| HarnessError::io(&stderr_log, e))?;
        let mut cmd = Command::new(program);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // The streamer's "ingest started" line is at info level; plain
            // text reads better in a file than ANSI colours.
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        CommandExt::process_group(&mut cmd, 0);
        // SAFETY: prctl(2) is async-signal-safe, as pre_exec requires; the
        // child gets SIGTERM if the harness dies without cleaning up.
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
        tracing::debug!(name, pid = child.id(), program = %program.display(), "started (measured)");
        Ok(Self {
            name: name.to_owned(),
            program: program.to_path_buf(),
            args,
            child,
            started: Instant::now(),
            stdout_log,
            stderr_log,
            ended: None,
            stopped_by: None,
        })
    }

    /// The exit and usage once the child ended (non-blocking).
    pub fn poll(&mut self) -> Option<Ended> {
        if self.ended.is_none() {
            let mut status: libc::c_int = 0;
            // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            let pid = self.child.id() as libc::pid_t;
            // SAFETY: wait4 on our own child, with valid out-pointers.
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
            if r == pid {
                let exit = if libc::WIFEXITED(status) {
                    Exit::Code(libc::WEXITSTATUS(status))
                } else if libc::WIFSIGNALED(status) {
                    Exit::Signal(libc::WTERMSIG(status))
                } else {
                    Exit::Code(-1)
                };
                self.ended = Some(Ended {
                    exit,
                    wall: self.started.elapsed(),
                    usage: Usage {
                        user_ms: ms(ru.ru_utime),
                        sys_ms: ms(ru.ru_stime),
                        max_rss_kib: ru.ru_maxrss.max(0) as u64,
                    },
                });
            }
        }
        self.ended
    }

    pub fn exit(&mut self) -> Option<Exit> {
        self.poll().map(|e| e.exit)
    }

    /// Waits for the exit until `deadline`; also returns on SIGINT/SIGTERM.
    pub fn wait_until(&mut self, deadline: Instant) -> Wait {
        loop {
            if let Some(e) = self.poll() {
                return Wait::Exited(e.exit);
            }
            if crate::interrupt::requested() {
                return Wait::Interrupted;
            }
            if Instant::now() >= deadline {
                return Wait::TimedOut;
            }
            // Short: the wall time is measured to this granularity.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the process group if still running (TERM, then KILL after
    /// [`GRACE`]) and records `why`.
    pub fn stop(&mut self, why: &str) -> Option<Exit> {
        if let Some(e) = self.poll() {
            return Some(e.exit);
        }
        self.stopped_by = Some(why.to_owned());
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group created for this child, which
        // is not reaped yet (so its id cannot have been reused).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(e) = self.poll() {
                return Some(e.exit);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(name = %self.name, "did not stop on SIGTERM; killing");
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Some(e) = self.poll() {
                return Some(e.exit);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

    /// The last non-empty stderr line, for one-line reasons.
    pub fn last_stderr_line(&self) -> Option<String> {
        self.stderr_text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
    }

    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec![self.program.display().to_string()];
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// The evidence's process record (log names relative to their folder).
    pub fn record(&mut self) -> ProcessRecord {
        let ended = self.poll();
        let (exit_code, signal) = match ended.map(|e| e.exit) {
            Some(Exit::Code(c)) => (Some(c), None),
            Some(Exit::Signal(s)) => (None, Some(s)),
            None => (None, None),
        };
        let file = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let argv = self.argv();
        ProcessRecord {
            name: self.name.clone(),
            command_line: shell_line(&argv),
            argv,
            pid: self.child.id(),
            exit_code,
            signal,
            stopped_by_harness: self.stopped_by.clone(),
            duration_ms: ended.map_or(self.started.elapsed(), |e| e.wall).as_millis() as u64,
            stdout_log: file(&self.stdout_log),
            stderr_log: file(&self.stderr_log),
        }
    }
}

impl Drop for Measured {
    fn drop(&mut self) {
        self.stop("harness cleanup");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_cpu_and_memory_of_one_child() {
        let dir = std::env::temp_dir().join(format!("harness_child_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Busy for a moment, so that some CPU time is accounted.
        let script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 4";
        let sh = Path::new("/bin/sh");
        let mut p = Measured::spawn(&dir, "busy", sh, vec!["-c".into(), script.into()]).unwrap();
        let far = Instant::now() + Duration::from_secs(30);
        assert_eq!(p.wait_until(far), Wait::Exited(Exit::Code(4)));
        let e = p.poll().unwrap();
        assert!(e.usage.user_ms + e.usage.sys_ms > 0.0, "{e:?}");
        assert!(e.usage.max_rss_kib > 0, "{e:?}");
        assert_eq!(p.record().exit_code, Some(4));
        let mut slow =
            Measured::spawn(&dir, "slow", sh, vec!["-c".into(), "sleep 30".into()]).unwrap();
        assert_eq!(slow.stop("test"), Some(Exit::Signal(libc::SIGTERM)));
        assert_eq!(slow.record().stopped_by_harness.as_deref(), Some("test"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
