//! The cv-mmap wire contract, as pure code: no I/O, no sockets, no clocks, no
//! `unsafe`. The normative description is `shared/contract/cv-mmap-ipc.md`; this
//! module implements its sections 1 to 3 and the body-tracking bytes of
//! section 4 (section 6, the reference producer's
//! BGR8 frames, is what the hand-built test segments model).
//!
//! - [`target`] (section 1): `cvmmap://<instance>[@<prefix>][?namespace=<ns>]` and
//!   the names derived from it (shm name, ZeroMQ endpoint, NATS key).
//! - [`metadata`] / [`layout`] (section 2): the 256-byte metadata block at the start
//!   of the shared-memory segment, v1 and v2.0/v2.1, validated fail-closed into a
//!   [`FrameLayout`] whose planes are guaranteed to lie inside the mapped segment.
//! - [`sync`] (section 3): the 48-byte ZeroMQ frame-sync message.
//! - [`body`] (section 4): the body-tracking v1 header carried on NATS.
//! - [`pixel`]: pixel format and channel depth enums shared by both versions.
//!
//! Everything on the wire is little-endian and packed.
//!
//! A consumer's loop, in terms of this module: receive a ZeroMQ message and
//! [`SyncMessage::parse`] it (skip [`SyncError::OtherMagic`] and labels that do not
//! [`SyncMessage::label_matches`] the instance); [`parse_metadata`] the first
//! [`METADATA_SIZE`] bytes of the mapping (on
//! [`MetadataError::PayloadExceedsSegment`], re-stat and remap); copy the planes;
//! then compare [`read_counter_and_timestamp`] before and after the copy and drop
//! the frame as torn when they differ.

pub mod body;
pub mod layout;
pub mod metadata;
pub mod pixel;
pub mod sync;
pub mod target;

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod test_support;

pub use layout::{
    BITSTREAM_FORMAT_ANNEX_B, ENCODED_FLAG_KEYFRAME, EncodedAccessUnit, EncodedCodec, FrameLayout,
    MetadataError, Plane,
};
pub use metadata::{parse_metadata, read_counter_and_timestamp};
pub use pixel::{Depth, PixelFormat, UnknownDepth, UnknownPixelFormat};
pub use sync::{SyncError, SyncMessage};
pub use target::{Target, TargetError};

/// The 8 magic bytes at offset 0 of the segment (section 2).
pub const MAGIC: [u8; 8] = *b"CV-MMAP\0";
/// Size of the metadata block at the start of the segment (section 2).
pub const METADATA_SIZE: usize = 256;
/// Offset of the payload in the segment; plane offsets are relative to it
/// (section 2).
pub const PAYLOAD_OFFSET: usize = 256;
/// Size of one ZeroMQ frame-sync message (section 3).
pub const SYNC_MESSAGE_SIZE: usize = 48;
/// Size of the NUL-padded label in a sync message (section 3).
pub const LABEL_SIZE: usize = 24;
