//! Named events as JSON Lines (`--events PATH`), for tools that must time
//! or judge what happened (the harness) without reading human log text:
//!
//! ```text
//! {"ts_unix_ns":1733370000123456789,"event":"ingest_started","shm":"/cam","endpoint":"ipc:///tmp/cam.ipc"}
//! ```
//!
//! Each event is one `write` of a whole line to a file opened with
//! `O_APPEND`, so readers never see two events interleaved (only, at most, a
//! last line still being written). Events are rare (starts, resets, stalls,
//! reconnects), never per frame, so the lock and the write cost nothing on
//! the hot path. The names are listed in docs/events.md: renaming one is an
//! interface change.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Where events go; a no-op without `--events`. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Events(Option<Arc<Mutex<File>>>);

impl Events {
    /// Appends to `path` (created if missing).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self(Some(Arc::new(Mutex::new(file)))))
    }

    /// Events go nowhere.
    pub fn none() -> Self {
        Self(None)
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Records `name` with `fields` (a JSON object; anything else is
    /// recorded under `"value"`). Write errors are ignored: events are
    /// evidence, never a reason to stop streaming.
    pub fn emit(&self, name: &'static str, fields: Value) {
        let Some(file) = &self.0 else { return };
        let mut line = line(name, fields, unix_ns());
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = file.write_all(line.as_bytes());
    }
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One event as a JSON object: `ts_unix_ns` and `event` first, then fields.
fn line(name: &str, fields: Value, ts_unix_ns: u64) -> String {
    let mut obj = Map::new();
    obj.insert("ts_unix_ns".into(), ts_unix_ns.into());
    obj.insert("event".into(), name.into());
    match fields {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "ts_unix_ns" && k != "event" {
                    obj.insert(k, v);
                }
            }
        }
        Value::Null => {}
        other => {
            obj.insert("value".into(), other);
        }
    }
    Value::Object(obj).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_has_time_name_and_fields_and_cannot_be_spoofed() {
        let l = line("x", json!({"a": 1, "event": "y", "ts_unix_ns": 0}), 42);
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v, json!({"ts_unix_ns": 42, "event": "x", "a": 1}));
        let l = line("n", json!(3), 1);
        assert_eq!(
            serde_json::from_str::<Value>(&l).unwrap(),
            json!({"ts_unix_ns": 1, "event": "n", "value": 3})
        );
    }

    #[test]
    fn events_append_whole_lines() {
        let dir = std::env::temp_dir().join(format!("cvmmap-events-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let ev = Events::open(&dir).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let ev = ev.clone();
                std::thread::spawn(move || {
                    for j in 0..50 {
                        ev.emit("tick", json!({"thread": i, "n": j}));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(&dir).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 200);
        assert!(lines.iter().all(|v| v["event"] == "tick"));
        Events::none().emit("ignored", Value::Null);
        let _ = std::fs::remove_file(&dir);
    }
}
