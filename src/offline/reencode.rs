//! Decoded pictures encoded again into an MP4, by the streamer's own
//! encoder selection (`--encoder-device auto|nvenc|software`, the same
//! deterministic NVENC-or-software choice and report).

use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};

use super::OfflineError;
use super::decode::Picture;
use crate::contract::PixelFormat;
use crate::encode::{
    AccessUnit, AccessUnitSink, Codec, EncodeInput, EncoderDevice, EncoderReport, EncoderSettings,
    TestHooks, VideoEncoder, select,
};
use crate::ingest::{Form, Frame, FrameBuf, VideoGeometry, WantI420};
use crate::output::mp4::Mp4Sink;
use crate::pixels::Matrix;

/// `--quality`: bits per pixel per frame for the target bitrate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Low,
    Medium,
    High,
}

impl Quality {
    /// The bitrate for `width` x `height` at `fps`: 0.05 / 0.1 / 0.2 bits
    /// a pixel (H.265 half of it), within the encoder flags' range.
    pub fn bitrate_kbps(self, codec: Codec, width: u32, height: u32, fps: f64) -> u32 {
        let bpp = match self {
            Quality::Low => 0.05,
            Quality::Medium => 0.1,
            Quality::High => 0.2,
        } * if codec == Codec::H265 { 0.5 } else { 1.0 };
        let kbps = f64::from(width) * f64::from(height) * fps.max(1.0) * bpp / 1000.0;
        (kbps as u32).clamp(50, 200_000)
    }
}

/// What a re-encode uses.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub codec: Codec,
    pub device: EncoderDevice,
    pub preset: Option<String>,
    pub quality: Quality,
    /// Overrides `quality`.
    pub bitrate_kbps: Option<u32>,
    pub gop: u32,
}

/// An encoder whose access units go into one MP4.
pub struct Mp4Encoder {
    encoder: Box<dyn VideoEncoder>,
    report: Arc<Mutex<EncoderReport>>,
    units: Receiver<AccessUnit>,
    mp4: Mp4Sink,
    frame_rate: (u32, u32),
    written: u64,
}

impl Mp4Encoder {
    /// Opens the encoder (pictures of `width` x `height` at `fps`) and `path`.
    pub fn open(
        path: &Path,
        opts: &EncodeOptions,
        (width, height): (u32, u32),
        fps: f64,
    ) -> Result<Self, OfflineError> {
        let settings = EncoderSettings {
            codec: opts.codec,
            gop: opts.gop,
            b_frames: 0,
            bitrate_kbps: opts
                .bitrate_kbps
                .unwrap_or_else(|| opts.quality.bitrate_kbps(opts.codec, width, height, fps)),
            preset: opts.preset.clone().unwrap_or_else(|| {
                match opts.codec {
                    Codec::H264 => "superfast",
                    Codec::H265 => "ultrafast",
                }
                .to_owned()
            }),
        };
        let mp4 = Mp4Sink::open(path, opts.codec, None)?;
        let (tx, units) = channel();
        // Called on the encoder's thread: hand the unit over, never block.
        let tx = Mutex::new(tx);
        let sink: AccessUnitSink = Arc::new(move |au| {
            let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(au);
        });
        // TestHooks is a unit struct unless the test-hooks feature is on.
        #[allow(clippy::default_constructed_unit_structs)]
        let hooks = TestHooks::default();
        let (encoder, report) = select::open(
            &settings,
            opts.device,
            &hooks,
            sink,
            Arc::default(),
            crate::telemetry::Events::none(),
            Arc::new(WantI420::default()),
            Arc::default(),
        )?;
        let frame_rate = ((fps * 1000.0).round().max(1.0) as u32, 1000);
        Ok(Self {
            encoder,
            report,
            units,
            mp4,
            frame_rate,
            written: 0,
        })
    }

    /// The encoder actually used (and why).
    pub fn report(&self) -> EncoderReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Encodes one I420 picture ([`crate::pixels::I420Layout`]) captured at
    /// `capture_ns`, shown at `pts_ns` on the output's timeline.
    pub fn picture(
        &mut self,
        pic: Picture,
        capture_ns: u64,
        pts_ns: u64,
    ) -> Result<(), OfflineError> {
        let frame = Frame {
            frame_count: self.written as u32,
            capture_ts_ns: capture_ns,
            geometry: VideoGeometry {
                // What the bytes were before decoding is not known; the
                // encoder reads `form`.
                pixel_format: PixelFormat::Bgr,
                width: pic.width,
                height: pic.height,
                stride: pic.width as usize * 3,
            },
            data: FrameBuf::from(pic.data),
            form: Form::I420(Matrix::for_height(pic.height)),
            stamps: None,
            encoded: None,
            frame_rate: Some(self.frame_rate),
            aux: None,
        };
        self.encoder.encode(EncodeInput {
            frame,
            pts_ns,
            force_keyframe: self.written == 0,
            frame_rate: Some(self.frame_rate),
        })?;
        self.written += 1;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), OfflineError> {
        while let Ok(au) = self.units.try_recv() {
            self.mp4.push(&au)?;
        }
        Ok(())
    }

    /// Drains the encoder and finishes the MP4; the encoder used.
    pub fn finish(mut self) -> Result<EncoderReport, OfflineError> {
        self.encoder.finish()?;
        self.drain()?;
        self.mp4.close()?;
        Ok(self.report())
    }
}
