//! `cvmmap_tools inspect --camera-label L --frame-index N --export-preview
//! OUT.png`: the colour frame beside its depth, colour-mapped (turbo, near
//! is red; invalid depth black), with the camera, frame and capture time
//! written on it. A picture a person can read, not numbers.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::decode::{Decoder, PixelLayout, element};
use super::export::{for_each_unit, is_keyframe};
use super::read::{self, Flow, Item};
use super::{OfflineError, timefmt};

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreviewDone {
    pub output: PathBuf,
    pub width: u32,
    pub height: u32,
    pub capture_ns: u64,
    /// The depth frame's range in its unit (2nd and 98th percentiles), if
    /// the camera has depth.
    pub depth_range: Option<(f32, f32)>,
}

/// Depth values of a `foxglove.RawImage` (16UC1 or 32FC1) as f32, row by row.
fn depth_values(img: &foxglove::messages::RawImage) -> Option<Vec<f32>> {
    let (w, h, step) = (img.width as usize, img.height as usize, img.step as usize);
    let mut out = Vec::with_capacity(w * h);
    for r in 0..h {
        let row = img.data.get(r * step..r * step + step)?;
        match img.encoding.as_str() {
            "16UC1" => out.extend(
                row.chunks_exact(2)
                    .take(w)
                    .map(|b| f32::from(u16::from_le_bytes([b[0], b[1]]))),
            ),
            "32FC1" => out.extend(
                row.chunks_exact(4)
                    .take(w)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            _ => return None,
        }
    }
    (out.len() == w * h).then_some(out)
}

/// Google's Turbo colormap, polynomial fit (Mikhailov 2019), `x` in 0..1.
fn turbo(x: f32) -> [u8; 3] {
    let x = x.clamp(0.0, 1.0);
    let p = |c: [f32; 6]| {
        let v = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));
        (v.clamp(0.0, 1.0) * 255.0) as u8
    };
    [
        p([
            0.135_721_38,
            4.615_392_6,
            -42.660_324,
            132.131_08,
            -152.942_39,
            59.286_38,
        ]),
        p([
            0.091_402_61,
            2.194_188_4,
            4.842_966_6,
            -14.185_033,
            4.277_298_6,
            2.829_566,
        ]),
        p([
            0.106_673_3,
            12.641_946,
            -60.582_05,
            110.362_77,
            -89.903_11,
            27.348_25,
        ]),
    ]
}

/// The 2nd and 98th percentiles of the valid (finite, > 0) values.
fn range_of(values: &[f32]) -> Option<(f32, f32)> {
    let mut v: Vec<f32> = values
        .iter()
        .copied()
        .filter(|d| d.is_finite() && *d > 0.0)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    Some((at(0.02), at(0.98)))
}

/// `values` (`w` x `h`) colour-mapped into an RGB panel of `pw` x `ph`
/// (nearest neighbour).
fn depth_panel(
    values: &[f32],
    (w, h): (u32, u32),
    (lo, hi): (f32, f32),
    (pw, ph): (u32, u32),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(pw as usize * ph as usize * 3);
    let span = (hi - lo).max(f32::EPSILON);
    for y in 0..ph {
        let sy = (u64::from(y) * u64::from(h) / u64::from(ph)) as usize;
        for x in 0..pw {
            let sx = (u64::from(x) * u64::from(w) / u64::from(pw)) as usize;
            let d = values[sy * w as usize + sx];
            let rgb = if d.is_finite() && d > 0.0 {
                turbo(1.0 - (d - lo) / span)
            } else {
                [0, 0, 0]
            };
            out.extend_from_slice(&rgb);
        }
    }
    out
}

