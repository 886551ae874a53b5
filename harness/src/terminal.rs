//! (binary) Progress on stderr: on a terminal one live line for the running
//! row (name, elapsed, phase), redrawn a few times a second and replaced by
//! its result; otherwise plain lines that read well in CI logs.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cvmmap_harness::model::{Outcome, RowEntry};
use cvmmap_harness::progress::Progress;

struct Current {
    row: String,
    phase: String,
    since: Instant,
}

pub struct Terminal {
    live: bool,
    current: Arc<Mutex<Option<Current>>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

/// Clears the terminal line the cursor is on.
const CLEAR: &str = "\r\x1b[2K";

fn draw(c: &Current) {
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "{CLEAR}row {}: {:>5.1} s  {}",
        c.row,
        c.since.elapsed().as_secs_f64(),
        c.phase
    );
    let _ = err.flush();
}

impl Terminal {
    pub fn new() -> Self {
        let live = std::io::stderr().is_terminal();
        let current = Arc::new(Mutex::new(None::<Current>));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = live.then(|| {
            let (current, stop) = (Arc::clone(&current), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(c) = current.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                        draw(c);
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        });
        Self {
            live,
            current,
            stop,
            ticker,
        }
    }

    fn with_current(&self, f: impl FnOnce(&mut Option<Current>)) {
        f(&mut self.current.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Progress for Terminal {
    fn started(&self, row: &str) {
        self.with_current(|c| {
            *c = Some(Current {
                row: row.to_owned(),
                phase: "starting".into(),
                since: Instant::now(),
            });
            if !self.live {
                eprintln!("row {row}: running");
            }
        });
    }

    fn phase(&self, _row: &str, phase: &str) {
        self.with_current(|c| {
            if let Some(c) = c.as_mut() {
                c.phase = phase.to_owned();
                if self.live {
                    draw(c);
                }
            }
        });
    }

    fn finished(&self, e: &RowEntry) {
        self.with_current(|c| {
            *c = None;
            let outcome = match e.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "skip",
            };
            let clear = if self.live { CLEAR } else { "" };
            let secs = e.duration_ms as f64 / 1000.0;
            // A pass says what was measured; anything else says why.
            let why = match (e.outcome, e.detail.is_empty()) {
                (Outcome::Pass, false) => &e.detail,
                _ => &e.reason,
            };
            eprintln!("{clear}row {}: {outcome} ({why}) [{secs:.1} s]", e.row);
        });
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}
