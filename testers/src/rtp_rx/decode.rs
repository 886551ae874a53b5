//! `--decode`: proves that the complete access units decode, with a real
//! decoder:
//!
//! ```text
//! appsrc (video/x-h264|h265, stream-format=byte-stream, alignment=au)
//!   ! h264parse|h265parse ! avdec_h264|avdec_h265 ! appsink
//! ```
//!
//! Each complete access unit from the first keyframe on is pushed as one
//! Annex-B buffer (4-byte start codes) with PTS = its RTP timestamp (unwrapped,
//! 90 kHz) relative to the first. The SDP's parameter sets, when there are any,
//! are put in front of the first keyframe. Decoded frames are counted on the
//! appsink; [`Decoder::finish`] sends end-of-stream and waits, bounded, for the
//! decoder to drain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::depay::{AccessUnit, Codec};

/// Longest wait for the decoder to drain at the end.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The parser and decoder elements for a codec.
pub fn elements(codec: Codec) -> (&'static str, &'static str) {
    match codec {
        Codec::H264 => ("h264parse", "avdec_h264"),
        Codec::H265 => ("h265parse", "avdec_h265"),
    }
}

/// What the decoder produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeReport {
    /// Access units pushed into the decoder.
    pub fed_units: u64,
    pub frames: u64,
    /// Raw format of the decoded frames, e.g. "I420".
    pub format: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// First error the pipeline posted, or a drain timeout.
    pub error: Option<String>,
}

#[derive(Default)]
struct Shared {
    frames: u64,
    format: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
}

/// A running decode pipeline.
pub struct Decoder {
    codec: Codec,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    shared: Arc<Mutex<Shared>>,
    sdp_parameter_sets: Vec<Vec<u8>>,
    started: bool,
    fed: u64,
    /// First RTP timestamp fed and the unwrapped last one (90 kHz ticks).
    first_ts: Option<u32>,
    unwrapped: i64,
    last_ts: u32,
    error: Option<String>,
}

impl Decoder {
    /// Builds and starts the pipeline; fails when an element is missing.
    pub fn new(codec: Codec, sdp_parameter_sets: Vec<Vec<u8>>) -> Result<Self, String> {
        gst::init().map_err(|e| format!("GStreamer init: {e}"))?;
        let (parse, dec) = elements(codec);
        for name in [parse, dec] {
            if gst::ElementFactory::find(name).is_none() {
                return Err(format!("GStreamer element {name} is not installed"));
            }
        }
        let caps_name = match codec {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
        };
        let description = format!(
            "appsrc name=src format=time is-live=false \
             caps={caps_name},stream-format=byte-stream,alignment=au \
             ! {parse} ! {dec} ! appsink name=sink sync=false"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| format!("cannot build `{description}`: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline".to_string())?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or("no appsrc")?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or("no appsink")?;
        src.set_max_bytes(0);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let on_sample = Arc::clone(&shared);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut s = on_sample.lock().unwrap_or_else(|p| p.into_inner());
                    s.frames += 1;
                    if s.format.is_none()
                        && let Some(info) = sample
                            .caps()
                            .and_then(|c| gst_video::VideoInfo::from_caps(c).ok())
                    {
                        s.format = Some(info.format().to_str().to_string());
                        s.width = Some(info.width());
                        s.height = Some(info.height());
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("cannot start `{description}`: {e}"))?;
        Ok(Self {
            codec,
            pipeline,
            src,
            shared,
            sdp_parameter_sets,
            started: false,
            fed: 0,
            first_ts: None,
            unwrapped: 0,
            last_ts: 0,
            error: None,
        })
    }

    /// Feeds one complete access unit; units before the first keyframe are skipped.
    pub fn feed(&mut self, au: &AccessUnit) {
        if self.error.is_some() {
            return;
        }
        if !self.started {
            if !au.has_keyframe(self.codec) {
                return;
            }
            self.started = true;
        }
        let mut data = Vec::new();
        if self.fed == 0 {
            data = super::depay::annex_b(self.sdp_parameter_sets.iter().map(Vec::as_slice));
        }
        data.extend_from_slice(&au.annex_b());

        let first = *self.first_ts.get_or_insert(au.timestamp);
        if self.fed == 0 {
            self.last_ts = first;
        }
        self.unwrapped += i64::from(au.timestamp.wrapping_sub(self.last_ts) as i32);
        self.last_ts = au.timestamp;
        let mut buffer = gst::Buffer::from_mut_slice(data);
        if let Some(b) = buffer.get_mut() {
            // Timestamps before the first keyframe's would be negative: clamp.
            let ns = u64::try_from(self.unwrapped.max(0)).unwrap_or(0) * 1_000_000_000 / 90_000;
            b.set_pts(gst::ClockTime::from_nseconds(ns));
        }
        if let Err(e) = self.src.push_buffer(buffer) {
            self.error = Some(self.bus_error().unwrap_or(format!("push failed: {e:?}")));
            return;
        }
        self.fed += 1;
    }

    /// The first error message on the bus, if any.
    fn bus_error(&self) -> Option<String> {
        let msg = self
            .pipeline
            .bus()?
            .pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(e) => Some(format!(
                "{}: {}",
                e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                e.error()
            )),
            _ => None,
        }
    }

    /// Ends the stream, waits for the decoder to drain (at most `timeout`),
    /// stops the pipeline and reports.
    pub fn finish(mut self, timeout: Duration) -> DecodeReport {
        if self.error.is_none() && self.fed > 0 {
            let _ = self.src.end_of_stream();
            if let Some(bus) = self.pipeline.bus() {
                let waited = bus.timed_pop_filtered(
                    gst::ClockTime::from_nseconds(timeout.as_nanos() as u64),
                    &[gst::MessageType::Eos, gst::MessageType::Error],
                );
                match waited.as_ref().map(|m| m.view()) {
                    None => {
                        self.error = Some(format!("decoder did not drain within {timeout:?}"));
                    }
                    Some(gst::MessageView::Error(e)) => {
                        self.error = Some(format!(
                            "{}: {}",
                            e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                            e.error()
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        let s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        DecodeReport {
            fed_units: self.fed,
            frames: s.frames,
            format: s.format.clone(),
            width: s.width,
            height: s.height,
            error: self.error.clone(),
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
