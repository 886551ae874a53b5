//! A raw video frame, copied once out of shared memory.

use super::pool::FrameBuf;
use crate::contract::{EncodedCodec, PixelFormat};

/// Geometry of the video plane as the producer described it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoGeometry {
    pub pixel_format: PixelFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes per row in `Frame::data` (may include padding).
    pub stride: usize,
}

impl VideoGeometry {
    /// Bytes of one row without padding.
    pub fn row_bytes(&self) -> usize {
        self.width as usize * self.pixel_format.channels() as usize
    }

    /// Bytes of the whole plane as stored in a frame: `stride * height`.
    pub fn plane_bytes(&self) -> usize {
        self.stride * self.height as usize
    }
}

/// One frame taken from the producer. `data` holds `geometry.height` rows of
/// `geometry.stride` bytes: the single copy the hot path makes.
#[derive(Debug)]
pub struct Frame {
    /// The producer's frame counter (metadata offset 0x0C).
    pub frame_count: u32,
    /// The producer's capture timestamp in ns (metadata offset 0x10).
    pub capture_ts_ns: u64,
    pub geometry: VideoGeometry,
    /// The raw video plane, in a buffer that returns to the ingest pool when
    /// dropped; empty when the frame carries `encoded` instead.
    pub data: FrameBuf,
    /// The producer's own encoded access unit (v2.1 slot 3), taken instead
    /// of the raw plane in `--passthrough` mode.
    pub encoded: Option<EncodedPayload>,
    /// The producer's nominal frame rate (num, den), when its metadata
    /// says (v2.1 extension); otherwise the encoder measures the cadence.
    pub frame_rate: Option<(u32, u32)>,
}

/// One Annex-B access unit supplied by the producer (contract §2, v2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPayload {
    pub codec: EncodedCodec,
    pub keyframe: bool,
    /// The unit's presentation time in the producer's stream (v2.1
    /// `stream_pts_ns`); units come in decode order, so with B-frames it
    /// is not monotonic.
    pub stream_pts_ns: u64,
    pub data: Vec<u8>,
}
