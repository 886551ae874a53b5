//! Reaping a local child with wait4(2), which returns the child's own
//! resource usage with its exit status: user and system CPU time and peak
//! resident memory. Nothing else gives these per process
//! (getrusage(RUSAGE_CHILDREN) sums every child ever waited for, the
//! simulator and the receiver included), and std's `Child::wait` discards
//! them; so a local `Proc` is never waited on through std.

use super::Exit;

/// What the kernel accounted to the child (and its reaped descendants).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub user_ms: f64,
    pub sys_ms: f64,
    /// `ru_maxrss`: peak resident set size, in KiB on Linux.
    pub max_rss_kib: u64,
}

fn ms(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0
}

/// Reaps child `pid` once it has ended; `block` waits until it does
/// (after SIGKILL, which it cannot ignore). None while it still runs.
pub fn reap(pid: u32, block: bool) -> Option<(Exit, Usage)> {
    let pid = pid as libc::pid_t;
    let flags = if block { 0 } else { libc::WNOHANG };
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: wait4 on our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        // A signal handler (SIGINT) may interrupt a blocking wait: retry.
        if r != -1 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            break r;
        }
    };
    if r != pid {
        return None;
    }
    let exit = if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(-1)
    };
    let usage = Usage {
        user_ms: ms(ru.ru_utime),
        sys_ms: ms(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
    };
    Some((exit, usage))
}
