//! Access units into an MP4 file through GStreamer's `mp4mux` (the one
//! maintained muxer here that writes H.265 as `hvc1`; docs/mcap-layout.md
//! "MP4" and the recording notes, section 3):
//!
//! `appsrc (Annex B, one AU a buffer) ! h264parse|h265parse ! avc|hvc1 !
//! mp4mux fragment-duration=1000 fragment-mode=first-moov-then-finalise !
//! filesink`
//!
//! Fragmented while it records, so a killed writer leaves every whole
//! fragment playable; at a clean stop (EOS) the muxer writes a `moov`
//! covering the whole file, an ordinary MP4. Timestamps: the capture time
//! minus the file's first (B-frame streams: the unit's own PTS/DTS). A
//! `Sink` for `cvmmap_streamer --record x.mp4`; the recorder's writer
//! calls the same methods for `cvmmap_record --mp4`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tracing::{info, warn};

use super::OutputError;
use super::sink::{Flow, Sink};
use crate::encode::{AccessUnit, Codec};
use crate::telemetry::{RecordCounters, add, incr};

/// A fragment every second of media.
const FRAGMENT_MS: u32 = 1000;
/// Bytes the source may hold before a push waits (the muxer is behind).
const QUEUE_BYTES: u64 = 32 << 20;
/// How long a clean stop waits for the muxer to write its `moov`.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Mp4Sink {
    path: PathBuf,
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    /// The first unit's time: the file starts at 0.
    base: Option<(u64, i64)>,
    last_dts: Option<u64>,
    stats: Option<Arc<RecordCounters>>,
    finished: bool,
}

fn element(name: &str) -> Result<gst::Element, OutputError> {
    gst::ElementFactory::make(name)
        .build()
        .map_err(|_| OutputError::Config {
            reason: format!("the GStreamer element {name} is missing (gst-plugins-good/bad)"),
        })
}

impl Mp4Sink {
    /// Creates `path` now (a path that cannot be written is refused before
    /// anything records) and starts the muxer.
    pub fn open(
        path: &Path,
        codec: Codec,
        stats: Option<Arc<RecordCounters>>,
    ) -> Result<Self, OutputError> {
        std::fs::File::create(path).map_err(|source| {
            OutputError::Record(crate::record::RecordError::Create {
                path: path.to_owned(),
                source,
            })
        })?;
        gst::init().map_err(|e| OutputError::Config {
            reason: format!("GStreamer: {e}"),
        })?;
        let (media, parser, form) = match codec {
            Codec::H264 => ("video/x-h264", "h264parse", "avc"),
            Codec::H265 => ("video/x-h265", "h265parse", "hvc1"),
        };
        let src = gst_app::AppSrc::builder()
            .caps(
                &gst::Caps::builder(media)
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build(),
            )
            .format(gst::Format::Time)
            .is_live(false)
            .block(true)
            .max_bytes(QUEUE_BYTES)
            .build();
        let parse = element(parser)?;
        let filter = element("capsfilter")?;
        filter.set_property(
            "caps",
            gst::Caps::builder(media)
                .field("stream-format", form)
                .field("alignment", "au")
                .build(),
        );
        let mux = element("mp4mux")?;
        mux.set_property("fragment-duration", FRAGMENT_MS);
        mux.set_property_from_str("fragment-mode", "first-moov-then-finalise");
        let sink = element("filesink")?;
        sink.set_property("location", path.to_string_lossy().as_ref());
        let pipeline = gst::Pipeline::with_name("mp4");
        let src_el: &gst::Element = src.upcast_ref();
        let fail = |what: &str| OutputError::Config {
            reason: format!("cannot build the MP4 muxer for {}: {what}", path.display()),
        };
        pipeline
            .add_many([src_el, &parse, &filter, &mux, &sink])
            .map_err(|_| fail("add"))?;
        gst::Element::link_many([src_el, &parse, &filter, &mux, &sink])
            .map_err(|_| fail("link"))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| fail("start"))?;
        info!(path = %path.display(), "recording MP4");
        Ok(Self {
            path: path.to_owned(),
            pipeline,
            src,
            base: None,
            last_dts: None,
            stats,
            finished: false,
        })
    }

    /// The muxer's own error, if it posted one.
    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                return Some(e.error().to_string());
            }
        }
        None
    }

    /// One access unit; the first must be a keyframe (every writer here
    /// starts at one).
    pub fn push(&mut self, unit: &AccessUnit) -> Result<(), OutputError> {
        if self.finished {
            return Ok(());
        }
        let reordered = unit.dts_ns != unit.pts_ns as i64;
        let (base_ts, base_dts) = *self.base.get_or_insert((unit.capture_ts_ns, unit.dts_ns));
        let (pts, mut dts) = if reordered {
            // B-frames (a producer's, --passthrough): the unit's own timeline.
            let pts = unit.pts_ns.saturating_sub(base_dts.max(0) as u64);
            let dts = (unit.dts_ns - base_dts).max(0) as u64;
            (pts, dts)
        } else {
            let t = unit.capture_ts_ns.saturating_sub(base_ts);
            (t, t)
        };
        // The muxer refuses a DTS that does not rise (a producer may repeat
        // a capture time).
        if let Some(last) = self.last_dts
            && dts <= last
        {
            dts = last + 1_000;
        }
        self.last_dts = Some(dts);
        let mut buffer = gst::Buffer::from_slice(unit.data.clone());
        {
            let b = buffer.get_mut().expect("a new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(pts.max(dts)));
            b.set_dts(gst::ClockTime::from_nseconds(dts));
            if !unit.keyframe {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        if self.src.push_buffer(buffer).is_err() {
            let reason = self
                .bus_error()
                .unwrap_or_else(|| "the muxer stopped".to_owned());
            self.finished = true;
            return Err(OutputError::Mp4 {
                path: self.path.clone(),
                reason,
            });
        }
        if let Some(s) = &self.stats {
            incr(&s.record_units_written);
            add(&s.record_bytes_written, unit.data.len() as u64);
        }
        Ok(())
    }

    /// EOS, then waits (bounded) for the muxer to write the final `moov`.
    pub fn close(&mut self) -> Result<(), OutputError> {
        if std::mem::replace(&mut self.finished, true) {
            // Already failed (said) or closed.
            let _ = self.pipeline.set_state(gst::State::Null);
            return Ok(());
        }
        let _ = self.src.end_of_stream();
        let result = match self.pipeline.bus() {
            Some(bus) => match bus.timed_pop_filtered(
                gst::ClockTime::from_nseconds(FINISH_TIMEOUT.as_nanos() as u64),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            ) {
                Some(m) => match m.view() {
                    gst::MessageView::Error(e) => Err(e.error().to_string()),
                    _ => Ok(()),
                },
                None => Err(format!(
                    "the muxer did not finish within {} s",
                    FINISH_TIMEOUT.as_secs()
                )),
            },
            None => Ok(()),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        result.map_err(|reason| OutputError::Mp4 {
            path: self.path.clone(),
            reason,
        })
    }
}

impl Drop for Mp4Sink {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Sink for Mp4Sink {
    fn name(&self) -> &'static str {
        "record"
    }

    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError> {
        self.push(unit)?;
        Ok(Flow::Continue)
    }

    fn finish(&mut self) {
        match self.close() {
            Ok(()) => info!(path = %self.path.display(), "MP4 finished"),
            Err(e) => warn!(error = %e, "MP4 not finished (its fragments stay playable)"),
        }
    }
}
