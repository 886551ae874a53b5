//! The streamer's memory during a fault: VmRSS from /proc, sampled on a
//! thread of its own (a process's own rusage gives only the peak, not when
//! it happened).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::unix_ns;

/// One VmRSS sample: when (Unix ns) and how much (KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RssSample {
    pub unix_ns: u64,
    pub kib: u64,
}

/// VmRSS of `pid` from /proc, in KiB.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Samples VmRSS of a process every `every` on a thread of its own, until
/// the process is gone (it becomes a zombie; VmRSS then disappears) or the
/// sampler is finished.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<RssSample>>>,
}

impl RssSampler {
    pub fn start(pid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match vm_rss_kib(pid) {
                    Some(kib) => samples.push(RssSample {
                        unix_ns: unix_ns(),
                        kib,
                    }),
                    None => break,
                }
                std::thread::sleep(every);
            }
            samples
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Vec<RssSample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_rss() {
        assert!(vm_rss_kib(std::process::id()).unwrap() > 0);
        let s = RssSampler::start(std::process::id(), Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(60));
        let v = s.finish();
        assert!(v.len() >= 2, "{v:?}");
        assert!(v.windows(2).all(|w| w[0].unix_ns <= w[1].unix_ns));
    }
}
