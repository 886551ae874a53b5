//! What the recorder shows while it runs: on a terminal, one live line per
//! camera (frames written, fps, dropped, bytes) redrawn in place; elsewhere
//! a log line per camera every status interval. The writer counts; a
//! small thread draws.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::info;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Live lines when stderr is a terminal, log lines otherwise.
    Auto,
    /// Live lines, redrawn in place.
    Tty,
    /// A log line per camera every status interval.
    Lines,
    /// Nothing but the final summary.
    Off,
}

/// How often the live lines are redrawn.
const REDRAW: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Camera {
    /// Dropped in front of the writer (it was behind).
    dropped: AtomicU64,
    written: AtomicU64,
    bytes_written: AtomicU64,
}

struct Inner {
    labels: Vec<String>,
    cameras: Vec<Camera>,
    bundles: AtomicU64,
    done: Mutex<bool>,
    wake: Condvar,
    live: AtomicBool,
}

/// Cheap to clone; counting is a relaxed atomic add.
#[derive(Clone)]
pub(super) struct Progress {
    inner: Arc<Inner>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Progress {
    pub fn new(mode: ProgressMode, labels: &[String], interval: Duration) -> Self {
        let live = match mode {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Tty => true,
            ProgressMode::Lines | ProgressMode::Off => false,
        };
        let inner = Arc::new(Inner {
            labels: labels.to_vec(),
            cameras: labels.iter().map(|_| Camera::default()).collect(),
            bundles: AtomicU64::new(0),
            done: Mutex::new(false),
            wake: Condvar::new(),
            live: AtomicBool::new(live),
        });
        let period = if live {
            Some(REDRAW)
        } else {
            (mode != ProgressMode::Off && !interval.is_zero()).then_some(interval)
        };
        let thread = period.map(|p| {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("record-progress".into())
                .spawn(move || draw_loop(&inner, p))
                .expect("spawn progress thread")
        });
        Self {
            inner,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    /// A unit of `camera` was written.
    pub fn written(&self, camera: usize, bytes: usize) {
        if let Some(c) = self.inner.cameras.get(camera) {
            c.written.fetch_add(1, Ordering::Relaxed);
            c.bytes_written.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// `n` units of `camera` were dropped before reaching the writer.
    pub fn dropped(&self, camera: usize, n: u64) {
        if let Some(c) = self.inner.cameras.get(camera) {
            c.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn bundle(&self) {
        self.inner.bundles.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops the drawing thread (the last lines stay on screen).
    pub fn finish(&self) {
        *self.inner.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.inner.wake.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn draw_loop(inner: &Inner, period: Duration) {
    let started = Instant::now();
    let mut last: Vec<(u64, Instant)> = inner.cameras.iter().map(|_| (0, started)).collect();
    let mut drawn = 0usize;
    loop {
        let done = {
            let guard = inner.done.lock().unwrap_or_else(|p| p.into_inner());
            let (guard, _) = inner
                .wake
                .wait_timeout_while(guard, period, |d| !*d)
                .unwrap_or_else(|p| p.into_inner());
            *guard
        };
        let now = Instant::now();
        let mut lines = Vec::with_capacity(inner.cameras.len() + 1);
        for (i, c) in inner.cameras.iter().enumerate() {
            let written = c.written.load(Ordering::Relaxed);
            let (prev, at) = last[i];
            let dt = now.duration_since(at).as_secs_f64();
            let fps = if dt > 0.0 {
                (written - prev) as f64 / dt
            } else {
                0.0
            };
            last[i] = (written, now);
            lines.push((
                inner.labels[i].as_str(),
                written,
                fps,
                c.dropped.load(Ordering::Relaxed),
                c.bytes_written.load(Ordering::Relaxed),
            ));
        }
        let bundles = inner.bundles.load(Ordering::Relaxed);
        if inner.live.load(Ordering::Relaxed) {
            drawn = redraw(drawn, &lines, bundles, started.elapsed());
        } else {
            for (label, written, fps, dropped, bytes) in &lines {
                info!(
                    camera = label,
                    written,
                    fps = format!("{fps:.1}"),
                    dropped,
                    mib = format!("{:.1}", *bytes as f64 / (1 << 20) as f64),
                    bundles,
                    "recording"
                );
            }
        }
        if done {
            return;
        }
    }
}

/// Rewrites the previous `drawn` lines in place; returns how many it drew.
fn redraw(
    drawn: usize,
    lines: &[(&str, u64, f64, u64, u64)],
    bundles: u64,
    elapsed: Duration,
) -> usize {
    let mut out = String::new();
    if drawn > 0 {
        // Cursor up `drawn` lines, to the line start (ECMA-48 CUU, CR).
        out.push_str(&format!("\x1b[{drawn}A\r"));
    }
    for (label, written, fps, dropped, bytes) in lines {
        out.push_str(&format!(
            "\x1b[2K{label:>10}  {written:>7} frames  {fps:>5.1} fps  {dropped:>4} dropped  {:>8.1} MiB\n",
            *bytes as f64 / (1 << 20) as f64
        ));
    }
    out.push_str(&format!(
        "\x1b[2K{:>10}  {bundles:>7} bundles  {:>6.1} s\n",
        "total",
        elapsed.as_secs_f64()
    ));
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    lines.len() + 1
}
