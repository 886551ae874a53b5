//! `cvmmap_tools grid`: several cameras in one picture (2x2 by default),
//! synced on their common start, the Unix capture time drawn top-left,
//! encoded by the streamer's encoder selection into an MP4.
//!
//! GStreamer does the pictures: per camera `appsrc ! parse ! decoder !
//! videoconvert ! videoscale ! capsfilter` into a `compositor` pad placed
//! in its cell, then `capsfilter (rate) ! textoverlay ! videoconvert !
//! appsink` (I420). Units are pushed in capture order from one thread that
//! also takes the composite pictures out, so no queue grows past
//! [`QUEUE_BYTES`] a camera.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;

use super::decode::{self, Decoder, PixelLayout, element, raw_sink, unit_decoder};
use super::export::{is_keyframe, rate_of};
use super::read::{self, Flow, Item};
use super::reencode::{EncodeOptions, Mp4Encoder};
use super::{OfflineError, timefmt};
use crate::encode::{Codec, EncoderReport};

/// Compressed bytes a camera's source may hold before the feeder takes
/// composite pictures out first.
const QUEUE_BYTES: u64 = 8 << 20;

/// One camera of the grid: a recording and a label in it, or an MP4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub path: PathBuf,
    pub label: String,
    /// `None`: an MP4 file, decoded whole by `decodebin` and placed at the
    /// common start (an MP4 carries no capture times).
    pub codec: Option<Codec>,
}

/// An MP4 file as a tile, labelled by its name.
pub fn mp4_tile(path: &Path) -> Tile {
    Tile {
        path: path.to_owned(),
        label: path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        codec: None,
    }
}

/// What `grid` does.
#[derive(Debug, Clone)]
pub struct GridOptions {
    pub columns: u32,
    pub rows: u32,
    /// Each tile's scale of its camera's picture (0.5).
    pub scale: f64,
    pub duration_seconds: Option<f64>,
    pub encode: EncodeOptions,
    pub output: PathBuf,
    /// Draw the capture time (default true).
    pub timestamp: bool,
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GridDone {
    pub output: PathBuf,
    pub width: u32,
    pub height: u32,
    pub tiles: Vec<String>,
    pub frames: u64,
    pub fps: f64,
    pub common_start_ns: u64,
    pub encoder: EncoderReport,
}

/// `--layout CxR` (`2x2`).
pub fn parse_layout(s: &str) -> Result<(u32, u32), String> {
    let (c, r) = s
        .split_once('x')
        .ok_or("a layout is COLUMNSxROWS, e.g. 2x2")?;
    let n = |v: &str| v.parse::<u32>().ok().filter(|n| (1..=8).contains(n));
    match (n(c), n(r)) {
        (Some(c), Some(r)) => Ok((c, r)),
        _ => Err(format!("layout {s:?}: columns and rows are 1..8")),
    }
}

/// The cameras of one bundled recording, ordered by label when the labels
/// are one name with different numbers (`zed1 zed2 zed3 zed4`), else in
/// channel order.
pub fn tiles_of(path: &Path) -> Result<Vec<Tile>, OfflineError> {
    let mut cams = read::video_channels(path)?;
    let key = |l: &str| {
        let digits = l.len() - l.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (name, num) = l.split_at(l.len() - digits);
        (name.to_owned(), num.parse::<u64>().ok())
    };
    let same_name = cams.windows(2).all(|w| key(&w[0].0).0 == key(&w[1].0).0);
    if same_name && cams.iter().all(|(l, _)| key(l).1.is_some()) {
        cams.sort_by_key(|(l, _)| key(l).1);
    }
    Ok(cams
        .into_iter()
        .map(|(label, codec)| Tile {
            path: path.to_owned(),
            label,
            codec: Some(codec),
        })
        .collect())
}

/// `foo/seg/x.mcap` -> `foo/seg/seg_grid.mp4` (the segment is the folder).
pub fn default_output(first_input: &Path) -> PathBuf {
    let dir = first_input.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let segment = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "grid".into());
    dir.join(format!("{segment}_grid.mp4"))
}

/// What the first pass learns of a camera.
struct Head {
    /// `None` for an MP4.
    first_capture: Option<u64>,
    times: Vec<u64>,
    size: (u32, u32),
}

