//! GStreamer encoder: `appsrc ! videoconvert ! I420 ! x264enc|x265enc ! appsink`.
//!
//! The frame buffer moves into GStreamer without a copy; padded strides are
//! described with a `VideoMeta`. Everything becomes I420 before the encoder
//! (a bare videoconvert fed BGR lets x264 pick 4:4:4, which players reject).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use tracing::{debug, info};

use super::{
    AccessUnit, AccessUnitSink, Codec, EncodeError, EncodeInput, EncoderSettings, VideoEncoder,
};
use crate::contract::PixelFormat;
use crate::ingest::VideoGeometry;
use crate::pipeline::Stats;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

fn init() -> Result<(), EncodeError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = gst::init().map_err(|e| EncodeError::Init(e.to_string())));
    result
}

fn software_element(codec: Codec) -> (&'static str, &'static str) {
    match codec {
        Codec::H264 => ("x264enc", "install gstreamer1.0-plugins-ugly"),
        Codec::H265 => ("x265enc", "install gstreamer1.0-plugins-bad"),
    }
}

/// Checks at startup that every element the encoder needs exists, so a
/// missing plugin is reported before the first frame (exit code 5).
pub fn probe(codec: Codec) -> Result<&'static str, EncodeError> {
    init()?;
    let (enc, enc_hint) = software_element(codec);
    for (element, hint) in [
        ("appsrc", "install gstreamer1.0-plugins-base"),
        ("appsink", "install gstreamer1.0-plugins-base"),
        ("videoconvert", "install gstreamer1.0-plugins-base"),
        (enc, enc_hint),
    ] {
        if gst::ElementFactory::find(element).is_none() {
            return Err(EncodeError::MissingElement { element, hint });
        }
    }
    Ok(enc)
}

fn video_format(pf: PixelFormat) -> gst_video::VideoFormat {
    use gst_video::VideoFormat as V;
    match pf {
        PixelFormat::Rgb => V::Rgb,
        PixelFormat::Bgr => V::Bgr,
        PixelFormat::Rgba => V::Rgba,
        PixelFormat::Bgra => V::Bgra,
        PixelFormat::Gray => V::Gray8,
        PixelFormat::Yuv => V::V308,
        PixelFormat::Yuyv => V::Yuy2,
    }
}

/// Capture timestamps by output PTS, so units can carry them (bounded).
type CaptureMap = Arc<Mutex<VecDeque<(u64, u64)>>>;
const CAPTURE_MAP_LEN: usize = 128;

/// One running pipeline, for one input geometry.
struct Running {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    geometry: VideoGeometry,
    info: gst_video::VideoInfo,
}

/// The software (x264/x265) GStreamer encoder.
pub struct GstEncoder {
    settings: EncoderSettings,
    element: &'static str,
    sink: AccessUnitSink,
    stats: Arc<Stats>,
    captures: CaptureMap,
    running: Option<Running>,
}

impl GstEncoder {
    pub fn new(
        settings: EncoderSettings,
        sink: AccessUnitSink,
        stats: Arc<Stats>,
    ) -> Result<Self, EncodeError> {
        let element = probe(settings.codec)?;
        Ok(Self {
            settings,
            element,
            sink,
            stats,
            captures: Arc::default(),
            running: None,
        })
    }

    fn build_err(&self, message: impl Into<String>) -> EncodeError {
        EncodeError::Build {
            codec: self.settings.codec,
            message: message.into(),
        }
    }

    fn make_encoder(&self) -> Result<gst::Element, EncodeError> {
        let s = &self.settings;
        let e = |err: gst::glib::BoolError| self.build_err(err.to_string());
        let enc = match s.codec {
            Codec::H264 => gst::ElementFactory::make("x264enc")
                .property_from_str("tune", "zerolatency")
                .property_from_str("speed-preset", &s.preset)
                .property("key-int-max", s.gop)
                .property("bframes", s.b_frames)
                .property("bitrate", s.bitrate_kbps)
                .property("byte-stream", true)
                .property("aud", false)
                .build()
                .map_err(e)?,
            Codec::H265 => gst::ElementFactory::make("x265enc")
                .property_from_str("tune", "zerolatency")
                .property_from_str("speed-preset", &s.preset)
                .property("key-int-max", s.gop as i32)
                .property("bitrate", s.bitrate_kbps)
                .property(
                    "option-string",
                    format!("bframes={}:repeat-headers=1", s.b_frames),
                )
                .build()
                .map_err(e)?,
        };
        Ok(enc)
    }

