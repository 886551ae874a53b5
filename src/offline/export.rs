//! `cvmmap_tools export-mp4`: one camera of a recording to MP4, remuxed
//! (the recorded access units, unchanged, as MP4 samples; H.265 as `hvc1`)
//! or decoded and encoded again.

use std::path::{Path, PathBuf};

use super::OfflineError;
use super::decode::{Decoder, PixelLayout};
use super::read::{self, Flow, Item, VideoUnit};
use super::reencode::{EncodeOptions, Mp4Encoder};
use crate::codec::{h264, h265, nal_units};
use crate::encode::{AccessUnit, Codec, EncoderReport};
use crate::output::mp4::Mp4Sink;

/// What `export-mp4` does.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub label: String,
    /// Default: [`default_output`].
    pub output: Option<PathBuf>,
    /// `None`: remux.
    pub encode: Option<EncodeOptions>,
    /// First and last frame index (the camera's messages, from 0) kept.
    pub start_frame: Option<u64>,
    pub end_frame: Option<u64>,
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub output: PathBuf,
    pub label: String,
    pub mode: &'static str,
    pub codec: String,
    pub frames: u64,
    /// Frames of the range before its first keyframe (a remux must start
    /// at one).
    pub skipped_to_keyframe: u64,
    pub first_capture_ns: Option<u64>,
    pub last_capture_ns: Option<u64>,
    pub encoder: Option<EncoderReport>,
}

/// `foo.mcap` -> `foo_<label>.mp4`, beside it.
pub fn default_output(input: &Path, label: &str) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    input.with_file_name(format!("{stem}_{label}.mp4"))
}

/// Whether an Annex-B unit starts a picture a decoder can begin at.
pub fn is_keyframe(codec: Codec, unit: &[u8]) -> bool {
    match codec {
        Codec::H264 => h264::contains_idr(unit),
        Codec::H265 => nal_units(unit)
            .filter(|n| !n.is_empty())
            .any(|n| h265::nal_type(n[0]).is_irap()),
    }
}

/// The camera's access units in order, with their frame index, within
/// `[start, end]`; `visit` returns false to stop.
pub fn for_each_unit(
    input: &Path,
    label: &str,
    (start, end): (u64, u64),
    mut visit: impl FnMut(u64, VideoUnit) -> Result<bool, OfflineError>,
) -> Result<(), OfflineError> {
    let topic = format!("/{label}/video");
    let mut index = 0u64;
    read::walk(input, |item| {
        let Item::Message {
            channel,
            log_time,
            sequence,
            data,
        } = item
        else {
            return Ok(Flow::Continue);
        };
        if channel.topic != topic {
            return Ok(Flow::Continue);
        }
        let i = index;
        index += 1;
        if i < start {
            return Ok(Flow::Continue);
        }
        if i > end {
            return Ok(Flow::Stop);
        }
        let unit = read::video_unit(input, &topic, sequence, log_time, data)?;
        Ok(if visit(i, unit)? {
            Flow::Continue
        } else {
            Flow::Stop
        })
    })
}

/// Exports one camera (see the module doc).
pub fn export_mp4(input: &Path, opts: &ExportOptions) -> Result<Exported, OfflineError> {
    let codec = read::camera(input, &opts.label)?;
    let (start, end) = (
        opts.start_frame.unwrap_or(0),
        opts.end_frame.unwrap_or(u64::MAX),
    );
    if start > end {
        return Err(OfflineError::Usage(format!(
            "--start-frame {start} is after --end-frame {end}"
        )));
    }
    let output = opts
        .output
        .clone()
        .unwrap_or_else(|| default_output(input, &opts.label));
    let mut got = Exported {
        output: output.clone(),
        label: opts.label.clone(),
        mode: if opts.encode.is_some() {
            "reencode"
        } else {
            "remux"
        },
        codec: opts.encode.as_ref().map_or(codec, |e| e.codec).to_string(),
        frames: 0,
        skipped_to_keyframe: 0,
        first_capture_ns: None,
        last_capture_ns: None,
        encoder: None,
    };
    match &opts.encode {
        None => remux(input, opts, codec, (start, end), &mut got)?,
        Some(enc) => reencode(input, opts, codec, enc, (start, end), &mut got)?,
    }
    if got.frames == 0 {
        let _ = std::fs::remove_file(&output);
        return Err(OfflineError::Nothing {
            path: input.to_owned(),
            reason: format!(
                "camera {:?} has no keyframe in frames {start}..={end}: nothing exported",
                opts.label
            ),
        });
    }
    Ok(got)
}

