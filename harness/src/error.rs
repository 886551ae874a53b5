//! Errors that stop the harness itself (as opposed to a row failing, which is
//! a result, not an error).

use std::path::PathBuf;

/// Exit code for usage errors and a harness that cannot run at all.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "{name} not found in {dir} (build it with `cargo build --workspace --bins`, or pass --bin-dir)"
    )]
    MissingBinary { name: &'static str, dir: PathBuf },

    #[error("cannot locate the harness executable: {source}")]
    CurrentExe { source: std::io::Error },

    #[error("unknown row {name:?} (known: {known})")]
    UnknownRow { name: String, known: String },

    #[error("--break-row {spec:?}: {why}")]
    BadBreak { spec: String, why: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot start {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot serialise {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },

    #[error("container runtime: {reason}")]
    Container { reason: String },
}

impl HarnessError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