/// The first capture time, the first capture times (for the rate) and the
/// picture size of each tile (its first keyframe decoded).
fn heads(tiles: &[Tile]) -> Result<Vec<Head>, OfflineError> {
    let mut out = Vec::new();
    for tile in tiles {
        let Some(codec) = tile.codec else {
            out.push(mp4_head(&tile.path)?);
            continue;
        };
        let topic = format!("/{}/video", tile.label);
        let mut times = Vec::new();
        let mut key = None;
        read::walk(&tile.path, |item| {
            if let Item::Message {
                channel,
                log_time,
                sequence,
                data,
            } = item
                && channel.topic == topic
            {
                let unit = read::video_unit(&tile.path, &topic, sequence, log_time, data)?;
                times.push(unit.capture_ns);
                if key.is_none() && is_keyframe(codec, &unit.data) {
                    key = Some(unit.data);
                }
                if times.len() >= 32 && key.is_some() {
                    return Ok(Flow::Stop);
                }
            }
            Ok(Flow::Continue)
        })?;
        let (Some(&first_capture), Some(key)) = (times.first(), key) else {
            return Err(OfflineError::Nothing {
                path: tile.path.clone(),
                reason: format!("camera {:?} has no keyframe", tile.label),
            });
        };
        let mut dec = Decoder::new(codec, PixelLayout::I420, &format!("camera {}", tile.label))?;
        let mut pics = dec.push(key, 0)?;
        pics.extend(dec.finish()?);
        let pic = pics.first().ok_or_else(|| OfflineError::Decode {
            what: format!("camera {}", tile.label),
            reason: "its first keyframe decodes to no picture".into(),
        })?;
        out.push(Head {
            first_capture: Some(first_capture),
            times,
            size: (pic.width, pic.height),
        });
    }
    Ok(out)
}

/// An MP4's picture size and frame rate: its first picture decoded.
fn mp4_head(path: &Path) -> Result<Head, OfflineError> {
    let what = format!("{}", path.display());
    let fail = |reason: String| OfflineError::Decode {
        what: what.clone(),
        reason,
    };
    gst::init().map_err(|e| fail(e.to_string()))?;
    let (src, bin) = (element("filesrc", &what)?, element("decodebin", &what)?);
    src.set_property("location", path.to_string_lossy().as_ref());
    let conv = element("videoconvert", &what)?;
    let sink = raw_sink("I420");
    let pipeline = gst::Pipeline::with_name("mp4-head");
    pipeline
        .add_many([&src, &bin, &conv, sink.upcast_ref()])
        .map_err(|e| fail(e.to_string()))?;
    src.link(&bin).map_err(|e| fail(e.to_string()))?;
    conv.link(&sink).map_err(|e| fail(e.to_string()))?;
    link_decoded(&bin, &conv);
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| fail(e.to_string()))?;
    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(20));
    let _ = pipeline.set_state(gst::State::Null);
    let sample = sample.ok_or_else(|| fail("no picture decoded (not a video MP4?)".into()))?;
    let info = sample
        .caps()
        .and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok())
        .ok_or_else(|| fail("a picture without caps".into()))?;
    let rate = info.fps();
    let fps = if rate.numer() > 0 && rate.denom() > 0 {
        f64::from(rate.numer()) / f64::from(rate.denom())
    } else {
        30.0
    };
    Ok(Head {
        first_capture: None,
        // Two times one frame apart: rate_of gives the file's rate.
        times: vec![0, (1e9 / fps) as u64],
        size: (info.width(), info.height()),
    })
}

/// Links decodebin's video pad, when it appears, to `next`.
fn link_decoded(bin: &gst::Element, next: &gst::Element) {
    let next = next.downgrade();
    bin.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if let (true, Some(next)) = (is_video, next.upgrade())
            && let Some(sink) = next.static_pad("sink")
            && !sink.is_linked()
        {
            let _ = pad.link(&sink);
        }
    });
}

fn even(v: f64) -> u32 {
    ((v.round() as u32) & !1).max(2)
}