fn remux(
    input: &Path,
    opts: &ExportOptions,
    codec: Codec,
    range: (u64, u64),
    got: &mut Exported,
) -> Result<(), OfflineError> {
    let mut mp4: Option<Mp4Sink> = None;
    for_each_unit(input, &opts.label, range, |_, unit| {
        let keyframe = is_keyframe(codec, &unit.data);
        if mp4.is_none() {
            if !keyframe {
                got.skipped_to_keyframe += 1;
                return Ok(true);
            }
            mp4 = Some(Mp4Sink::open(&got.output, codec, None)?);
        }
        let first = *got.first_capture_ns.get_or_insert(unit.capture_ns);
        let t = unit.capture_ns.saturating_sub(first);
        mp4.as_mut().expect("opened above").push(&AccessUnit {
            codec,
            data: unit.data,
            pts_ns: t,
            dts_ns: t as i64,
            keyframe,
            capture_ts_ns: unit.capture_ns,
            width: 0,
            height: 0,
            frame_rate: None,
        })?;
        got.last_capture_ns = Some(unit.capture_ns);
        got.frames += 1;
        Ok(true)
    })?;
    if let Some(mut m) = mp4 {
        m.close()?;
    }
    Ok(())
}

/// The frame rate of a camera from its capture times (30 when unknown).
pub fn rate_of(times: &[u64]) -> f64 {
    match (times.first(), times.last()) {
        (Some(a), Some(b)) if b > a && times.len() > 1 => {
            (times.len() - 1) as f64 * 1e9 / (b - a) as f64
        }
        _ => 30.0,
    }
}

fn reencode(
    input: &Path,
    opts: &ExportOptions,
    codec: Codec,
    enc: &EncodeOptions,
    (start, end): (u64, u64),
    got: &mut Exported,
) -> Result<(), OfflineError> {
    // Decoding starts at the camera's first keyframe (frames before the
    // range are decoded and dropped); capture times are kept by index.
    let mut decoder = Decoder::new(codec, PixelLayout::I420, &format!("camera {}", opts.label))?;
    let mut captures: Vec<(u64, u64)> = Vec::new();
    let mut started = false;
    let mut encoder: Option<Mp4Encoder> = None;
    let mut rate_sample: Vec<u64> = Vec::new();
    let mut pending = Vec::new();
    let mut handle = |pics: Vec<super::decode::Picture>,
                      captures: &mut Vec<(u64, u64)>,
                      rate_sample: &[u64],
                      got: &mut Exported|
     -> Result<(), OfflineError> {
        for pic in pics {
            // The decoder keeps the order; the picture's pts is its index.
            let index = pic.pts_ns;
            let Some(pos) = captures.iter().position(|&(i, _)| i == index) else {
                continue;
            };
            let (_, capture) = captures.remove(pos);
            if index < start || index > end {
                continue;
            }
            if encoder.is_none() {
                encoder = Some(Mp4Encoder::open(
                    &got.output,
                    enc,
                    (pic.width, pic.height),
                    rate_of(rate_sample),
                )?);
            }
            let first = *got.first_capture_ns.get_or_insert(capture);
            encoder.as_mut().expect("opened above").picture(
                pic,
                capture,
                capture - first.min(capture),
            )?;
            got.last_capture_ns = Some(capture);
            got.frames += 1;
        }
        Ok(())
    };
    for_each_unit(input, &opts.label, (0, end), |index, unit| {
        if !started {
            if !is_keyframe(codec, &unit.data) {
                if index >= start {
                    got.skipped_to_keyframe += 1;
                }
                return Ok(true);
            }
            started = true;
        }
        if rate_sample.len() < 64 {
            rate_sample.push(unit.capture_ns);
        }
        captures.push((index, unit.capture_ns));
        // The pts carries the index through the decoder.
        pending.extend(decoder.push(unit.data, index)?);
        // The encoder opens with the first picture; wait for a few
        // capture times to know the rate.
        if rate_sample.len() >= 8 || index >= end {
            handle(
                std::mem::take(&mut pending),
                &mut captures,
                &rate_sample,
                got,
            )?;
        }
        Ok(true)
    })?;
    pending.extend(decoder.finish()?);
    handle(pending, &mut captures, &rate_sample, got)?;
    if let Some(e) = encoder {
        got.encoder = Some(e.finish()?);
    }
    Ok(())
}
