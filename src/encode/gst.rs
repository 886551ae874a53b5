//! GStreamer encoder: `appsrc (I420) ! x264enc|x265enc ! appsink`.
//!
//! Software encoders get I420 converted in Rust ([`super::convert`]) straight
//! into a pooled GStreamer buffer: one SIMD pass on the encode loop's thread,
//! overlapping the encoder's thread, instead of `videoconvert` in series with
//! the encoder. (Everything becomes I420: a bare videoconvert fed BGR lets
//! x264 pick 4:4:4, which players reject.) NVENC gets the frame itself,
//! without a copy, through a `videoconvert` restricted to formats NVENC
//! takes natively (BGRA/RGBA pass through untouched; never a CPU I420 pass).
//! The capture timestamp rides on each buffer as a `ReferenceTimestampMeta`,
//! which GstVideoEncoder copies onto the unit it outputs.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use tracing::{debug, info};

use super::elements;
use super::{
    AccessUnit, AccessUnitSink, Codec, EncodeError, EncodeInput, EncoderSettings, VideoEncoder,
};
use crate::contract::PixelFormat;
use crate::ingest::{Form, VideoGeometry, WantI420};
use crate::pixels::{self, I420, I420Layout, Matrix};
use crate::telemetry::{EncodeCounters, StageLatency, incr};

const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Offset added to input timestamps and removed from output ones. Encoders
/// derived from GstVideoEncoder (x264enc among them) shift a stream starting
/// at 0 by 1000 hours so that DTS never goes negative with B-frames; starting
/// there ourselves makes the shift a no-op and the mapping exact.
const PTS_BASE_NS: u64 = 1000 * 3600 * 1_000_000_000;

fn init() -> Result<(), EncodeError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = gst::init().map_err(|e| EncodeError::Init(e.to_string())));
    result
}

/// Checks that the elements around `encoder` exist, so a missing plugin is
/// reported before the first frame (exit code 5).
pub fn probe(encoder: &'static str, hint: &'static str) -> Result<(), EncodeError> {
    init()?;
    for (element, hint) in [
        ("appsrc", "install gstreamer1.0-plugins-base"),
        ("appsink", "install gstreamer1.0-plugins-base"),
        ("videoconvert", "install gstreamer1.0-plugins-base"),
        (encoder, hint),
    ] {
        if gst::ElementFactory::find(element).is_none() {
            return Err(EncodeError::MissingElement { element, hint });
        }
    }
    Ok(())
}

/// Initialises GStreamer (once) for callers outside this module.
pub fn ensure_init() -> Result<(), EncodeError> {
    init()
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

/// The references of the timestamp metas on our buffers: the producer's
/// capture time, and when the frame was pushed into the pipeline (ns on
/// [`since_start`]'s clock: the encoder's latency).
const CAPTURE_REFERENCE: &str = "timestamp/x-cvmmap-capture";
const PUSH_REFERENCE: &str = "timestamp/x-cvmmap-push";

/// Monotonic ns since the first call (a clock the metas can carry).
fn since_start() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// The timestamp of the meta with `reference` the encoder carried over
/// from the input buffer.
fn stamp_of(buffer: &gst::BufferRef, reference: &str) -> Option<u64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == reference)
        })
        .map(|m| m.timestamp().nseconds())
}

/// Whether GStreamer's I420 layout for `info` is [`I420Layout`]'s (sizes,
/// plane offsets and strides), so that frames the ingest converted can be
/// handed over without a copy.
fn layout_matches(info: &gst_video::VideoInfo, width: u32, height: u32) -> bool {
    let layout = I420Layout::new(width, height);
    info.format() == gst_video::VideoFormat::I420
        && layout.size == info.size()
        && info.offset() == [0, layout.u_offset, layout.v_offset]
        && info.stride()
            == [
                layout.y_stride as i32,
                layout.c_stride as i32,
                layout.c_stride as i32,
            ]
}

/// How frames reach the encoder element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// Converted to I420 in Rust into a pooled buffer (software encoders).
    Convert(Matrix),
    /// The producer's bytes as they are, through a `videoconvert` limited
    /// to formats the hardware encoder takes natively.
    Native,
}