/// Composites `tiles` (row-major) into `opts.output`.
pub fn grid(tiles: &[Tile], opts: &GridOptions) -> Result<GridDone, OfflineError> {
    let cells = (opts.columns * opts.rows) as usize;
    if tiles.is_empty() || tiles.len() > cells {
        return Err(OfflineError::Usage(format!(
            "{} cameras do not fit a {}x{} layout",
            tiles.len(),
            opts.columns,
            opts.rows
        )));
    }
    if !(0.05..=4.0).contains(&opts.scale) {
        return Err(OfflineError::Usage(format!(
            "--scale {} is outside 0.05..4",
            opts.scale
        )));
    }
    let heads = heads(tiles)?;
    // The common start is the latest first frame; every camera's units go
    // in from its first keyframe (a camera that started earlier has its
    // picture ready at the start, not at its next keyframe), timed from
    // the earliest first frame, and the compositor starts at the common
    // start.
    // MP4 tiles start at the common start; with no recording among the
    // tiles, the time drawn is the time since the start.
    let firsts: Vec<u64> = heads.iter().filter_map(|h| h.first_capture).collect();
    let unix = !firsts.is_empty();
    let start = firsts.iter().copied().max().unwrap_or(0);
    let base = firsts.iter().copied().min().unwrap_or(0);
    let fps = heads
        .iter()
        .map(|h| rate_of(&h.times))
        .fold(1.0f64, f64::max)
        .round()
        .clamp(1.0, 240.0);
    let cell_w = heads
        .iter()
        .map(|h| even(f64::from(h.size.0) * opts.scale))
        .max()
        .expect("tiles");
    let cell_h = heads
        .iter()
        .map(|h| even(f64::from(h.size.1) * opts.scale))
        .max()
        .expect("tiles");
    let (width, height) = (cell_w * opts.columns, cell_h * opts.rows);
    let end = opts
        .duration_seconds
        .map(|s| start + (s.max(0.0) * 1e9) as u64);

    let what = "the grid";
    let fail = |reason: String| OfflineError::Decode {
        what: what.into(),
        reason,
    };
    gst::init().map_err(|e| fail(format!("GStreamer: {e}")))?;
    let pipeline = gst::Pipeline::with_name("grid");
    let comp = element("compositor", what)?;
    comp.set_property_from_str("background", "black");
    comp.set_property_from_str("start-time-selection", "set");
    comp.set_property("start-time", start - base);
    let rate = element("capsfilter", what)?;
    rate.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("width", width as i32)
            .field("height", height as i32)
            .field("framerate", gst::Fraction::new(fps as i32, 1))
            .build(),
    );
    let overlay = decode::corner_text(what, height / 24)?;
    let convert = element("videoconvert", what)?;
    let sink = raw_sink("I420");
    let sink_el: &gst::Element = sink.upcast_ref();
    pipeline
        .add_many([&comp, &rate, &overlay, &convert, sink_el])
        .map_err(|e| fail(e.to_string()))?;
    gst::Element::link_many([&comp, &rate, &overlay, &convert, sink_el])
        .map_err(|e| fail(e.to_string()))?;
    if opts.timestamp {
        // The capture time of each composite, written as it passes.
        let pad = overlay
            .static_pad("video_sink")
            .ok_or_else(|| fail("textoverlay has no video_sink".into()))?;
        let weak = overlay.downgrade();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let (Some(buf), Some(o)) = (info.buffer(), weak.upgrade())
                && let Some(pts) = buf.pts()
            {
                let t = base + pts.nseconds();
                o.set_property(
                    "text",
                    if unix {
                        timefmt::overlay(t)
                    } else {
                        timefmt::elapsed(t)
                    },
                );
            }
            gst::PadProbeReturn::Ok
        });
    } else {
        overlay.set_property("silent", true);
    }
    let mut srcs = Vec::new();
    for (i, (tile, head)) in tiles.iter().zip(&heads).enumerate() {
        let conv = element("videoconvert", what)?;
        let scale = element("videoscale", what)?;
        let caps = element("capsfilter", what)?;
        let (tw, th) = (
            even(f64::from(head.size.0) * opts.scale),
            even(f64::from(head.size.1) * opts.scale),
        );
        caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", tw as i32)
                .field("height", th as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        );
        pipeline
            .add_many([&conv, &scale, &caps])
            .map_err(|e| fail(e.to_string()))?;
        gst::Element::link_many([&conv, &scale, &caps]).map_err(|e| fail(e.to_string()))?;
        match tile.codec {
            Some(codec) => {
                let (src, [parse, dec]) = unit_decoder(codec, what)?;
                let src_el: &gst::Element = src.upcast_ref();
                pipeline
                    .add_many([src_el, &parse, &dec])
                    .map_err(|e| fail(e.to_string()))?;
                gst::Element::link_many([src_el, &parse, &dec, &conv])
                    .map_err(|e| fail(e.to_string()))?;
                srcs.push(Some(src));
            }
            None => {
                let file = element("filesrc", what)?;
                file.set_property("location", tile.path.to_string_lossy().as_ref());
                let bin = element("decodebin", what)?;
                pipeline
                    .add_many([&file, &bin])
                    .map_err(|e| fail(e.to_string()))?;
                file.link(&bin).map_err(|e| fail(e.to_string()))?;
                link_decoded(&bin, &conv);
                // Its first picture at the common start.
                if let Some(p) = caps.static_pad("src") {
                    p.set_offset((start - base) as i64);
                }
                srcs.push(None);
            }
        }
        let pad = comp
            .request_pad_simple("sink_%u")
            .ok_or_else(|| fail("compositor gave no pad".into()))?;
        // Centred in its cell.
        let (col, row) = (i as u32 % opts.columns, i as u32 / opts.columns);
        pad.set_property("xpos", (col * cell_w + (cell_w - tw) / 2) as i32);
        pad.set_property("ypos", (row * cell_h + (cell_h - th) / 2) as i32);
        caps.static_pad("src")
            .expect("capsfilter has src")
            .link(&pad)
            .map_err(|e| fail(format!("{e:?}")))?;
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| fail(e.to_string()))?;

    // Opened with the first composite (its size).
    let mut encoder: Option<Mp4Encoder> = None;
    let mut frames = 0u64;
    // Past the end (--duration-seconds): composites are no longer taken.
    let limit = end.map(|e| e.saturating_sub(base));
    let past_end = std::cell::Cell::new(false);
    let mut take = |wait: Duration| -> Result<bool, OfflineError> {
        let mut got = false;
        let mut timeout = gst::ClockTime::from_nseconds(wait.as_nanos() as u64);
        while let Some(sample) = sink.try_pull_sample(timeout) {
            timeout = gst::ClockTime::ZERO;
            got = true;
            let pic = decode::to_picture(&sample, PixelLayout::I420).map_err(&fail)?;
            if limit.is_some_and(|l| pic.pts_ns > l) {
                past_end.set(true);
                continue;
            }
            let enc = &mut encoder;
            if enc.is_none() {
                *enc = Some(Mp4Encoder::open(
                    &opts.output,
                    &opts.encode,
                    (pic.width, pic.height),
                    fps,
                )?);
            }
            let pts = pic.pts_ns;
            enc.as_mut()
                .expect("opened")
                .picture(pic, base + pts, pts)?;
            frames += 1;
        }
        Ok(got)
    };
    let bus_error = || {
        pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
    };
    // Push every tile's units in capture order, file by file (one bundled
    // file is one walk).
    let mut files: Vec<&Path> = tiles
        .iter()
        .filter(|t| t.codec.is_some())
        .map(|t| t.path.as_path())
        .collect();
    files.dedup();
    // MP4 tiles feed themselves.
    let mut ended: Vec<bool> = tiles.iter().map(|t| t.codec.is_none()).collect();
    for file in files {
        let mut started = vec![false; tiles.len()];
        read::walk(file, |item| {
            let Item::Message {
                channel,
                log_time,
                sequence,
                data,
            } = item
            else {
                return Ok(Flow::Continue);
            };
            let Some(i) = tiles.iter().position(|t| {
                t.codec.is_some()
                    && t.path == file
                    && channel.video_label() == Some(t.label.as_str())
            }) else {
                return Ok(Flow::Continue);
            };
            let (Some(src), Some(codec)) = (&srcs[i], tiles[i].codec) else {
                return Ok(Flow::Continue);
            };
            if ended[i] {
                return Ok(Flow::Continue);
            }
            let unit = read::video_unit(file, &channel.topic, sequence, log_time, data)?;
            if end.is_some_and(|e| unit.capture_ns > e) {
                ended[i] = true;
                let _ = src.end_of_stream();
                return Ok(if ended.iter().all(|e| *e) {
                    Flow::Stop
                } else {
                    Flow::Continue
                });
            }
            if !started[i] {
                if !is_keyframe(codec, &unit.data) {
                    return Ok(Flow::Continue);
                }
                started[i] = true;
            }
            // Back-pressure: take composites out while this source is full
            // (bounded: a compositor waiting for another camera gives
            // nothing, and the unit goes in anyway).
            let mut tries = 0;
            while src.current_level_bytes() > QUEUE_BYTES && tries < 20 {
                if !take(Duration::from_millis(100))? {
                    tries += 1;
                }
            }
            let mut buffer = gst::Buffer::from_slice(unit.data);
            buffer
                .get_mut()
                .expect("new")
                .set_pts(gst::ClockTime::from_nseconds(
                    unit.capture_ns.saturating_sub(base),
                ));
            if src.push_buffer(buffer).is_err() {
                return Err(fail(
                    bus_error().unwrap_or_else(|| "the pipeline stopped".into()),
                ));
            }
            take(Duration::ZERO)?;
            Ok(Flow::Continue)
        })?;
    }
    for src in srcs.iter().flatten() {
        let _ = src.end_of_stream();
    }
    // Bounded by progress: 60 s without a composite is a hang.
    let mut deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !sink.is_eos() && !past_end.get() {
        if std::time::Instant::now() > deadline {
            return Err(fail("the compositor gave nothing for 60 s".into()));
        }
        if take(Duration::from_millis(200))? {
            deadline = std::time::Instant::now() + Duration::from_secs(60);
        }
        if let Some(e) = bus_error() {
            return Err(fail(e));
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    let enc = encoder.take();
    let Some(enc) = enc else {
        return Err(OfflineError::Nothing {
            path: tiles[0].path.clone(),
            reason: "no composite picture came out (no frame after the common start?)".into(),
        });
    };
    let report = enc.finish()?;
    Ok(GridDone {
        output: opts.output.clone(),
        width,
        height,
        tiles: tiles.iter().map(|t| t.label.clone()).collect(),
        frames,
        fps,
        common_start_ns: start,
        encoder: report,
    })
}
