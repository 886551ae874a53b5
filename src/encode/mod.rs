//! The encoder: raw frames in, Annex-B access units out.
//!
//! This module is the only place GStreamer lives ([`gst`]). Everything else
//! sees the narrow [`VideoEncoder`] interface and [`AccessUnit`]s.

pub(crate) mod elements;
pub(crate) mod fallback;
pub mod gst;
pub mod inventory;
pub(crate) mod select;
mod stand_in;

pub use elements::Backend;
#[cfg(any(test, feature = "test-hooks"))]
pub use stand_in::HardwareStandIn;
pub use stand_in::TestHooks;

use std::fmt;
use std::sync::Arc;

use crate::ingest::Frame;

/// Output codec (`--codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        })
    }
}

/// `--encoder-device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderDevice {
    /// NVENC when it works, software otherwise (deterministic fallback).
    Auto,
    /// NVENC or nothing (exit 5 where it cannot run).
    Nvenc,
    /// x264/x265 only.
    Software,
}

/// Which encoder runs and why: logged, and written into the run summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EncoderReport {
    pub requested: EncoderDevice,
    pub backend: Backend,
    /// The element actually encoding (e.g. `x264enc`).
    pub element: String,
    pub reason: String,
    /// Input frame index at which NVENC was replaced by software, if it was.
    pub fallback_at_frame: Option<u64>,
}

/// Encoder knobs (`--gop`, `--b-frames`, `--bitrate-kbps`, `--preset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderSettings {
    pub codec: Codec,
    pub gop: u32,
    pub b_frames: u32,
    pub bitrate_kbps: u32,
    pub preset: String,
}

/// One encoded access unit, Annex-B framed (start codes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    pub codec: Codec,
    /// Annex-B bytes. From a GStreamer encoder, the encoder's own output
    /// buffer, mapped (no copy); every sink shares it.
    pub data: bytes::Bytes,
    /// Presentation time on the output timeline (ns since the first frame).
    pub pts_ns: u64,
    /// Decode time on the output timeline; equals `pts_ns` without B-frames
    /// and may be negative for the first units with B-frames.
    pub dts_ns: i64,
    pub keyframe: bool,
    /// The producer's capture timestamp of the frame this unit encodes.
    pub capture_ts_ns: u64,
    /// Picture size (for stream metadata such as RTMP's onMetaData).
    pub width: u32,
    pub height: u32,
    /// The frame rate the stream was encoded for (num, den), if known
    /// (RTMP onMetaData's `framerate`).
    pub frame_rate: Option<(u32, u32)>,
}

/// Where encoded access units go. Called on the encoder's streaming thread:
/// implementations must not block.
pub type AccessUnitSink = Arc<dyn Fn(AccessUnit) + Send + Sync>;

/// A frame to encode, already placed on the output timeline.
#[derive(Debug)]
pub struct EncodeInput {
    pub frame: Frame,
    pub pts_ns: u64,
    /// Ask for a keyframe (with parameter sets) at this frame.
    pub force_keyframe: bool,
    /// The source's frame rate (num, den): the producer's nominal rate or
    /// the measured cadence; `None` until known (30/1 is assumed). The
    /// encoder's rate control budgets bits per frame from it.
    pub frame_rate: Option<(u32, u32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("GStreamer element {element:?} is not installed ({hint})")]
    MissingElement {
        element: &'static str,
        hint: &'static str,
    },
    #[error("GStreamer initialisation failed: {0}")]
    Init(String),
    #[error("cannot build the {codec} encoder pipeline: {message}")]
    Build { codec: Codec, message: String },
    #[error("{pixel_format:?} frames are not supported by the encoder")]
    UnsupportedFormat {
        pixel_format: crate::contract::PixelFormat,
    },
    #[error("encoder pipeline failed: {message}")]
    Runtime { message: String },
    #[error("{reason}")]
    NvencUnavailable { reason: String },
    #[error("encoder did not drain within {ms} ms")]
    DrainTimeout { ms: u64 },
}

/// The narrow encoder interface.
pub trait VideoEncoder: Send {
    /// Queues one frame. Frames of a new geometry reconfigure the encoder;
    /// the first unit after that is a keyframe with fresh parameter sets.
    fn encode(&mut self, input: EncodeInput) -> Result<(), EncodeError>;
    /// Drains everything queued and stops.
    fn finish(&mut self) -> Result<(), EncodeError>;
    /// The element actually encoding (e.g. `x264enc`), for logs and evidence.
    fn element_name(&self) -> &'static str;
}
