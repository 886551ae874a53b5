//! Ingest: from a cv-mmap producer (or an in-process dummy source) to the
//! latest-frame queue.
//!
//! - [`shm`]: the read-only mapping, remapped when the producer resizes or
//!   re-creates the segment.
//! - [`snapshot`]: the coherent, bounds-checked copy of one frame.
//! - [`bands`]: that copy's conversion, shared with helper threads.
//! - [`sync`]: the ZeroMQ sync listener (a hint, not the truth).
//! - [`runtime`]: the loop that ties them together.
//! - the latest-frame queue is [`crate::queue::LatestQueue`].
//! - [`dummy`]: the in-process test-pattern source (`--input-mode dummy`).

pub mod bands;
pub mod dummy;
mod frame;
mod guard;
pub mod pool;
mod runtime;
pub(crate) mod shm;
pub(crate) mod snapshot;
pub(crate) mod sync;
#[cfg(test)]
mod test_segment;

use std::path::PathBuf;

pub use crate::queue::{LatestQueue, Pop};

/// The copy out of shared memory, for the `ingest_copy` benchmark only: not
/// part of the API. (Always compiled: a feature gate is not seen by benches
/// in the dev profile's `--all-targets` build.)
#[doc(hidden)]
pub mod bench_hooks {
    pub use super::bands::Bands;
    pub use super::shm::Segment;
    pub use super::snapshot::{Snapshot, Want, take_announced};
}
pub use frame::{AuxPlane, AuxPlanes, EncodedPayload, Form, Frame, VideoGeometry, WantI420};
pub use pool::{FrameBuf, FramePool};
pub use runtime::{IngestConfig, IngestEnd, run_ingest};

/// Ingest failures. Most producer trouble is not an error (the loop waits
/// and retries); these are the cases that stop ingest.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid shared-memory name {name:?}: expected NAME or /NAME without other slashes")]
    BadShmName { name: String },
    #[error("shared-memory segment {path} does not exist")]
    SegmentMissing { path: PathBuf },
    #[error("shared-memory segment {path} is {size} bytes, smaller than the 256-byte metadata")]
    SegmentTooSmall { path: PathBuf, size: usize },
    #[error("cannot map shared-memory segment {path}: {source}")]
    SegmentIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ZeroMQ error on {endpoint}: {source}")]
    Zmq {
        endpoint: String,
        source: zmq::Error,
    },
}
