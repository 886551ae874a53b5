//! Which GStreamer encoder elements exist, and how each is configured for
//! low latency. NVENC comes from the nvcodec plugin: on GStreamer 1.22 either
//! the older `nvh264enc`/`nvh265enc` or the CUDA-mode
//! `nvcudah264enc`/`nvcudah265enc`, whichever this host has.

use gstreamer as gst;
use gstreamer::prelude::*;
use tracing::debug;

use super::{Codec, EncoderSettings};

/// Encoder family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Nvenc,
    Software,
}

/// NVENC element names in order of preference.
pub fn nvenc_candidates(codec: Codec) -> &'static [&'static str] {
    match codec {
        Codec::H264 => &["nvh264enc", "nvcudah264enc"],
        Codec::H265 => &["nvh265enc", "nvcudah265enc"],
    }
}

/// The software element and the package that provides it.
pub fn software_element(codec: Codec) -> (&'static str, &'static str) {
    match codec {
        Codec::H264 => ("x264enc", "install gstreamer1.0-plugins-ugly"),
        Codec::H265 => ("x265enc", "install gstreamer1.0-plugins-bad"),
    }
}

/// Finds a usable NVENC element: installed, and able to open the device
/// (reaching READY opens the CUDA context). `Err` says why not.
pub fn probe_nvenc(codec: Codec) -> Result<&'static str, String> {
    let candidates = nvenc_candidates(codec);
    let mut why = Vec::new();
    for &name in candidates {
        if gst::ElementFactory::find(name).is_none() {
            continue;
        }
        let element = match gst::ElementFactory::make(name).build() {
            Ok(e) => e,
            Err(e) => {
                why.push(format!("{name} cannot be created ({e})"));
                continue;
            }
        };
        let ready = element.set_state(gst::State::Ready);
        let _ = element.set_state(gst::State::Null);
        match ready {
            Ok(_) => return Ok(name),
            Err(_) => why.push(format!("{name} failed to open the GPU encoder")),
        }
    }
    if why.is_empty() {
        Err(format!(
            // nvcodec registers its encoders only where a GPU can open an
            // NVENC session: the plugin may be installed on a GPU without
            // NVENC (A100, H100, H200) and still register none.
            "NVENC is absent: no {} element is registered (GStreamer nvcodec plugin missing, or no GPU with NVENC)",
            candidates.join(" or ")
        ))
    } else {
        Err(format!("NVENC is absent or unusable: {}", why.join("; ")))
    }
}

/// Sets a property only where the element has it (the nvcodec elements
/// differ between versions); enums and flags are given as strings.
fn set_str(element: &gst::Element, name: &str, value: &str) {
    if element.has_property(name) {
        element.set_property_from_str(name, value);
    } else {
        debug!(element = %element.name(), property = name, "property not present; skipped");
    }
}

fn set_u32(element: &gst::Element, name: &str, value: u32) {
    if let Some(pspec) = element.find_property(name) {
        if pspec.value_type() == i32::static_type() {
            element.set_property(name, value.min(i32::MAX as u32) as i32);
        } else {
            element.set_property(name, value);
        }
    }
}

/// Builds and configures `name` for the lowest latency at `settings`.
pub fn make(name: &str, settings: &EncoderSettings) -> Result<gst::Element, gst::glib::BoolError> {
    let e = gst::ElementFactory::make(name).build()?;
    let s = settings;
    match name {
        "x264enc" => {
            set_str(&e, "tune", "zerolatency");
            set_str(&e, "speed-preset", &s.preset);
            set_u32(&e, "key-int-max", s.gop);
            set_u32(&e, "bframes", s.b_frames);
            set_u32(&e, "bitrate", s.bitrate_kbps);
            e.set_property("byte-stream", true);
            e.set_property("aud", false);
        }
        "x265enc" => {
            set_str(&e, "speed-preset", &s.preset);
            set_u32(&e, "key-int-max", s.gop);
            set_u32(&e, "bitrate", s.bitrate_kbps);
            // x265 repeats VPS/SPS/PPS before every keyframe only when asked.
            let mut options = String::from("repeat-headers=1");
            if s.b_frames == 0 {
                set_str(&e, "tune", "zerolatency");
            } else {
                // x265 refuses B-frames under tune=zerolatency; spell out its
                // low-latency settings, keeping the shortest lookahead that
                // B-frames allow.
                options.push_str(&format!(
                    ":bframes={}:b-adapt=0:rc-lookahead={}:scenecut=0:cutree=0:frame-threads=1",
                    s.b_frames,
                    s.b_frames + 1
                ));
            }
            e.set_property("option-string", options);
        }
        // nvh26xenc (1.18+) and nvcudah26xenc (1.22) name their knobs differently.
        _ => {
            set_str(
                &e,
                "preset",
                if e.has_property("tune") {
                    "p1"
                } else {
                    "low-latency-hp"
                },
            );
            set_str(&e, "tune", "ultra-low-latency");
            set_str(&e, "rc-mode", "cbr");
            set_u32(&e, "gop-size", s.gop);
            set_u32(&e, "bframes", s.b_frames);
            set_u32(&e, "b-frames", s.b_frames);
            set_u32(&e, "bitrate", s.bitrate_kbps);
            set_u32(&e, "rc-lookahead", 0);
            if e.has_property("zerolatency") {
                e.set_property("zerolatency", true);
            }
            if e.has_property("repeat-sequence-header") {
                e.set_property("repeat-sequence-header", true);
            }
        }
    }
    Ok(e)
}
