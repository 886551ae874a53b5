//! Offline tools over our recordings (`cvmmap_tools`): MCAP read back
//! ([`read`]), decoded ([`decode`], GStreamer), re-encoded with the
//! streamer's own encoder selection ([`reencode`]), exported to MP4
//! ([`export`]), composited into a grid ([`grid`]), summarised and
//! previewed ([`inspect`], [`preview`]).

pub mod decode;
pub mod export;
pub mod grid;
pub mod inspect;
pub mod preview;
pub mod read;
pub mod reencode;
pub mod timefmt;

use std::path::PathBuf;

use crate::encode::EncodeError;
use crate::output::OutputError;

/// What an offline tool can fail on; [`OfflineError::exit_code`] is the
/// one mapping to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: {reason} (try `cvmmap_tools recover`)")]
    Damaged { path: PathBuf, reason: String },
    #[error("{path} has no camera {label:?} (it has: {have})")]
    NoCamera {
        path: PathBuf,
        label: String,
        have: String,
    },
    #[error("{path}: a message on {topic} does not decode: {reason}")]
    BadMessage {
        path: PathBuf,
        topic: String,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Nothing { path: PathBuf, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("decoding {what}: {reason}")]
    Decode { what: String, reason: String },
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

impl OfflineError {
    /// 2: usage (a flag or a camera that does not fit the input); 5: NVENC
    /// asked for and unavailable (the streamer's code); 1: everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            OfflineError::Usage(_) | OfflineError::NoCamera { .. } => 2,
            OfflineError::Encode(EncodeError::NvencUnavailable { .. }) => 5,
            _ => 1,
        }
    }
}
