//! What this host can encode with, and why: the GStreamer runtime, per
//! codec whether NVENC is usable (and if not, why) and whether the software
//! encoder is installed, and what `--encoder-device auto` would pick. For
//! `cvmmap_streamer --version` and `cvmmap_streamer probe`.

use std::fmt::Write as _;

use gstreamer as gst;

use super::elements::{probe_nvenc, software_element};
use super::{Codec, EncodeError};

/// One codec's encoders.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CodecEncoders {
    pub codec: String,
    /// The usable NVENC element, if any.
    pub nvenc: Option<String>,
    /// Why NVENC is not usable (empty when it is).
    pub nvenc_reason: String,
    pub software: String,
    pub software_installed: bool,
    /// What to install when it is not.
    pub software_hint: String,
    /// What `--encoder-device auto` would encode with (none: exit 5).
    pub auto_uses: Option<String>,
}

/// The host's encoders.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inventory {
    /// The GStreamer library loaded at run time (`gst_version_string`).
    pub gstreamer: String,
    /// NVIDIA device nodes (`/dev/nvidia0`, ...): a GPU is visible.
    pub gpu_devices: Vec<String>,
    pub codecs: Vec<CodecEncoders>,
}

/// Looks (initialises GStreamer; opens an NVENC session to test it).
pub fn inventory() -> Result<Inventory, EncodeError> {
    super::gst::ensure_init()?;
    let mut gpu_devices: Vec<String> = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.strip_prefix("nvidia").is_some_and(|rest| {
                        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit())
                    })
                })
                .map(|n| format!("/dev/{n}"))
                .collect()
        })
        .unwrap_or_default();
    gpu_devices.sort();
    let codecs = [Codec::H264, Codec::H265]
        .into_iter()
        .map(|codec| {
            let (software, hint) = software_element(codec);
            let installed = gst::ElementFactory::find(software).is_some();
            let nvenc = probe_nvenc(codec);
            let auto_uses = match &nvenc {
                Ok(e) => Some((*e).to_owned()),
                Err(_) if installed => Some(software.to_owned()),
                Err(_) => None,
            };
            CodecEncoders {
                codec: codec.to_string(),
                nvenc: nvenc.as_ref().ok().map(|e| (*e).to_owned()),
                nvenc_reason: nvenc.err().unwrap_or_default(),
                software: software.to_owned(),
                software_installed: installed,
                software_hint: hint.to_owned(),
                auto_uses,
            }
        })
        .collect();
    Ok(Inventory {
        gstreamer: gst::version_string().to_string(),
        gpu_devices,
        codecs,
    })
}

/// The inventory as lines a person reads.
pub fn render(inv: &Inventory) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "GStreamer: {}", inv.gstreamer);
    let _ = writeln!(
        o,
        "GPU devices: {}",
        if inv.gpu_devices.is_empty() {
            "none visible (no /dev/nvidiaN)".to_owned()
        } else {
            inv.gpu_devices.join(", ")
        }
    );
    for c in &inv.codecs {
        let nvenc = match &c.nvenc {
            Some(e) => format!("{e} usable"),
            None => c.nvenc_reason.clone(),
        };
        let software = if c.software_installed {
            format!("{} installed", c.software)
        } else {
            format!("{} missing ({})", c.software, c.software_hint)
        };
        let auto = c.auto_uses.as_deref().unwrap_or("nothing (exit 5)");
        let _ = writeln!(
            o,
            "{}: NVENC: {nvenc}; software: {software}; auto uses {auto}",
            c.codec
        );
    }
    o
}
