//! Per-thread CPU of a running child, sampled from `/proc/<pid>/task/*/stat`,
//! and which of its threads are the encoder library's workers.
//!
//! Why: `wait4` gives a process's total CPU exactly, but at 1080p x265 that
//! total varies by several ms per frame between identical runs (x265's thread
//! pool on two contended cores), more than the overhead the bench judges.
//! The encoder's worker threads run the same element on the same bytes on
//! every side of the bench, so CPU *outside* them is the figure that shows
//! what a side adds around the encoder (bench/compare.rs).
//!
//! Which threads are the encoder's workers: GStreamer names each streaming
//! thread after its task's pad (`element:pad`, cut to 15 bytes by the
//! kernel), and x264 (slice and lookahead threads) and x265 (thread pool,
//! frame encoders) start their workers from that thread when the encoder
//! opens; a Linux thread inherits its creator's name. So among threads whose
//! name has a `:`, the earliest of each name (lowest id) is the streaming
//! thread itself and every later one of that name is an encoder worker.
//! Measured (1920x1080, 150 frames): gst-launch x265 `rawvideoparse0:` x4
//! (the streaming thread 650 ms, workers 2680 + 2560 + 10 ms), the streamer
//! `appsrc0:src` x4 (240 ms; 1870 + 1840 + 0 ms).
//!
//! The sampling misses what a thread spends after the last sample (at most
//! one [`PERIOD`]); [`Split`] counts that as outside the encoder, so the
//! figure errs towards more overhead, never less.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the threads are read.
pub const PERIOD: Duration = Duration::from_millis(20);

/// One thread's CPU (user + system) at its last sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadCpu {
    pub tid: u32,
    pub name: String,
    pub cpu_ms: f64,
}

/// Parses one `/proc/<pid>/task/<tid>/stat` line (proc(5)): the name is
/// between the first `(` and the last `)` (it may hold either), utime and
/// stime are fields 14 and 15, in clock ticks.
pub fn parse_stat(line: &str, tick_ms: f64) -> Option<ThreadCpu> {
    let (tid, rest) = line.split_once(" (")?;
    let close = rest.rfind(')')?;
    let name = &rest[..close];
    let mut fields = rest[close + 1..].split_ascii_whitespace();
    // Field 3 (state) is the first after the name: utime is 11 later.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(ThreadCpu {
        tid: tid.trim().parse().ok()?,
        name: name.to_owned(),
        cpu_ms: (utime + stime) as f64 * tick_ms,
    })
}

/// The encoder library's worker threads of a process (module doc).
pub fn encoder_workers(threads: &[ThreadCpu]) -> Vec<&ThreadCpu> {
    let mut first: HashMap<&str, u32> = HashMap::new();
    for t in threads.iter().filter(|t| t.name.contains(':')) {
        let e = first.entry(t.name.as_str()).or_insert(t.tid);
        *e = (*e).min(t.tid);
    }
    threads
        .iter()
        .filter(|t| first.get(t.name.as_str()).is_some_and(|&f| t.tid != f))
        .collect()
}

/// A process's CPU split at its encoder's worker threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub threads: u32,
    pub workers: u32,
    pub workers_cpu_ms: f64,
    /// The process total (wait4) minus the workers' sampled CPU.
    pub outside_cpu_ms: f64,
}

impl Split {
    pub fn new(threads: &[ThreadCpu], total_cpu_ms: f64) -> Self {
        let workers = encoder_workers(threads);
        let workers_cpu_ms: f64 = workers.iter().map(|t| t.cpu_ms).sum();
        Split {
            threads: threads.len() as u32,
            workers: workers.len() as u32,
            workers_cpu_ms,
            outside_cpu_ms: (total_cpu_ms - workers_cpu_ms).max(0.0),
        }
    }
}

fn tick_ms() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { 1000.0 / hz as f64 } else { 10.0 }
}

fn sample(pid: u32, tick_ms: f64, into: &mut HashMap<u32, ThreadCpu>) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    for entry in dir.flatten() {
        let stat = entry.path().join("stat");
        if let Some(t) = read_stat(&stat, tick_ms) {
            into.insert(t.tid, t);
        }
    }
    true
}

