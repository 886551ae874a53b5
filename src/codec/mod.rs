//! Pure bitstream helpers for the encoded video the streamer publishes.
//!
//! Nothing here allocates, touches I/O or depends on GStreamer: the encoder
//! hands over Annex-B access units and these modules only look at bytes.
//!
//! - [`annexb`]: split an Annex-B byte stream (ITU-T H.264 / H.265 Annex B)
//!   into NAL units, borrowing from the input.
//! - [`h264`]: H.264 NAL unit types, parameter-set lookup, `profile-level-id`.
//! - [`h265`]: H.265 NAL unit types (2-byte header) and parameter-set lookup.

pub mod annexb;
pub mod h264;
pub mod h265;

pub use annexb::{NalUnits, nal_units};
