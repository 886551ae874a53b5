//! The streamer's structured events (`cvmmap_streamer --events PATH`):
//! JSON Lines, one object a line, flushed per event,
//! `{"ts_unix_ns": <wall clock ns>, "event": "<name>", ...fields}`. The
//! harness waits for readiness and times what the streamer did by these,
//! never by its human log text, whose wording is free to change.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::supervisor::{Proc, Wait};

/// The ingest listens: a producer may start (the readiness signal).
pub const INGEST_STARTED: &str = "ingest_started";
/// The first frame was copied from shared memory.
pub const FIRST_FRAME: &str = "first_frame";
/// The producer's frame counter went backwards (a restarted producer).
pub const PRODUCER_RESET: &str = "producer_reset";
/// An accepted frame's first and last row stamps differ (`--verify-stamps`).
pub const STAMP_MISMATCH: &str = "stamp_mismatch";
/// A sink's queue was full and units are being dropped.
pub const SINK_STALL_BEGAN: &str = "sink_stall_began";
/// A keyframe of another picture size went out (and the first one).
pub const STREAM_SIZE: &str = "stream_size";
/// The streamer forced a keyframe.
pub const KEYFRAME_FORCED: &str = "keyframe_forced";

/// How often [`wait_for_event`] reads the file, as log waits did.
const POLL: Duration = Duration::from_millis(20);

/// The events file of the process named `name` in `dir`:
/// `<name>.events.jsonl`, next to its logs.
pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.events.jsonl"))
}

/// One event as the streamer wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Wall clock (Unix ns) when the streamer emitted it.
    pub ts_unix_ns: u64,
    pub event: String,
    /// The event's own fields (`frame`, `sink`, `reason`, ...).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Event {
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key)?.as_u64()
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key)?.as_str()
    }

    /// The event as one compact JSON line, for the evidence.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Every event of one file, in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Events {
    list: Vec<Event>,
    /// Complete lines that were not events (a bug in the writer, counted
    /// rather than hidden).
    pub malformed: usize,
}

impl Events {
    /// Reads `path`; an absent file (the process never got that far) has
    /// no events.
    pub fn read(path: &Path) -> Self {
        Self::parse(&std::fs::read_to_string(path).unwrap_or_default())
    }

    /// Parses JSON Lines. A last line without its newline may be an event
    /// being written right now: it counts only once it parses.
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(line) {
                Ok(e) => out.list.push(e),
                Err(_) if !complete && i == lines.len() - 1 => {}
                Err(_) => out.malformed += 1,
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first event called `name`.
    pub fn first(&self, name: &str) -> Option<&Event> {
        self.list.iter().find(|e| e.event == name)
    }

    /// Every event called `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.list.iter().filter(move |e| e.event == name)
    }

    /// When each `name` event happened (Unix ns), in order.
    pub fn times(&self, name: &str) -> Vec<u64> {
        self.all(name).map(|e| e.ts_unix_ns).collect()
    }

    /// The first `name` event at or after `t_ns`.
    pub fn first_after(&self, name: &str, t_ns: u64) -> Option<&Event> {
        self.list
            .iter()
            .find(|e| e.event == name && e.ts_unix_ns >= t_ns)
    }
}

/// Waits until `path` holds a `name` event, reading it every 20 ms; ends
/// early, with why, when `p` exits first, at `timeout`, or on SIGINT/SIGTERM.
pub fn wait_for_event(
    p: &mut Proc,
    path: &Path,
    name: &str,
    timeout: Duration,
) -> Result<Event, Wait> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(e) = Events::read(path).first(name) {
            return Ok(e.clone());
        }
        if let Some(exit) = p.poll() {
            // It may have written the event just before it exited.
            let last = Events::read(path).first(name).cloned();
            return last.ok_or(Wait::Exited(exit));
        }
        if crate::interrupt::requested() {
            return Err(Wait::Interrupted);
        }
        if Instant::now() >= deadline {
            return Err(Wait::TimedOut);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::Exit;

    const TEXT: &str = concat!(
        r#"{"ts_unix_ns": 10, "event": "ingest_started", "shm": "s", "endpoint": "ipc:///x"}"#,
        "\n\n",
        "not json\n",
        r#"{"ts_unix_ns": 20, "event": "producer_reset", "from": 99, "to": 0}"#,
        "\n",
        r#"{"ts_unix_ns": 30, "event": "producer_reset", "from": 5, "to": 0}"#,
        "\n",
        r#"{"ts_unix_ns": 40, "event": "sink_st"#,
    );

    #[test]
    fn reads_events_and_tolerates_a_partial_last_line() {
        let ev = Events::parse(TEXT);
        assert_eq!(ev.malformed, 1);
        let first = ev.first(INGEST_STARTED).unwrap();
        assert_eq!((first.ts_unix_ns, first.str("shm")), (10, Some("s")));
        assert_eq!(ev.times(PRODUCER_RESET), [20, 30]);
        assert_eq!(
            ev.first_after(PRODUCER_RESET, 21).unwrap().u64("from"),
            Some(5)
        );
        assert!(ev.first(SINK_STALL_BEGAN).is_none());
        assert_eq!(ev.all(PRODUCER_RESET).count(), 2);
        let line = ev.first(PRODUCER_RESET).unwrap().line();
        assert_eq!(
            Events::parse(&line).first(PRODUCER_RESET),
            ev.first(PRODUCER_RESET)
        );
        assert!(Events::read(Path::new("/nonexistent/x.events.jsonl")).is_empty());
    }

    #[test]
    fn waits_for_an_event_or_the_exit() {
        let dir = std::env::temp_dir().join(format!("harness_events_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = file(&dir, "w");
        let sh = Path::new("/bin/sh");
        let script = format!(
            r#"sleep 0.2; echo '{{"ts_unix_ns": 1, "event": "ingest_started"}}' >> {}; sleep 30"#,
            path.display()
        );
        let mut p = Proc::spawn(&dir, "w", sh, vec!["-c".into(), script]).unwrap();
        let got = wait_for_event(&mut p, &path, INGEST_STARTED, Duration::from_secs(20));
        assert_eq!(got.map(|e| e.ts_unix_ns), Ok(1));
        p.stop("test");
        let gone = file(&dir, "gone");
        let mut q = Proc::spawn(&dir, "gone", sh, vec!["-c".into(), "exit 2".into()]).unwrap();
        let got = wait_for_event(&mut q, &gone, INGEST_STARTED, Duration::from_secs(20));
        assert_eq!(got, Err(Wait::Exited(Exit::Code(2))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
