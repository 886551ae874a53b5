//! The run folder: `DIR/<run-id>/` with a folder per row or scenario,
//! `summary.json`, and `DIR/latest` -> `<run-id>` (replaced atomically).
//! JSON files are written to a temporary name and renamed, so a reader (or
//! an interrupted run) never sees half a file.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::HarnessError;
use crate::clock;

pub struct RunDir {
    /// The `--evidence` folder.
    pub root: PathBuf,
    /// e.g. `20261126T071500Z-acceptance-3f2a`.
    pub run_id: String,
    /// `root/run_id`.
    pub path: PathBuf,
    token: String,
}

impl RunDir {
    /// Creates a fresh run folder for `command` (acceptance, faults, bench).
    pub fn create(root: &Path, command: &str, now: SystemTime) -> Result<Self, HarnessError> {
        std::fs::create_dir_all(root).map_err(|e| HarnessError::io(root, e))?;
        let mut last = None;
        // The random part makes a clash unlikely; create_dir (not _all)
        // makes it impossible to share a folder with a concurrent run.
        for _ in 0..16 {
            let token = clock::short_random();
            let run_id = format!("{}-{command}-{token}", clock::compact(now));
            let path = root.join(&run_id);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(Self {
                        root: root.to_path_buf(),
                        run_id,
                        path,
                        token,
                    });
                }
                Err(e) => last = Some(HarnessError::io(&path, e)),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::io(root, std::io::Error::other("no run id"))))
    }

    /// The run's random token, for names that must be unique per run.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Creates `<run>/<name>/`.
    pub fn sub_dir(&self, name: &str) -> Result<PathBuf, HarnessError> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| HarnessError::io(&dir, e))?;
        Ok(dir)
    }

    /// Points `root/latest` at this run: a new relative symlink renamed over
    /// the old one, so `latest` is never missing or half-made.
    pub fn point_latest(&self) -> Result<(), HarnessError> {
        let tmp = self
            .root
            .join(format!(".latest.{}.{}", std::process::id(), self.token));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.run_id, &tmp).map_err(|e| HarnessError::io(&tmp, e))?;
        let latest = self.root.join("latest");
        std::fs::rename(&tmp, &latest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            HarnessError::io(&latest, e)
        })
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), HarnessError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| HarnessError::Json {
        what: "evidence",
        source,
    })?;
    text.push('\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| HarnessError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| HarnessError::io(path, e))
}

/// Reads a tester's or streamer's JSON report; None when absent or invalid
/// (a process killed before writing it).
pub fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// File names in `dir` (not hidden), sorted, minus `except`.
pub fn list_files(dir: &Path, except: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !except.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_runs_and_moves_latest() {
        let root = std::env::temp_dir().join(format!("harness_ev_{}", std::process::id()));
        let now = SystemTime::now();
        let a = RunDir::create(&root, "acceptance", now).unwrap();
        a.point_latest().unwrap();
        let b = RunDir::create(&root, "acceptance", now).unwrap();
        assert_ne!(a.run_id, b.run_id);
        b.point_latest().unwrap();
        let target = std::fs::read_link(root.join("latest")).unwrap();
        assert_eq!(target, PathBuf::from(&b.run_id));
        write_json(&b.path.join("x.json"), &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(read_json(&b.path.join("x.json")).unwrap()["a"], 1);
        assert_eq!(list_files(&b.path, &[]), vec!["x.json".to_string()]);
        let _ = std::fs::remove_dir_all(&root);
    }
}
