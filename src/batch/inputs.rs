//! Which recordings a batch runs over, with the seed's conventions: paths
//! (files, or folders scanned for `--pattern`, `--recursive` into
//! subfolders), repeated `--segment DIR`, or `--segments-csv FILE` (a
//! `segment_dir` column; other columns ignored; relative paths against the
//! CSV's folder or `--csv-root`; a segment listed twice runs once, in
//! first-seen order).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Names our own verbs write, never taken as inputs.
const OUTPUT_SUFFIXES: [&str; 1] = ["_recovered.mcap"];

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Csv { path: PathBuf, reason: String },
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("no input: give paths, --segment or --segments-csv")]
    None,
}

/// Where the inputs come from.
#[derive(Debug, Clone, Default)]
pub struct InputSpec {
    pub paths: Vec<PathBuf>,
    pub recursive: bool,
    pub pattern: String,
    pub segments: Vec<PathBuf>,
    pub segments_csv: Option<PathBuf>,
    pub csv_root: Option<PathBuf>,
}

/// `*` any run, `?` one character; the whole name must match.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    go(&p, &n)
}

/// The `segment_dir` column of a CSV (RFC 4180 quoting), resolved.
pub fn read_segments_csv(path: &Path, root: Option<&Path>) -> Result<Vec<PathBuf>, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut rows = text.lines().filter(|l| !l.trim().is_empty()).map(split_csv);
    let header = rows.next().ok_or_else(|| InputError::Csv {
        path: path.to_owned(),
        reason: "empty".into(),
    })?;
    let col = header
        .iter()
        .position(|h| h.trim() == "segment_dir")
        .ok_or_else(|| InputError::Csv {
            path: path.to_owned(),
            reason: format!("no segment_dir column (columns: {})", header.join(", ")),
        })?;
    let base = root
        .map(Path::to_owned)
        .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_owned());
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        let cell = row.get(col).map(|c| c.trim()).unwrap_or("");
        if cell.is_empty() {
            return Err(InputError::Csv {
                path: path.to_owned(),
                reason: format!("row {} has no segment_dir", i + 2),
            });
        }
        let p = Path::new(cell);
        out.push(if p.is_absolute() {
            p.to_owned()
        } else {
            base.join(p)
        });
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().expect("one").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            _ => out.last_mut().expect("one").push(c),
        }
    }
    out
}

fn scan(
    dir: &Path,
    recursive: bool,
    pattern: &str,
    out: &mut Vec<PathBuf>,
) -> Result<(), InputError> {
    let read = |p: &Path| {
        std::fs::read_dir(p).map_err(|source| InputError::Read {
            path: p.to_owned(),
            source,
        })
    };
    let mut entries: Vec<PathBuf> = read(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                scan(&p, true, pattern, out)?;
            }
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str())
            && glob_match(pattern, name)
            && !OUTPUT_SUFFIXES.iter().any(|s| name.ends_with(s))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The input files, deduplicated in first-seen order.
pub fn collect(spec: &InputSpec) -> Result<Vec<PathBuf>, InputError> {
    let mut segments = spec.segments.clone();
    if let Some(csv) = &spec.segments_csv {
        segments.extend(read_segments_csv(csv, spec.csv_root.as_deref())?);
    }
    if spec.paths.is_empty() && segments.is_empty() {
        return Err(InputError::None);
    }
    let mut found = Vec::new();
    for p in &spec.paths {
        if p.is_dir() {
            scan(p, spec.recursive, &spec.pattern, &mut found)?;
        } else if p.exists() {
            found.push(p.clone());
        } else {
            return Err(InputError::Missing(p.clone()));
        }
    }
    for s in &segments {
        if !s.is_dir() {
            return Err(InputError::Missing(s.clone()));
        }
        scan(s, spec.recursive, &spec.pattern, &mut found)?;
    }
    let mut seen = HashSet::new();
    found.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("*.mcap", "rig.mcap"));
        assert!(!glob_match("*.mcap", "rig.mcap.bak"));
        assert!(glob_match("rig_??.mcap", "rig_01.mcap"));
        assert!(!glob_match("rig_??.mcap", "rig_1.mcap"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn csv_rows_resolve_against_the_csv_folder_and_keep_their_order() {
        let dir = std::env::temp_dir().join(format!("inputs_csv_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("s.csv");
        std::fs::write(
            &csv,
            "note,segment_dir\n\"a, b\",seg2\nx,/abs/seg1\ny,seg2\n",
        )
        .unwrap();
        let got = read_segments_csv(&csv, None).unwrap();
        assert_eq!(
            got,
            vec![
                dir.join("seg2"),
                PathBuf::from("/abs/seg1"),
                dir.join("seg2")
            ]
        );
        let rooted = read_segments_csv(&csv, Some(Path::new("/r"))).unwrap();
        assert_eq!(rooted[0], PathBuf::from("/r/seg2"));
        std::fs::write(&csv, "dir\nseg\n").unwrap();
        assert!(
            read_segments_csv(&csv, None)
                .unwrap_err()
                .to_string()
                .contains("segment_dir")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
