//! A raw video frame, copied once out of shared memory.

use std::sync::atomic::{AtomicBool, Ordering};

use super::pool::FrameBuf;
use crate::contract::{EncodedCodec, PixelFormat};
use crate::pixels::Matrix;

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
    /// The video plane, in a buffer that returns to the ingest pool when
    /// dropped; empty when the frame carries `encoded` instead.
    pub data: FrameBuf,
    /// Whether `data` is the producer's bytes (`geometry` describes them)
    /// or already I420 in [`crate::pixels::I420Layout`] (`geometry` still
    /// says what the producer sent).
    pub form: Form,
    /// `--verify-stamps` on a frame converted on its way out: the first 4
    /// bytes of its first and last rows as the conversion read them (a raw
    /// frame has them in `data`).
    pub stamps: Option<(u32, u32)>,
    /// The producer's own encoded access unit (v2.1 slot 3), taken instead
    /// of the raw plane in `--passthrough` mode.
    pub encoded: Option<EncodedPayload>,
    /// The producer's nominal frame rate (num, den), when its metadata
    /// says (v2.1 extension); otherwise the encoder measures the cadence.
    pub frame_rate: Option<(u32, u32)>,
    /// The DEPTH and CONFIDENCE planes, copied with the frame (same
    /// coherence check) when a recorder asks (`IngestConfig::aux_planes`).
    pub aux: Option<Box<AuxPlanes>>,
}

/// The producer's DEPTH and CONFIDENCE planes (contract §2, v2 slots 1 and
/// 2, GRAY/F32); the recorder writes them beside the video.
#[derive(Debug, Clone, PartialEq)]
pub struct AuxPlanes {
    pub depth: Option<AuxPlane>,
    pub confidence: Option<AuxPlane>,
    /// v2 `depth_unit` (0x2C): 0 unknown, 1 millimetre, 2 metre.
    pub depth_unit: u8,
}

/// One F32 plane as the producer laid it out (`stride` bytes a row).
#[derive(Debug, Clone, PartialEq)]
pub struct AuxPlane {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: Vec<u8>,
}

/// Whether the encoder running now takes I420: set by the software encoder
/// when it starts, read by the ingest before each copy, so the one copy out
/// of shared memory can also be the colour conversion. False until an
/// encoder says otherwise (NVENC takes the producer's format).
#[derive(Debug, Default)]
pub struct WantI420(AtomicBool);

impl WantI420 {
    pub fn set(&self, want: bool) {
        self.0.store(want, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The form of a frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Raw,
    /// Converted on the way out of shared memory, with this matrix.
    I420(Matrix),
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
