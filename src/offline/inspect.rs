//! `cvmmap_tools inspect FILE.mcap --summary-only`: what a recording holds,
//! read once (channels, schemas, message counts and bytes, duration, per
//! camera its codec, picture size, frame rate and keyframes, depth unit,
//! bundle policy).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::OfflineError;
use super::decode::{Decoder, PixelLayout};
use super::export::{is_keyframe, rate_of};
use super::read::{self, Flow, Item};

/// One channel's figures.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChannelSummary {
    pub topic: String,
    pub schema: String,
    pub message_encoding: String,
    pub messages: u64,
    pub bytes: u64,
    pub first_log_ns: Option<u64>,
    pub last_log_ns: Option<u64>,
    pub metadata: BTreeMap<String, String>,
}

/// One camera's video.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CameraSummary {
    pub label: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub keyframes: u64,
    pub fps: f64,
    pub video_bytes: u64,
    /// `/<label>/depth`: its encoding and unit, when recorded.
    pub depth: Option<String>,
}

/// The whole summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub channels: Vec<ChannelSummary>,
    pub cameras: Vec<CameraSummary>,
    pub messages: u64,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub duration_s: f64,
    pub bundle_policy: Option<String>,
    pub metadata: BTreeMap<String, BTreeMap<String, String>>,
}

/// Reads `path` once and sums it up.
pub fn summarise(path: &Path) -> Result<Summary, OfflineError> {
    let mut s = Summary::default();
    let mut index: BTreeMap<u16, usize> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut first_key: BTreeMap<String, bytes::Bytes> = BTreeMap::new();
    let mut cams: BTreeMap<String, CameraSummary> = BTreeMap::new();
    read::walk(path, |item| {
        match item {
            Item::Channel(c) => {
                index.insert(c.id, s.channels.len());
                s.channels.push(ChannelSummary {
                    topic: c.topic.clone(),
                    schema: c.schema.clone(),
                    message_encoding: c.message_encoding.clone(),
                    metadata: c.metadata.clone(),
                    ..ChannelSummary::default()
                });
                if let (Some(label), Some(codec)) = (c.video_label(), c.codec()) {
                    cams.insert(
                        label.to_owned(),
                        CameraSummary {
                            label: label.to_owned(),
                            codec: codec.to_string(),
                            ..CameraSummary::default()
                        },
                    );
                }
            }
            Item::Message {
                channel,
                log_time,
                sequence,
                data,
            } => {
                s.messages += 1;
                s.start_ns = Some(s.start_ns.map_or(log_time, |t| t.min(log_time)));
                s.end_ns = Some(s.end_ns.map_or(log_time, |t| t.max(log_time)));
                if let Some(&i) = index.get(&channel.id) {
                    let c = &mut s.channels[i];
                    c.messages += 1;
                    c.bytes += data.len() as u64;
                    c.first_log_ns.get_or_insert(log_time);
                    c.last_log_ns = Some(log_time);
                }
                if let (Some(label), Some(codec)) = (channel.video_label(), channel.codec())
                    && let Some(cam) = cams.get_mut(label)
                {
                    let unit = read::video_unit(path, &channel.topic, sequence, log_time, data)?;
                    cam.frames += 1;
                    cam.video_bytes += unit.data.len() as u64;
                    if is_keyframe(codec, &unit.data) {
                        cam.keyframes += 1;
                        first_key.entry(label.to_owned()).or_insert(unit.data);
                    }
                    times
                        .entry(label.to_owned())
                        .or_default()
                        .push(unit.capture_ns);
                }
            }
            Item::Metadata { name, fields } => {
                if name == "cvmmap.recording" {
                    s.bundle_policy = fields.get("bundle_policy").cloned();
                }
                s.metadata.insert(name.to_owned(), fields.clone());
            }
        }
        Ok(Flow::Continue)
    })?;
    for (label, mut cam) in cams {
        if let Some(t) = times.get(&label) {
            cam.fps = (rate_of(t) * 100.0).round() / 100.0;
        }
        if let Some(key) = first_key.remove(&label) {
            let codec = if cam.codec == "h265" {
                crate::encode::Codec::H265
            } else {
                crate::encode::Codec::H264
            };
            let mut dec = Decoder::new(codec, PixelLayout::I420, &format!("camera {label}"))?;
            let mut pics = dec.push(key, 0)?;
            pics.extend(dec.finish()?);
            if let Some(p) = pics.first() {
                (cam.width, cam.height) = (p.width, p.height);
            }
        }
        let depth_topic = format!("/{label}/depth");
        cam.depth = s.channels.iter().find(|c| c.topic == depth_topic).map(|c| {
            format!(
                "{} ({}), {} frames",
                c.metadata.get("encoding").map_or("?", String::as_str),
                c.metadata
                    .get("unit")
                    .map_or("unit unknown", String::as_str),
                c.messages
            )
        });
        s.cameras.push(cam);
    }
    if let (Some(a), Some(b)) = (s.start_ns, s.end_ns) {
        s.duration_s = (b - a) as f64 / 1e9;
    }
    Ok(s)
}

/// The summary as text, one fact a line.
pub fn render(path: &Path, s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}", path.display());
    let _ = writeln!(
        o,
        "  {} messages over {:.3} s{}",
        s.messages,
        s.duration_s,
        s.start_ns
            .map(|t| format!(" from {}", super::timefmt::overlay(t)))
            .unwrap_or_default()
    );
    if let Some(p) = &s.bundle_policy {
        let _ = writeln!(o, "  bundle policy: {p}");
    }
    let _ = writeln!(o, "  cameras:");
    for c in &s.cameras {
        let _ = writeln!(
            o,
            "    {}: {} {}x{}, {} frames ({} keyframes), {:.2} fps, {} bytes{}",
            c.label,
            c.codec,
            c.width,
            c.height,
            c.frames,
            c.keyframes,
            c.fps,
            c.video_bytes,
            c.depth
                .as_ref()
                .map(|d| format!("; depth {d}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o, "  channels:");
    for c in &s.channels {
        let _ = writeln!(
            o,
            "    {} [{}{}]: {} messages, {} bytes",
            c.topic,
            if c.schema.is_empty() {
                "no schema"
            } else {
                &c.schema
            },
            if c.message_encoding.is_empty() {
                String::new()
            } else {
                format!(", {}", c.message_encoding)
            },
            c.messages,
            c.bytes
        );
    }
    if !s.metadata.is_empty() {
        let _ = writeln!(
            o,
            "  metadata: {}",
            s.metadata.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    o
}