/// Writes the preview of frame `index` of camera `label`.
pub fn export_preview(
    path: &Path,
    label: &str,
    index: u64,
    output: &Path,
) -> Result<PreviewDone, OfflineError> {
    let codec = read::camera(path, label)?;
    // The units from the last keyframe at or before `index`, up to it.
    let mut gop: Vec<(u64, bytes::Bytes)> = Vec::new();
    let mut capture = None;
    for_each_unit(path, label, (0, index), |i, unit| {
        if is_keyframe(codec, &unit.data) {
            gop.clear();
        }
        if !gop.is_empty() || is_keyframe(codec, &unit.data) {
            gop.push((i, unit.data));
        }
        if i == index {
            capture = Some(unit.capture_ns);
        }
        Ok(true)
    })?;
    let Some(capture_ns) = capture else {
        return Err(OfflineError::Usage(format!(
            "camera {label:?} has no frame {index} in {}",
            path.display()
        )));
    };
    let mut dec = Decoder::new(codec, PixelLayout::Rgb, &format!("camera {label}"))?;
    let mut pics = Vec::new();
    for (i, data) in gop {
        pics.extend(dec.push(data, i)?);
    }
    pics.extend(dec.finish()?);
    let colour = pics
        .into_iter()
        .find(|p| p.pts_ns == index)
        .ok_or_else(|| OfflineError::Decode {
            what: format!("camera {label}"),
            reason: format!("frame {index} did not decode (no keyframe before it?)"),
        })?;
    // The depth frame of the same capture time (or the nearest).
    let depth_topic = format!("/{label}/depth");
    let mut best: Option<(u64, foxglove::messages::RawImage)> = None;
    let mut unit = String::new();
    read::walk(path, |item| {
        if let Item::Message {
            channel,
            log_time,
            data,
            ..
        } = item
            && channel.topic == depth_topic
        {
            let gap = log_time.abs_diff(capture_ns);
            unit = channel.metadata.get("unit").cloned().unwrap_or_default();
            if best.as_ref().is_none_or(|(g, _)| gap < *g) {
                best = Some((gap, read::raw_image(path, &depth_topic, data)?));
            }
            if log_time > capture_ns {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    })?;
    let (cw, ch) = (colour.width, colour.height);
    let depth = best.and_then(|(_, img)| {
        let values = depth_values(&img)?;
        let range = range_of(&values).unwrap_or((0.0, 1.0));
        let pw = ((u64::from(img.width) * u64::from(ch) / u64::from(img.height.max(1))) as u32)
            .max(2)
            & !1;
        let what = if unit.is_empty() {
            img.encoding.clone()
        } else {
            format!("{}, {unit}", img.encoding)
        };
        Some((
            depth_panel(&values, (img.width, img.height), range, (pw, ch)),
            pw,
            range,
            what,
        ))
    });
    let pw = depth.as_ref().map_or(cw, |d| d.1);
    let width = cw + pw;
    let mut canvas = vec![0u8; width as usize * ch as usize * 3];
    for y in 0..ch as usize {
        let row = &mut canvas[y * width as usize * 3..(y + 1) * width as usize * 3];
        row[..cw as usize * 3]
            .copy_from_slice(&colour.data[y * cw as usize * 3..(y + 1) * cw as usize * 3]);
        match &depth {
            Some((panel, pw, ..)) => row[cw as usize * 3..]
                .copy_from_slice(&panel[y * *pw as usize * 3..(y + 1) * *pw as usize * 3]),
            None => row[cw as usize * 3..].fill(48),
        }
    }
    let text = format!(
        "{label}  frame {index}\n{}\n{}",
        timefmt::overlay(capture_ns),
        match &depth {
            Some((_, _, (lo, hi), what)) =>
                format!("depth ({what}): {lo:.2} near (red) .. {hi:.2} far (blue)"),
            None => "no depth recorded".into(),
        }
    );
    write_png(&canvas, (width, ch), &text, output)?;
    Ok(PreviewDone {
        output: output.to_owned(),
        width,
        height: ch,
        capture_ns,
        depth_range: depth.map(|d| d.2),
    })
}

/// RGB pixels with `text` top-left, as a PNG (GStreamer's textoverlay and
/// pngenc).
fn write_png(
    rgb: &[u8],
    (w, h): (u32, u32),
    text: &str,
    output: &Path,
) -> Result<(), OfflineError> {
    let what = "the preview";
    let fail = |reason: String| OfflineError::Write {
        path: output.to_owned(),
        reason,
    };
    gst::init().map_err(|e| fail(e.to_string()))?;
    let src = gst_app::AppSrc::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "RGB")
                .field("width", w as i32)
                .field("height", h as i32)
                .field("framerate", gst::Fraction::new(1, 1))
                .build(),
        )
        .format(gst::Format::Time)
        .build();
    let c1 = element("videoconvert", what)?;
    let overlay = super::decode::corner_text(what, h / 20)?;
    overlay.set_property("text", text);
    let c2 = element("videoconvert", what)?;
    let png = element("pngenc", what)?;
    png.set_property("snapshot", true);
    let sink = element("filesink", what)?;
    sink.set_property("location", output.to_string_lossy().as_ref());
    let pipeline = gst::Pipeline::with_name("preview");
    let src_el: &gst::Element = src.upcast_ref();
    pipeline
        .add_many([src_el, &c1, &overlay, &c2, &png, &sink])
        .map_err(|e| fail(e.to_string()))?;
    gst::Element::link_many([src_el, &c1, &overlay, &c2, &png, &sink])
        .map_err(|e| fail(e.to_string()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| fail(e.to_string()))?;
    let mut buf = gst::Buffer::from_slice(rgb.to_vec());
    buf.get_mut().expect("new").set_pts(gst::ClockTime::ZERO);
    let _ = src.push_buffer(buf);
    let _ = src.end_of_stream();
    let result = pipeline
        .bus()
        .and_then(|b| {
            b.timed_pop_filtered(
                gst::ClockTime::from_seconds(30),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
        })
        .map_or(
            Err("the PNG encoder did not finish in 30 s".to_owned()),
            |m| match m.view() {
                gst::MessageView::Error(e) => Err(e.error().to_string()),
                _ => Ok(()),
            },
        );
    let _ = pipeline.set_state(gst::State::Null);
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turbo_runs_blue_to_red_and_invalid_depth_is_black() {
        // Turbo's ends are dark; blue and red come just inside them.
        let (far, near) = (turbo(0.2), turbo(0.9));
        assert!(far[2] > far[0], "{far:?}");
        assert!(near[0] > near[2], "{near:?}");
        let panel = depth_panel(&[0.0, 1.0, 2.0, f32::NAN], (2, 2), (1.0, 2.0), (2, 2));
        assert_eq!(&panel[0..3], &[0, 0, 0]);
        assert_eq!(&panel[9..12], &[0, 0, 0]);
        assert_ne!(&panel[3..6], &panel[6..9]);
        assert_eq!(range_of(&[0.0, f32::NAN, 3.0]), Some((3.0, 3.0)));
    }
}
