//! A GStreamer decoder for one camera's access units: Annex B in, pictures
//! out (I420 in [`I420Layout`], what our encoder takes without a copy, or
//! tightly packed RGB for pictures we draw on). Synchronous: the caller
//! pushes a unit and takes what has come out, so nothing queues without
//! bound.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::OfflineError;
use crate::encode::Codec;
use crate::pixels::I420Layout;

/// The decoded picture's pixel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    I420,
    Rgb,
}

/// One decoded picture.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The time given with its unit.
    pub pts_ns: u64,
    pub width: u32,
    pub height: u32,
    /// I420: [`I420Layout`]; RGB: `width * 3` bytes a row.
    pub data: Vec<u8>,
}

/// How long the decoder may take to drain at the end.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Decoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
    layout: PixelLayout,
    what: String,
}

pub(crate) fn element(name: &str, what: &str) -> Result<gst::Element, OfflineError> {
    gst::ElementFactory::make(name)
        .build()
        .map_err(|_| OfflineError::Decode {
            what: what.to_owned(),
            reason: format!(
                "the GStreamer element {name} is missing (gst-libav, gst-plugins-base)"
            ),
        })
}

/// `video/x-h264` or `video/x-h265`, Annex B, one access unit a buffer.
fn byte_stream_caps(codec: Codec) -> gst::Caps {
    let media = match codec {
        Codec::H264 => "video/x-h264",
        Codec::H265 => "video/x-h265",
    };
    gst::Caps::builder(media)
        .field("stream-format", "byte-stream")
        .field("alignment", "au")
        .build()
}

/// Where a camera's access units go in (an appsrc of Annex-B units,
/// timed, not live, never blocking the caller: every caller here takes
/// pictures out as it pushes), with the parser and decoder of `codec`
/// that follow it, not yet added to a pipeline.
pub(crate) fn unit_decoder(
    codec: Codec,
    what: &str,
) -> Result<(gst_app::AppSrc, [gst::Element; 2]), OfflineError> {
    let src = gst_app::AppSrc::builder()
        .caps(&byte_stream_caps(codec))
        .format(gst::Format::Time)
        .is_live(false)
        .block(false)
        .build();
    let (parser, decoder) = match codec {
        Codec::H264 => ("h264parse", "avdec_h264"),
        Codec::H265 => ("h265parse", "avdec_h265"),
    };
    Ok((src, [element(parser, what)?, element(decoder, what)?]))
}

/// An appsink taking raw pictures in `format` (`I420`, `RGB`) as fast as
/// they come (no clock).
pub(crate) fn raw_sink(format: &str) -> gst_app::AppSink {
    gst_app::AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", format)
                .build(),
        )
        .sync(false)
        .build()
}

/// A `textoverlay` writing top-left, hard in the corner (the default pads
/// by 25 px), on a shaded background, `px` high.
pub(crate) fn corner_text(what: &str, px: u32) -> Result<gst::Element, OfflineError> {
    let overlay = element("textoverlay", what)?;
    overlay.set_property_from_str("valignment", "top");
    overlay.set_property_from_str("halignment", "left");
    overlay.set_property_from_str("line-alignment", "left");
    overlay.set_property("shaded-background", true);
    overlay.set_property("xpad", 6i32);
    overlay.set_property("ypad", 4i32);
    overlay.set_property("font-desc", format!("Monospace Bold {}px", px.max(10)));
    Ok(overlay)
}

