//! Batch progress on stderr: on a terminal a live table (one line per
//! running job, then totals and ETA, redrawn in place; finished jobs scroll
//! above it), elsewhere line logs (a line per start and end, and a
//! heartbeat every `heartbeat`). The same view for local pools and for a
//! queue followed with `--wait`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::job::{Outcome, Slot};

/// `--progress-ui`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ui {
    /// table on a terminal, text elsewhere
    Auto,
    Table,
    Text,
}

struct Running {
    desc: String,
    slot: Slot,
    worker: String,
    delivery: u64,
    since: Instant,
}

pub struct Progress {
    table: bool,
    verb: &'static str,
    total: usize,
    ok: usize,
    failed: usize,
    running: BTreeMap<String, Running>,
    durations: Vec<f64>,
    slots: usize,
    start: Instant,
    heartbeat: Duration,
    last_beat: Instant,
    drawn: usize,
    out: Box<dyn Write + Send>,
}

fn slot_name(s: &Slot) -> String {
    match s {
        Slot::Any => "any".into(),
        Slot::Hardware { device } => format!("hw{device}"),
        Slot::Software => "sw".into(),
    }
}

fn clock(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl Progress {
    /// `slots`: how many jobs run at once (for the ETA).
    pub fn new(
        ui: Ui,
        verb: &'static str,
        total: usize,
        slots: usize,
        heartbeat: Duration,
    ) -> Self {
        use std::io::IsTerminal;
        let table = match ui {
            Ui::Auto => std::io::stderr().is_terminal(),
            Ui::Table => true,
            Ui::Text => false,
        };
        Self {
            table,
            verb,
            total,
            ok: 0,
            failed: 0,
            running: BTreeMap::new(),
            durations: Vec::new(),
            slots: slots.max(1),
            start: Instant::now(),
            heartbeat,
            last_beat: Instant::now(),
            drawn: 0,
            out: Box::new(std::io::stderr()),
        }
    }

    fn eta(&self) -> String {
        let left = self.total.saturating_sub(self.ok + self.failed);
        if self.durations.is_empty() {
            return "ETA ?".into();
        }
        let mean = self.durations.iter().sum::<f64>() / self.durations.len() as f64;
        let running_left: f64 = self
            .running
            .values()
            .map(|r| (mean - r.since.elapsed().as_secs_f64()).max(0.0))
            .sum();
        let queued = left.saturating_sub(self.running.len()) as f64 * mean;
        format!("ETA {}", clock((running_left + queued) / self.slots as f64))
    }

    fn totals(&self) -> String {
        format!(
            "{}: {}/{} done, {} failed, {} running, {} elapsed, {}",
            self.verb,
            self.ok + self.failed,
            self.total,
            self.failed,
            self.running.len(),
            clock(self.start.elapsed().as_secs_f64()),
            self.eta()
        )
    }

    /// Erases the table drawn last.
    fn erase(&mut self) {
        if self.table && self.drawn > 0 {
            let _ = write!(self.out, "\x1b[{}F\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self) {
        if !self.table {
            return;
        }
        self.erase();
        let mut lines = vec![self.totals()];
        for r in self.running.values() {
            lines.push(format!(
                "  [{:>3}] {:>6.1} s  {}{}",
                slot_name(&r.slot),
                r.since.elapsed().as_secs_f64(),
                r.desc,
                if r.delivery > 1 {
                    format!("  (delivery {}, {})", r.delivery, r.worker)
                } else {
                    String::new()
                }
            ));
        }
        for l in &lines {
            let _ = writeln!(self.out, "{l}");
        }
        self.drawn = lines.len();
        let _ = self.out.flush();
    }

    /// Prints a permanent line (above the table).
    fn line(&mut self, text: &str) {
        self.erase();
        let _ = writeln!(self.out, "{text}");
        self.draw();
    }

    pub fn started(&mut self, id: &str, desc: &str, slot: Slot, worker: &str, delivery: u64) {
        self.running.insert(
            id.to_owned(),
            Running {
                desc: desc.to_owned(),
                slot,
                worker: worker.to_owned(),
                delivery,
                since: Instant::now(),
            },
        );
        if self.table {
            self.draw();
        } else {
            self.line(&format!("start [{}] {desc}", slot_name(&slot)));
        }
    }

    pub fn done(&mut self, o: &Outcome) {
        self.running.remove(&o.id);
        self.durations.push(o.seconds);
        let what = format!("{} {}", o.verb.name(), o.input.display());
        let text = if o.ok {
            self.ok += 1;
            format!(
                "ok     {:>6.1} s  {what}{}",
                o.seconds,
                o.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )
        } else {
            self.failed += 1;
            format!(
                "FAILED {:>6.1} s  {what}: {}",
                o.seconds,
                o.error.as_deref().unwrap_or("failed")
            )
        };
        self.line(&text);
    }

    /// Redraws the table, or prints a heartbeat when one is due.
    pub fn tick(&mut self) {
        if self.table {
            self.draw();
        } else if self.last_beat.elapsed() >= self.heartbeat {
            self.last_beat = Instant::now();
            let t = self.totals();
            self.line(&t);
        }
    }

    /// The last totals line, the table left on screen.
    pub fn finish(&mut self) {
        self.erase();
        let t = self.totals();
        let _ = writeln!(self.out, "{t}");
        let _ = self.out.flush();
    }
}
