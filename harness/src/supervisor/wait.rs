//! What the runners read from a process and how they wait on several: its
//! logs (for one-line failure reasons; judging goes by events and reports),
//! a documented machine-readable stdout line, its evidence record, and one
//! deadline for a group.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Exit, Proc, Wait};
use crate::model::ProcessRecord;

impl Proc {
    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout_log).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// The last non-empty stderr line, for one-line failure reasons.
    pub fn last_stderr_line(&self) -> Option<String> {
        self.stderr_text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
    }

    /// Waits until a stdout line starts with `prefix` and returns the rest:
    /// for a tool's documented machine-readable line (`rtmp_stub_tester`'s
    /// `listening PORT`). None on the process's exit, timeout or interrupt.
    pub fn wait_stdout_line(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(rest) = self
                .stdout_text()
                .lines()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            {
                return Some(rest);
            }
            if self.poll().is_some() || Instant::now() >= deadline || crate::interrupt::requested()
            {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the evidence says about this process; file names are relative
    /// to the folder holding the logs.
    pub fn record(&mut self) -> ProcessRecord {
        let ended = self.ended();
        let (exit_code, signal) = match ended.map(|e| e.exit) {
            Some(Exit::Code(c)) => (Some(c), None),
            Some(Exit::Signal(s)) => (None, Some(s)),
            None => (None, None),
        };
        let duration = ended.map_or(self.started.elapsed(), |e| e.wall);
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

/// A wait that SIGINT/SIGTERM ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Waits for every process in turn against one deadline; those that overrun
/// it are stopped with `why` and named in the result. An interrupt ends the
/// wait at once.
pub fn wait_all<'p>(
    procs: impl Iterator<Item = &'p mut Proc>,
    deadline: Instant,
    why: &str,
) -> Result<Vec<String>, Interrupted> {
    let mut overran = Vec::new();
    for p in procs {
        match p.wait_until(deadline) {
            Wait::Exited(_) => {}
            Wait::Interrupted => return Err(Interrupted),
            Wait::TimedOut => {
                p.stop(why);
                overran.push(p.name.clone());
            }
        }
    }
    Ok(overran)
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
    fn reads_a_stdout_line_and_names_overrunners() {
        let dir = std::env::temp_dir().join(format!("harness_wait_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sh = Path::new("/bin/sh");
        let script = "echo 'listening 4242'; sleep 30";
        let mut a = Proc::spawn(&dir, "a", sh, vec!["-c".into(), script.into()]).unwrap();
        let rest = a.wait_stdout_line("listening ", Duration::from_secs(10));
        assert_eq!(rest.as_deref(), Some("4242"));
        let mut b = Proc::spawn(&dir, "b", sh, vec!["-c".into(), "exit 0".into()]).unwrap();
        let soon = Instant::now() + Duration::from_millis(300);
        let late = wait_all([&mut b, &mut a].into_iter(), soon, "test deadline");
        assert_eq!(late, Ok(vec!["a".to_owned()]));
        assert_eq!(
            a.record().stopped_by_harness.as_deref(),
            Some("test deadline")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
