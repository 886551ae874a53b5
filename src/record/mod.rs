//! Recordings as MCAP files (docs/mcap-layout.md): the file layout, the
//! schemas and the timing rules, without threads. `output::record` feeds
//! it from the streamer's fan-out (`--record`); it owns the file and is the
//! only code here that does I/O.
//!
//! - Video: one `foxglove.CompressedVideo` message (protobuf) per access
//!   unit on `/<label>/video`, Annex B, parameter sets in band on every
//!   keyframe (the encoder and the passthrough gate put them there), format
//!   `h264` or `h265`. `publish_time` is the capture time, `log_time` the
//!   capture time made strictly increasing per channel (a producer may
//!   repeat a timestamp; readers sort and seek by `log_time`).
//! - Chunks are closed every [`CHUNK_SPAN_NS`] of log time or
//!   [`CHUNK_BYTES`]: the `mcap` crate writes a chunk's lengths only when it
//!   closes it, so a killed recorder loses at most the chunk in progress
//!   (`cvmmap_tools recover` rebuilds the rest). A clean stop writes the
//!   summary (chunk and message indexes, statistics), so files seek fast.

pub mod bundle;
mod mcap_file;
pub mod merge;
pub mod probe;
pub mod records;
pub mod recover;

pub use mcap_file::{
    CHUNK_BYTES, CHUNK_SPAN_NS, ChannelStats, ImageChannel, JsonChannel, McapRecording, RawChannel,
    RecordError, RecordOptions, VideoChannel,
};
