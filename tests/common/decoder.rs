//! A real decoder we did not write: GStreamer's `udpsrc ! rtpXdepay ! parse
//! ! avdec_X ! appsink`, counting decoded frames and recording their format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFormat {
    pub format: String,
    pub width: i32,
    pub height: i32,
}

/// Binds `port` with `udpsrc` for RTP of `codec` ("H264"/"H265") and runs
/// `tail` after the depayloader; returns the pipeline and its `sink`.
fn launch_rtp(
    port: u16,
    codec: &str,
    payload_type: u8,
    tail: &str,
) -> (gst::Pipeline, gst_app::AppSink) {
    gst::init().unwrap();
    let lower = codec.to_lowercase();
    let desc = format!(
        "udpsrc address=127.0.0.1 port={port} buffer-size=8388608 \
         caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name={codec},payload={payload_type}\" \
         ! rtp{lower}depay name=depay ! {tail} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

/// Starts a live pipeline and waits until it plays (its socket is bound).
fn play(pipeline: &gst::Pipeline) {
    pipeline.set_state(gst::State::Playing).unwrap();
    pipeline.state(gst::ClockTime::from_seconds(5)).0.unwrap();
}

pub struct GstRtpDecoder {
    pipeline: gst::Pipeline,
    frames: Arc<AtomicU64>,
    format: Arc<Mutex<Option<DecodedFormat>>>,
}

impl GstRtpDecoder {
    /// Binds `port` and starts decoding; `codec` is "H264" or "H265".
    pub fn start(port: u16, codec: &str, payload_type: u8) -> Self {
        let lower = codec.to_lowercase();
        let (pipeline, sink) = launch_rtp(
            port,
            codec,
            payload_type,
            &format!("{lower}parse ! avdec_{lower}"),
        );
        let frames = Arc::new(AtomicU64::new(0));
        let format = Arc::new(Mutex::new(None));
        let (f, fmt) = (frames.clone(), format.clone());
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(st) = sample
                        .caps()
                        .and_then(|c| c.structure(0).map(|s| s.to_owned()))
                    {
                        let mut g = fmt.lock().unwrap();
                        if g.is_none() {
                            *g = Some(DecodedFormat {
                                format: st.get::<String>("format").unwrap_or_default(),
                                width: st.get::<i32>("width").unwrap_or(0),
                                height: st.get::<i32>("height").unwrap_or(0),
                            });
                        }
                    }
                    f.fetch_add(1, Ordering::Relaxed);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        play(&pipeline);
        Self {
            pipeline,
            frames,
            format,
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Waits until `n` frames were decoded, or until no new frame came for
    /// `quiet` (the stream ended), bounded by `timeout` overall.
    pub fn wait_frames(&self, n: u64, quiet: Duration, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let (mut last, mut last_change) = (self.frames(), Instant::now());
        while Instant::now() < deadline {
            let now = self.frames();
            if now >= n {
                return now;
            }
            if now != last {
                (last, last_change) = (now, Instant::now());
            } else if now > 0 && last_change.elapsed() >= quiet {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.frames()
    }

    pub fn format(&self) -> Option<DecodedFormat> {
        self.format.lock().unwrap().clone()
    }

    /// Pipeline errors so far (decoder complaints), as text.
    pub fn errors(&self) -> Vec<String> {
        let bus = self.pipeline.bus().unwrap();
        std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Error]))
            .filter_map(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .collect()
    }
}

impl Drop for GstRtpDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// GStreamer's depayloader alone: collects the access units it reassembles
/// (`rtpXdepay ! alignment=au ! appsink`), to compare bytes with the sender.
pub struct GstRtpAccessUnits {
    pipeline: gst::Pipeline,
    units: Arc<Mutex<Vec<Vec<u8>>>>,
    marker_timestamps: Arc<Mutex<Vec<u32>>>,
}

impl GstRtpAccessUnits {
    pub fn start(port: u16, codec: &str, payload_type: u8) -> Self {
        let lower = codec.to_lowercase();
        let tail = format!("video/x-{lower},stream-format=byte-stream,alignment=au");
        let (pipeline, sink) = launch_rtp(port, codec, payload_type, &tail);
        let units = Arc::new(Mutex::new(Vec::new()));
        let u = units.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let map = sample
                        .buffer()
                        .ok_or(gst::FlowError::Error)?
                        .map_readable()
                        .map_err(|_| gst::FlowError::Error)?;
                    u.lock().unwrap().push(map.as_slice().to_vec());
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        // The RTP timestamp of every packet with the marker bit (the last of
        // each access unit, RFC 6184 §5.1), read from the raw header (RFC 3550 §5.1).
        let marker_timestamps = Arc::new(Mutex::new(Vec::new()));
        let m = marker_timestamps.clone();
        let depay = pipeline.by_name("depay").unwrap();
        depay
            .static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if let Some(buf) = info.buffer()
                    && let Ok(map) = buf.map_readable()
                    && map.len() >= 12
                    && map[1] & 0x80 != 0
                {
                    m.lock()
                        .unwrap()
                        .push(u32::from_be_bytes([map[4], map[5], map[6], map[7]]));
                }
                gst::PadProbeReturn::Ok
            });
        play(&pipeline);
        Self {
            pipeline,
            units,
            marker_timestamps,
        }
    }

    /// RTP timestamps of the access units (marker packets) so far.
    pub fn marker_timestamps(&self) -> Vec<u32> {
        self.marker_timestamps.lock().unwrap().clone()
    }

    /// Waits until `n` units arrived or none came for `quiet`.
    pub fn wait_units(&self, n: usize, quiet: Duration, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let (mut last, mut since) = (0, Instant::now());
        while Instant::now() < deadline {
            let now = self.units.lock().unwrap().len();
            if now >= n || (now > 0 && now == last && since.elapsed() >= quiet) {
                break;
            }
            if now != last {
                (last, since) = (now, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.units.lock().unwrap().clone()
    }
}

impl Drop for GstRtpAccessUnits {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// The NAL units of an Annex-B access unit, start codes removed. Written here
/// rather than borrowed from the streamer, so both sides are split alike by
/// code the sender does not use.
pub fn nal_units(au: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(au.len(), |&n| n - 3);
            while end > s && au[end - 1] == 0 {
                end -= 1; // zero bytes before a start code belong to it
            }
            au[s..end].to_vec()
        })
        .collect()
}