    fn start(&mut self, geometry: VideoGeometry, fps_hint: u32) -> Result<(), EncodeError> {
        let format = video_format(geometry.pixel_format);
        let info = gst_video::VideoInfo::builder(format, geometry.width, geometry.height)
            .fps(gst::Fraction::new(fps_hint as i32, 1))
            .build()
            .map_err(|e| self.build_err(e.to_string()))?;
        let caps = info.to_caps().map_err(|e| self.build_err(e.to_string()))?;
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(true)
            .block(true)
            .max_buffers(1)
            .max_bytes(0)
            .build();
        let convert = gst::ElementFactory::make("videoconvert")
            .build()
            .map_err(|e| self.build_err(e.to_string()))?;
        let i420 = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .build();
        let encoder = self.make_encoder()?;
        let media = match self.settings.codec {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
        };
        let out_caps = gst::Caps::builder(media)
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build();
        let appsink = gst_app::AppSink::builder()
            .caps(&out_caps)
            .sync(false)
            .build();

        let pipeline = gst::Pipeline::new();
        let err = |e: gst::glib::BoolError| self.build_err(e.to_string());
        pipeline
            .add_many([
                appsrc.upcast_ref(),
                &convert,
                &encoder,
                appsink.upcast_ref(),
            ])
            .map_err(err)?;
        appsrc.link(&convert).map_err(err)?;
        convert.link_filtered(&encoder, &i420).map_err(err)?;
        encoder.link(&appsink).map_err(err)?;

        let (sink, stats, captures, codec) = (
            self.sink.clone(),
            self.stats.clone(),
            self.captures.clone(),
            self.settings.codec,
        );
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |appsink| {
                    let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let pts_ns = buffer.pts().map(|t| t.nseconds()).unwrap_or(0);
                    let dts_ns = buffer.dts().map(|t| t.nseconds()).unwrap_or(pts_ns);
                    let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                    let capture_ts_ns = lookup_capture(&captures, pts_ns);
                    Stats::incr(&stats.access_units);
                    if keyframe {
                        Stats::incr(&stats.keyframes);
                    }
                    sink(AccessUnit {
                        codec,
                        data: map.as_slice().to_vec(),
                        pts_ns,
                        dts_ns,
                        keyframe,
                        capture_ts_ns,
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| self.build_err(e.to_string()))?;
        info!(
            element = self.element,
            width = geometry.width,
            height = geometry.height,
            format = ?geometry.pixel_format,
            "encoder started"
        );
        self.running = Some(Running {
            pipeline,
            appsrc,
            geometry,
            info,
        });
        Ok(())
    }

    /// Surfaces asynchronous pipeline errors (negotiation, encoder failure).
    fn check_bus(&self) -> Result<(), EncodeError> {
        let Some(r) = &self.running else {
            return Ok(());
        };
        let Some(bus) = r.pipeline.bus() else {
            return Ok(());
        };
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Err(EncodeError::Runtime {
                    message: format!("{} ({:?})", e.error(), e.debug()),
                });
            }
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<(), EncodeError> {
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        let _ = r.appsrc.end_of_stream();
        let result = match r.pipeline.bus() {
            Some(bus) => match bus.timed_pop_filtered(
                gst::ClockTime::from_nseconds(DRAIN_TIMEOUT.as_nanos() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            ) {
                Some(msg) => match msg.view() {
                    gst::MessageView::Error(e) => Err(EncodeError::Runtime {
                        message: e.error().to_string(),
                    }),
                    _ => Ok(()),
                },
                None => Err(EncodeError::DrainTimeout {
                    ms: DRAIN_TIMEOUT.as_millis() as u64,
                }),
            },
            None => Ok(()),
        };
        let _ = r.pipeline.set_state(gst::State::Null);
        result
    }
}

fn lookup_capture(captures: &CaptureMap, pts_ns: u64) -> u64 {
    let map = captures.lock().unwrap_or_else(|p| p.into_inner());
    map.iter()
        .rev()
        .find(|(pts, _)| *pts == pts_ns)
        .map(|&(_, c)| c)
        .unwrap_or(0)
}

impl VideoEncoder for GstEncoder {
    fn encode(&mut self, input: EncodeInput) -> Result<(), EncodeError> {
        self.check_bus()?;
        let geometry = input.frame.geometry;
        if self
            .running
            .as_ref()
            .is_some_and(|r| r.geometry != geometry)
        {
            info!(
                ?geometry,
                "input geometry changed: reconfiguring the encoder"
            );
            self.stop()?;
        }
        if self.running.is_none() {
            self.start(geometry, 30)?;
        }
        let r = self.running.as_ref().expect("started above");
        {
            let mut map = self.captures.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= CAPTURE_MAP_LEN {
                map.pop_front();
            }
            map.push_back((input.pts_ns, input.frame.capture_ts_ns));
        }
        let mut buffer = gst::Buffer::from_mut_slice(input.frame.data);
        {
            let b = buffer.get_mut().expect("new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(input.pts_ns));
            if geometry.stride != r.info.stride()[0] as usize {
                gst_video::VideoMeta::add_full(
                    b,
                    gst_video::VideoFrameFlags::empty(),
                    r.info.format(),
                    geometry.width,
                    geometry.height,
                    &[0],
                    &[geometry.stride as i32],
                )
                .map_err(|e| EncodeError::Runtime {
                    message: e.to_string(),
                })?;
            }
        }
        if input.force_keyframe {
            debug!(pts_ns = input.pts_ns, "forcing a keyframe");
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .timestamp(gst::ClockTime::from_nseconds(input.pts_ns))
                .build();
            r.appsrc.send_event(event);
        }
        r.appsrc
            .push_buffer(buffer)
            .map_err(|e| EncodeError::Runtime {
                message: format!("push failed: {e:?}"),
            })?;
        Stats::incr(&self.stats.frames_encoded);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        self.stop()
    }

    fn element_name(&self) -> &'static str {
        self.element
    }
}

impl Drop for GstEncoder {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.pipeline.set_state(gst::State::Null);
        }
    }
}
