//! Whether a GStreamer element is installed, asked of `gst-inspect-1.0`.
//! Used to tell "genuinely absent" (a skip) from "present but broken" (a
//! failure) before and after a row runs.

use std::process::{Command, Stdio};

/// Some(true/false) from `gst-inspect-1.0 --exists`; None when the tool
/// itself is not installed (then nothing can be concluded).
pub fn element_exists(element: &str) -> Option<bool> {
    Command::new("gst-inspect-1.0")
        .args(["--exists", element])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}