fn read_stat(path: &Path, tick_ms: f64) -> Option<ThreadCpu> {
    parse_stat(&std::fs::read_to_string(path).ok()?, tick_ms)
}

/// Reads a child's threads every [`PERIOD`] on its own thread until
/// [`Sampler::finish`] or the process is gone.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<HashMap<u32, ThreadCpu>>,
}

impl Sampler {
    pub fn start(pid: u32) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("threads-{pid}"))
            .spawn(move || {
                let tick = tick_ms();
                let mut seen = HashMap::new();
                while !flag.load(Ordering::Acquire) && sample(pid, tick, &mut seen) {
                    std::thread::park_timeout(PERIOD);
                }
                seen
            })?;
        Ok(Sampler { stop, handle })
    }

    /// Every thread seen, each at its last sample, in id order.
    pub fn finish(self) -> Vec<ThreadCpu> {
        self.stop.store(true, Ordering::Release);
        self.handle.thread().unpark();
        let mut v: Vec<ThreadCpu> = self
            .handle
            .join()
            .map(|m| m.into_values().collect())
            .unwrap_or_default();
        v.sort_by_key(|t| t.tid);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tid: u32, name: &str, cpu_ms: f64) -> ThreadCpu {
        ThreadCpu {
            tid,
            name: name.into(),
            cpu_ms,
        }
    }

    #[test]
    fn parses_a_stat_line_whose_name_holds_spaces_and_parentheses() {
        let line = "4242 (a) b:(c)) S 1 2 3 4 5 6 7 8 9 10 150 27 0 0 20 0 4 0";
        let got = parse_stat(line, 10.0).unwrap();
        assert_eq!(got, t(4242, "a) b:(c)", 1770.0));
        assert_eq!(parse_stat("12 (x) S 1", 10.0), None);
        assert_eq!(parse_stat("garbage", 10.0), None);
    }

    #[test]
    fn workers_are_the_later_threads_named_like_a_streaming_thread() {
        // The measured gst-launch x265 floor, and the streamer's threads.
        let floor = [
            t(13611, "gst-launch-1.0", 0.0),
            t(13617, "rawvideoparse0:", 650.0),
            t(13618, "gmain", 0.0),
            t(13619, "rawvideoparse0:", 2680.0),
            t(13620, "rawvideoparse0:", 2560.0),
            t(13621, "rawvideoparse0:", 10.0),
            t(13632, "pool-gst-launch", 0.0),
        ];
        let w: Vec<u32> = encoder_workers(&floor).iter().map(|t| t.tid).collect();
        assert_eq!(w, [13619, 13620, 13621]);
        let s = Split::new(&floor, 6000.0);
        assert_eq!((s.threads, s.workers), (7, 3));
        assert_eq!(s.workers_cpu_ms, 5250.0);
        assert_eq!(s.outside_cpu_ms, 750.0);

        // Our own threads share no name with a streaming thread; two
        // threads of one name without a ':' (a runtime's workers) are not
        // an encoder's.
        let streamer = [
            t(1, "cvmmap_streamer", 6.0),
            t(2, "sink-rtp", 1.0),
            t(3, "ingest", 220.0),
            t(4, "appsrc0:src", 240.0),
            t(5, "appsrc0:src", 1870.0),
            t(7, "tokio-runtime-w", 3.0),
            t(8, "tokio-runtime-w", 3.0),
        ];
        let w: Vec<u32> = encoder_workers(&streamer).iter().map(|t| t.tid).collect();
        assert_eq!(w, [5]);
        // The sampled workers never make the outside figure negative.
        assert_eq!(Split::new(&streamer, 1000.0).outside_cpu_ms, 0.0);
    }

    #[test]
    fn samples_a_real_child_until_it_exits() {
        // A shell that burns CPU in a subshell-free loop for a moment.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let s = Sampler::start(child.id()).unwrap();
        child.wait().unwrap();
        let threads = s.finish();
        assert_eq!(threads.len(), 1, "{threads:?}");
        assert_eq!(threads[0].name, "sh");
        assert!(threads[0].cpu_ms > 0.0, "{threads:?}");
    }
}