/// One running pipeline, for one input geometry.
struct Running {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    geometry: VideoGeometry,
    /// What `appsrc` sends: I420 (`Feed::Convert`) or the source's format.
    info: gst_video::VideoInfo,
    /// Buffers for the converted frames (`Feed::Convert`).
    pool: Option<gst::BufferPool>,
    /// Whether `info` is the layout the ingest converts into ([`I420Layout`]
    /// of this geometry): then its frames go to `appsrc` as they are.
    /// Decided once here; a new geometry starts a new pipeline.
    layout_is_ours: bool,
}

/// The frame rate assumed until the source's is known.
const DEFAULT_RATE: (u32, u32) = (30, 1);
/// A measured rate this far from the caps' (relative) renegotiates them.
const RATE_CHANGE: f64 = 0.1;

/// The frame rate in the caps, shared with the output callback:
/// `num << 32 | den`.
#[derive(Debug, Default)]
struct SharedRate(AtomicU64);

impl SharedRate {
    fn set(&self, (num, den): (u32, u32)) {
        self.0
            .store(u64::from(num) << 32 | u64::from(den), Ordering::Relaxed);
    }

    fn get(&self) -> Option<(u32, u32)> {
        let v = self.0.load(Ordering::Relaxed);
        (v != 0).then_some(((v >> 32) as u32, v as u32))
    }
}

fn rate_differs(a: (u32, u32), b: (u32, u32)) -> bool {
    let fps = |(n, d): (u32, u32)| f64::from(n) / f64::from(d.max(1));
    let (a, b) = (fps(a), fps(b));
    (a - b).abs() > RATE_CHANGE * b
}

/// How frames enter the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    /// `appsrc` blocks when the encoder is behind (software: backpressure
    /// the latest-frame queue absorbs).
    Blocking,
    /// `appsrc` never blocks and drops the newest frame when two wait
    /// (hardware: a wedged NVENC must not hang the encode loop, so the
    /// fallback watchdog keeps running).
    NonBlocking,
}

/// The software (x264/x265) GStreamer encoder.
pub struct GstEncoder {
    settings: EncoderSettings,
    element: &'static str,
    sink: AccessUnitSink,
    stats: Arc<EncodeCounters>,
    running: Option<Running>,
    push: Push,
    rate: Arc<SharedRate>,
    /// Test hook: the output is held forever (a wedged encoder).
    stall_output: bool,
    /// Told whether this encoder takes I420 when it starts.
    announce: Option<Arc<WantI420>>,
    /// Where the push-to-output latency of each unit goes, and capture ->
    /// pushed and capture -> out.
    latency: Option<Arc<StageLatency>>,
    /// Test hook: fed as NVENC is (the producer's format, no I420 pass),
    /// whatever the element.
    native_feed: bool,
}

impl GstEncoder {
    /// An encoder around `element` (from [`elements`]); nothing starts
    /// until the first frame, whose geometry the pipeline is built for.
    pub fn new(
        settings: EncoderSettings,
        element: &'static str,
        sink: AccessUnitSink,
        stats: Arc<EncodeCounters>,
    ) -> Result<Self, EncodeError> {
        probe(element, "install the GStreamer plugin that provides it")?;
        Ok(Self {
            settings,
            element,
            sink,
            stats,
            running: None,
            push: Push::Blocking,
            rate: Arc::default(),
            stall_output: false,
            announce: None,
            latency: None,
            native_feed: false,
        })
    }

    /// Records each unit's latency (frame pushed -> unit out), and capture
    /// -> pushed and capture -> out, in `h`.
    pub fn measuring(mut self, h: Arc<StageLatency>) -> Self {
        self.latency = Some(h);
        self
    }

    /// Says through `want` whether this encoder takes I420 when it starts,
    /// so that the ingest converts on its way out of shared memory.
    pub fn announcing_input(mut self, want: Arc<WantI420>) -> Self {
        self.announce = Some(want);
        self
    }

    /// For a hardware encoder: pushes never block (see [`Push`]).
    pub fn non_blocking(mut self) -> Self {
        self.push = Push::NonBlocking;
        self
    }