impl Decoder {
    /// A decoder of `codec` to `layout`; `what` names it in errors.
    pub fn new(codec: Codec, layout: PixelLayout, what: &str) -> Result<Self, OfflineError> {
        let fail = |reason: String| OfflineError::Decode {
            what: what.to_owned(),
            reason,
        };
        gst::init().map_err(|e| fail(format!("GStreamer: {e}")))?;
        let (src, [parse, decode]) = unit_decoder(codec, what)?;
        let convert = element("videoconvert", what)?;
        let format = match layout {
            PixelLayout::I420 => "I420",
            PixelLayout::Rgb => "RGB",
        };
        let sink = raw_sink(format);
        let pipeline = gst::Pipeline::with_name("decode");
        let (src_el, sink_el): (&gst::Element, &gst::Element) =
            (src.upcast_ref(), sink.upcast_ref());
        pipeline
            .add_many([src_el, &parse, &decode, &convert, sink_el])
            .map_err(|e| fail(e.to_string()))?;
        gst::Element::link_many([src_el, &parse, &decode, &convert, sink_el])
            .map_err(|e| fail(e.to_string()))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            pipeline,
            src,
            sink,
            layout,
            what: what.to_owned(),
        })
    }

    fn error(&self, fallback: &str) -> OfflineError {
        let reason = self
            .pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| fallback.to_owned());
        OfflineError::Decode {
            what: self.what.clone(),
            reason,
        }
    }

    /// Queues one access unit shown at `pts_ns`; returns the pictures
    /// decoded so far.
    pub fn push(&mut self, data: bytes::Bytes, pts_ns: u64) -> Result<Vec<Picture>, OfflineError> {
        let mut out = self.ready(Duration::ZERO)?;
        let mut buffer = gst::Buffer::from_slice(data);
        {
            let b = buffer.get_mut().expect("a new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(pts_ns));
        }
        if self.src.push_buffer(buffer).is_err() {
            return Err(self.error("the decoder stopped"));
        }
        out.extend(self.ready(Duration::ZERO)?);
        Ok(out)
    }

    /// Ends the stream; the pictures still inside the decoder.
    pub fn finish(&mut self) -> Result<Vec<Picture>, OfflineError> {
        let _ = self.src.end_of_stream();
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut out = Vec::new();
        while !self.sink.is_eos() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.error("the decoder did not drain in 30 s"));
            }
            out.extend(self.ready(left.min(Duration::from_millis(200)))?);
            if let Some(bus) = self.pipeline.bus()
                && bus.have_pending()
                && let Some(m) = bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(e) = m.view()
            {
                return Err(OfflineError::Decode {
                    what: self.what.clone(),
                    reason: e.error().to_string(),
                });
            }
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        Ok(out)
    }

    /// The pictures that come out within `wait` (none waited for when zero).
    fn ready(&mut self, wait: Duration) -> Result<Vec<Picture>, OfflineError> {
        let mut out = Vec::new();
        let mut timeout = gst::ClockTime::from_nseconds(wait.as_nanos() as u64);
        while let Some(sample) = self.sink.try_pull_sample(timeout) {
            timeout = gst::ClockTime::ZERO;
            out.push(
                to_picture(&sample, self.layout).map_err(|reason| OfflineError::Decode {
                    what: self.what.clone(),
                    reason,
                })?,
            );
        }
        Ok(out)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// A sample's picture, rows copied into our layout (whatever strides the
/// converter chose).
pub(crate) fn to_picture(sample: &gst::Sample, layout: PixelLayout) -> Result<Picture, String> {
    let caps = sample.caps().ok_or("a sample without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
    let buffer = sample.buffer().ok_or("a sample without a buffer")?;
    let pts_ns = buffer.pts().map(|t| t.nseconds()).unwrap_or(0);
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|e| e.to_string())?;
    let (w, h) = (info.width(), info.height());
    let data = match layout {
        PixelLayout::Rgb => {
            let mut out = Vec::with_capacity(w as usize * h as usize * 3);
            copy_plane(&frame, 0, w as usize * 3, h as usize, &mut out)?;
            out
        }
        PixelLayout::I420 => {
            let l = I420Layout::new(w, h);
            let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
            let mut out = Vec::with_capacity(l.size);
            for (plane, row, rows, stride) in [
                (0, w as usize, h as usize, l.y_stride),
                (1, cw, ch, l.c_stride),
                (2, cw, ch, l.c_stride),
            ] {
                let start = out.len();
                copy_plane(&frame, plane, row, rows, &mut out)?;
                // Re-pad rows to our stride.
                if stride != row {
                    let tight = out.split_off(start);
                    for r in tight.chunks(row) {
                        out.extend_from_slice(r);
                        out.resize(out.len() + stride - row, 0);
                    }
                }
            }
            out
        }
    };
    Ok(Picture {
        pts_ns,
        width: w,
        height: h,
        data,
    })
}

fn copy_plane(
    frame: &gst_video::VideoFrameRef<&gst::BufferRef>,
    plane: u32,
    row: usize,
    rows: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let data = frame.plane_data(plane).map_err(|e| e.to_string())?;
    let stride = frame.plane_stride()[plane as usize] as usize;
    for r in 0..rows {
        let line = data
            .get(r * stride..r * stride + row)
            .ok_or("a plane shorter than its rows")?;
        out.extend_from_slice(line);
    }
    Ok(())
}