    /// Test hook: the encoder takes frames but its output never drains (the
    /// sink waits for a clock time ~1000 hours away), so GStreamer's own
    /// backpressure reaches `appsrc`: a wedged encoder, for real.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn with_stalled_output(mut self) -> Self {
        self.stall_output = true;
        self
    }

    /// Test hook: feed this (software) element as NVENC is fed, so that
    /// the native path runs without a GPU.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn with_native_feed(mut self) -> Self {
        self.native_feed = true;
        self
    }

    fn build_err(&self, message: impl Into<String>) -> EncodeError {
        EncodeError::Build {
            codec: self.settings.codec,
            message: message.into(),
        }
    }

    /// NVENC takes the frame as it is; the software encoders get I420.
    fn feed(&self, geometry: VideoGeometry) -> Feed {
        if self.element.starts_with("nv") || self.native_feed {
            Feed::Native
        } else {
            Feed::Convert(Matrix::for_height(geometry.height))
        }
    }

    /// The caps `appsrc` announces for `geometry` at `rate`.
    fn video_info(
        &self,
        geometry: VideoGeometry,
        (num, den): (u32, u32),
    ) -> Result<gst_video::VideoInfo, EncodeError> {
        let fps = gst::Fraction::new(
            i32::try_from(num).unwrap_or(i32::MAX),
            i32::try_from(den.max(1)).unwrap_or(i32::MAX),
        );
        let (w, h) = (geometry.width, geometry.height);
        let builder = match self.feed(geometry) {
            Feed::Convert(matrix) => {
                let colorimetry = gst_video::VideoColorimetry::from_str(matrix.caps_name())
                    .map_err(|e| self.build_err(e.to_string()))?;
                gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
                    .colorimetry(&colorimetry)
            }
            Feed::Native => {
                gst_video::VideoInfo::builder(video_format(geometry.pixel_format), w, h)
            }
        };
        builder
            .fps(fps)
            .build()
            .map_err(|e| self.build_err(e.to_string()))
    }

    fn buffer_pool(&self, info: &gst_video::VideoInfo) -> Result<gst::BufferPool, EncodeError> {
        let caps = info.to_caps().map_err(|e| self.build_err(e.to_string()))?;
        let pool = gst_video::VideoBufferPool::new().upcast::<gst::BufferPool>();
        let mut config = pool.config();
        // No upper bound: the encoder may hold a few frames (x264's frame
        // threads), and a bound would block the push. Freed buffers return
        // and are reused, so the count settles at what is in flight.
        config.set_params(Some(&caps), info.size() as u32, 2, 0);
        pool.set_config(config)
            .map_err(|e| self.build_err(e.to_string()))?;
        pool.set_active(true)
            .map_err(|e| self.build_err(e.to_string()))?;
        Ok(pool)
    }

    fn start(&mut self, geometry: VideoGeometry, rate: (u32, u32)) -> Result<(), EncodeError> {
        let info = self.video_info(geometry, rate)?;
        let caps = info.to_caps().map_err(|e| self.build_err(e.to_string()))?;
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(true)
            .max_bytes(0);
        let appsrc = match self.push {
            Push::Blocking => appsrc.block(true).max_buffers(1),
            Push::NonBlocking => appsrc
                .block(false)
                .max_buffers(2)
                .leaky_type(gst_app::AppLeakyType::Downstream),
        }
        .build();
        let feed = self.feed(geometry);
        let encoder = elements::make(self.element, &self.settings)
            .map_err(|e| self.build_err(e.to_string()))?;
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
            .sync(self.stall_output)
            .build();
        // Nothing reads the last sample; keeping it holds a unit per frame.
        appsink.set_property("enable-last-sample", false);

        let pipeline = gst::Pipeline::new();
        let err = |e: gst::glib::BoolError| self.build_err(e.to_string());
        pipeline
            .add_many([appsrc.upcast_ref(), &encoder, appsink.upcast_ref()])
            .map_err(err)?;
        match feed {
            Feed::Convert(_) => appsrc.link(&encoder).map_err(err)?,
            Feed::Native => {
                let convert = gst::ElementFactory::make("videoconvert")
                    .build()
                    .map_err(|e| self.build_err(e.to_string()))?;
                // Formats NVENC encodes as 4:2:0 without a CPU conversion
                // when the source has them; never Y444 (players reject it).
                let native =
                    gst::Caps::from_str("video/x-raw,format={BGRA,RGBA,BGRx,RGBx,NV12,I420}")
                        .map_err(|e| self.build_err(e.to_string()))?;
                pipeline.add(&convert).map_err(err)?;
                appsrc.link(&convert).map_err(err)?;
                convert.link_filtered(&encoder, &native).map_err(err)?;
            }
        }
        encoder.link(&appsink).map_err(err)?;
        let pool = match feed {
            Feed::Convert(_) => Some(self.buffer_pool(&info)?),
            Feed::Native => None,
        };

        let (sink, stats, codec, shared_rate, latency) = (
            self.sink.clone(),
            self.stats.clone(),
            self.settings.codec,
            self.rate.clone(),
            self.latency.clone(),
        );
        self.rate.set(rate);
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |appsink| {
                    let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let raw_pts = buffer.pts().map(|t| t.nseconds()).unwrap_or(PTS_BASE_NS);
                    let raw_dts = buffer.dts().map(|t| t.nseconds()).unwrap_or(raw_pts);
                    let pts_ns = raw_pts.saturating_sub(PTS_BASE_NS);
                    let dts_ns = raw_dts as i64 - PTS_BASE_NS as i64;
                    let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                    let capture_ts_ns = stamp_of(buffer, CAPTURE_REFERENCE).unwrap_or(0);
                    if let Some(h) = &latency {
                        if let Some(pushed) = stamp_of(buffer, PUSH_REFERENCE) {
                            h.encode.record(since_start().saturating_sub(pushed));
                        }
                        StageLatency::since_capture(&h.encoded, capture_ts_ns);
                    }
                    incr(&stats.access_units);
                    if keyframe {
                        incr(&stats.keyframes);
                    }
                    // The encoder's buffer itself, mapped, becomes the
                    // unit's bytes: no copy towards the sinks.
                    let owned = sample.buffer_owned().ok_or(gst::FlowError::Error)?;
                    let mapped = owned
                        .into_mapped_buffer_readable()
                        .map_err(|_| gst::FlowError::Error)?;
                    sink(AccessUnit {
                        codec,
                        data: bytes::Bytes::from_owner(mapped),
                        pts_ns,
                        dts_ns,
                        keyframe,
                        capture_ts_ns,
                        width: geometry.width,
                        height: geometry.height,
                        frame_rate: shared_rate.get(),
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
            fps = format!("{}/{}", rate.0, rate.1),
            "encoder started"
        );
        if let Some(want) = &self.announce {
            want.set(matches!(feed, Feed::Convert(_)));
        }
        let layout_is_ours = layout_matches(&info, geometry.width, geometry.height);
        self.running = Some(Running {
            pipeline,
            appsrc,
            geometry,
            info,
            pool,
            layout_is_ours,
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
        if let Some(pool) = r.pool {
            let _ = pool.set_active(false);
        }
        result
    }
}

impl GstEncoder {
    /// New caps with the source's rate on the running pipeline: the encoder
    /// reconfigures (rate control per frame follows) and starts a new GOP.
    fn renegotiate_rate(&mut self, rate: (u32, u32)) -> Result<(), EncodeError> {
        let Some(r) = &self.running else {
            return Ok(());
        };
        let info = self.video_info(r.geometry, rate)?;
        let caps = info.to_caps().map_err(|e| self.build_err(e.to_string()))?;
        info!(
            fps = format!("{}/{}", rate.0, rate.1),
            "source frame rate measured: encoder caps updated"
        );
        r.appsrc.set_caps(Some(&caps));
        self.rate.set(rate);
        if let Some(r) = &mut self.running {
            r.info = info;
        }
        Ok(())
    }
}

impl Running {
    /// The frame as an I420 buffer: its own bytes when the ingest already
    /// converted them (they return to the ingest pool when GStreamer is
    /// done), else converted here into a pooled buffer.
    fn i420(&self, input: EncodeInput, matrix: Matrix) -> Result<gst::Buffer, EncodeError> {
        let whole = input.frame.data.len() == self.info.size();
        match input.frame.form {
            Form::I420(m) if m == matrix && self.layout_is_ours && whole => {
                Ok(gst::Buffer::from_mut_slice(input.frame.data))
            }
            _ => self.converted(&input, matrix),
        }
    }

    /// The frame converted into a pooled I420 buffer.
    fn converted(&self, input: &EncodeInput, matrix: Matrix) -> Result<gst::Buffer, EncodeError> {
        if input.frame.form != Form::Raw {
            return Err(EncodeError::Runtime {
                message: "an I420 frame in another layout or matrix".into(),
            });
        }
        let runtime = |message: String| EncodeError::Runtime { message };
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| runtime("no buffer pool".into()))?;
        let mut buffer = pool
            .acquire_buffer(None)
            .map_err(|e| runtime(format!("no buffer from the pool: {e:?}")))?;
        {
            let b = buffer
                .get_mut()
                .ok_or_else(|| runtime("pooled buffer shared".into()))?;
            let mut map = b
                .map_writable()
                .map_err(|e| runtime(format!("pooled buffer not writable: {e}")))?;
            let (offsets, strides) = (self.info.offset(), self.info.stride());
            let data = map.as_mut_slice();
            let (y, rest) = data.split_at_mut(offsets[1]);
            let (u, v) = rest.split_at_mut(offsets[2] - offsets[1]);
            let planes = I420 {
                y,
                y_stride: strides[0] as usize,
                u,
                u_stride: strides[1] as usize,
                v,
                v_stride: strides[2] as usize,
            };
            pixels::to_i420(&input.frame.data, &input.frame.geometry, planes, matrix)
                .map_err(|e| runtime(e.to_string()))?;
        }
        Ok(buffer)
    }

    /// The frame's own bytes, handed over without a copy.
    fn native(&self, input: EncodeInput) -> Result<gst::Buffer, EncodeError> {
        let geometry = input.frame.geometry;
        if input.frame.form != Form::Raw {
            // Only a software encoder asks the ingest for I420.
            return Err(EncodeError::Runtime {
                message: "an I420 frame reached the hardware encoder".into(),
            });
        }
        let mut buffer = gst::Buffer::from_mut_slice(input.frame.data);
        if geometry.stride != self.info.stride()[0] as usize {
            let b = buffer.get_mut().expect("new buffer is writable");
            gst_video::VideoMeta::add_full(
                b,
                gst_video::VideoFrameFlags::empty(),
                self.info.format(),
                geometry.width,
                geometry.height,
                &[0],
                &[geometry.stride as i32],
            )
            .map_err(|e| EncodeError::Runtime {
                message: e.to_string(),
            })?;
        }
        Ok(buffer)
    }
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
            self.start(geometry, input.frame_rate.unwrap_or(DEFAULT_RATE))?;
        }
        if let (Some(want), Some(have)) = (input.frame_rate, self.rate.get())
            && rate_differs(want, have)
        {
            self.renegotiate_rate(want)?;
        }
        let r = self.running.as_ref().expect("started above");
        let (pts_ns, capture_ts_ns, force) = (
            input.pts_ns,
            input.frame.capture_ts_ns,
            input.force_keyframe,
        );
        let mut buffer = match self.feed(geometry) {
            Feed::Convert(matrix) => r.i420(input, matrix)?,
            Feed::Native => r.native(input)?,
        };
        {
            let b = buffer.get_mut().ok_or_else(|| EncodeError::Runtime {
                message: "input buffer shared".into(),
            })?;
            b.set_pts(gst::ClockTime::from_nseconds(PTS_BASE_NS + pts_ns));
            for (reference, ns) in [
                (CAPTURE_REFERENCE, capture_ts_ns),
                (PUSH_REFERENCE, since_start()),
            ] {
                gst::ReferenceTimestampMeta::add(
                    b,
                    &gst::Caps::new_empty_simple(reference),
                    gst::ClockTime::from_nseconds(ns),
                    gst::ClockTime::NONE,
                );
            }
        }
        if force {
            debug!(pts_ns, "forcing a keyframe");
            // The running time names this very frame (the segment starts
            // at 0: running time = PTS). Without it, GstVideoEncoder
            // forces the next frame it handles, and an event that reaches
            // it ahead of frames still queued (the encoder starting up) was
            // spent on the session's first frame, already a keyframe: a
            // recording's start keyframe was lost in 4 of 15 runs.
            let at = gst::ClockTime::from_nseconds(PTS_BASE_NS + pts_ns);
            let event = gst_video::DownstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .timestamp(at)
                .running_time(at)
                .build();
            r.appsrc.send_event(event);
        }
        if let Some(h) = &self.latency {
            StageLatency::since_capture(&h.to_encoder, capture_ts_ns);
        }
        r.appsrc
            .push_buffer(buffer)
            .map_err(|e| EncodeError::Runtime {
                message: format!("push failed: {e:?}"),
            })?;
        incr(&self.stats.frames_encoded);
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
