//! The `gst-launch-1.0` pipelines the streamer is compared with:
//!
//! - the equivalent pipeline: the same frames (the BGR file of
//!   [`super::frames`]), the same forced I420 conversion, the same encoder
//!   element with the properties `src/encode/elements.rs` sets, the same
//!   output caps (byte-stream, whole access units) and RTP payload type and
//!   MTU, sent over UDP to 127.0.0.1;
//! - the encoder-only floor: the same element and properties fed the same
//!   frames already converted to I420, into `fakesink`: what encoding alone
//!   costs, so that each side's overhead is its total minus the floor;
//! - a labelled extra: the equivalent pipeline fed `videotestsrc` SMPTE bars
//!   instead (the comparison before issue 14; other content, other cost).

use std::path::Path;
use std::process::{Command, Stdio};

use super::frames::{FrameFiles, bgr_bytes, parse_bgr};
use super::plan::{B_FRAMES, BITRATE_KBPS, Codec, Config, FPS, GOP, MTU, PAYLOAD_TYPE};

/// The extra's source: SMPTE bars scrolled 3 px a frame (every frame
/// changes; x265 finds them about half as costly as the contract pattern).
pub const PATTERN: &str = "smpte";
pub const PATTERN_SPEED: u32 = 3;

/// Where a gst-launch run's frames come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The configuration's BGR file: the same bytes as the streamer's.
    File(&'a FrameFiles),
    /// The extra: videotestsrc's scrolled SMPTE bars.
    Smpte,
}

/// How the source is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the pipeline goes (non-live source, unsynchronised sink).
    Unpaced,
    /// A live source producing [`FPS`] frames per second in real time.
    Live,
}

/// Property names of `element` from `gst-inspect-1.0 ELEMENT` (the lines of
/// its "Element Properties" section); empty when it cannot be inspected.
pub fn element_properties(element: &str) -> Vec<String> {
    let out = Command::new("gst-inspect-1.0")
        .arg(element)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return Vec::new() };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut props = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Element Properties") {
            inside = true;
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with(' ') {
            break; // the next section
        }
        // "  name                : description" (two spaces, then the name).
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        if rest.starts_with(' ') {
            continue; // a continuation line
        }
        if let Some((name, _)) = rest.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                props.push(name.to_owned());
            }
        }
    }
    props
}

/// The encoder's properties as `elements::make` sets them. `has` says
/// whether the installed element has a property: the streamer skips absent
/// ones (nvcodec elements differ between versions), and gst-launch would
/// refuse them.
pub fn encoder_properties(
    element: &str,
    codec: Codec,
    has: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| {
        if has(k) {
            p.push((k.to_owned(), v));
        }
    };
    match element {
        "x264enc" => {
            set("tune", "zerolatency".into());
            set("speed-preset", codec.preset().into());
            set("key-int-max", GOP.to_string());
            set("bframes", B_FRAMES.to_string());
            set("bitrate", BITRATE_KBPS.to_string());
            set("byte-stream", "true".into());
            set("aud", "false".into());
        }
        "x265enc" => {
            set("speed-preset", codec.preset().into());
            set("key-int-max", GOP.to_string());
            set("bitrate", BITRATE_KBPS.to_string());
            // B_FRAMES is 0: the streamer then uses tune=zerolatency and
            // only asks x265 to repeat the parameter sets.
            set("tune", "zerolatency".into());
            set("option-string", "\"repeat-headers=1\"".into());
        }
        _ => {
            let preset = if has("tune") { "p1" } else { "low-latency-hp" };
            set("preset", preset.into());
            set("tune", "ultra-low-latency".into());
            set("rc-mode", "cbr".into());
            set("gop-size", GOP.to_string());
            set("bframes", B_FRAMES.to_string());
            set("b-frames", B_FRAMES.to_string());
            set("bitrate", BITRATE_KBPS.to_string());
            set("rc-lookahead", "0".into());
            set("zerolatency", "true".into());
            set("repeat-sequence-header", "true".into());
        }
    }
    p
}

fn encoder(element: &str, props: &[(String, String)]) -> String {
    std::iter::once(element.to_owned())
        .chain(props.iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file source at the nominal rate: as fast as it goes, or paced by
/// `clocksync` to the pipeline clock (one frame every 1/FPS s, as a camera).
fn file_source(location: &Path, blocksize: usize, parse: &str, pace: Pace) -> String {
    let sync = match pace {
        Pace::Unpaced => "",
        Pace::Live => " ! clocksync",
    };
    format!(
        "filesrc location={} blocksize={blocksize} ! {parse}{sync}",
        location.display()
    )
}

/// The equivalent pipeline's description (what `gst-launch-1.0` parses),
/// for `frames` frames of `cfg` encoded with `element` and sent to
/// 127.0.0.1:`port`.
pub fn describe(
    cfg: &Config,
    element: &str,
    props: &[(String, String)],
    source: Source,
    frames: u64,
    pace: Pace,
    port: u16,
) -> String {
    let source = match source {
        Source::File(files) => format!(
            "{} ! videoconvert",
            file_source(&files.bgr, bgr_bytes(cfg), &parse_bgr(cfg), pace)
        ),
        Source::Smpte => {
            let live = match pace {
                Pace::Unpaced => "false",
                Pace::Live => "true",
            };
            format!(
                "videotestsrc num-buffers={frames} pattern={PATTERN} horizontal-speed={PATTERN_SPEED} is-live={live} \
                 ! video/x-raw,format=BGR,width={w},height={h},framerate={FPS}/1 ! videoconvert",
                w = cfg.width,
                h = cfg.height,
            )
        }
    };
    format!(
        "{source} ! video/x-raw,format=I420 \
         ! {encoder} \
         ! {caps},stream-format=byte-stream,alignment=au \
         ! {pay} pt={PAYLOAD_TYPE} mtu={MTU} \
         ! udpsink host=127.0.0.1 port={port} sync=false async=false",
        encoder = encoder(element, props),
        caps = cfg.codec.caps(),
        pay = cfg.codec.payloader(),
    )
}

/// The encoder-only floor: the I420 file into the encoder into `fakesink`.
pub fn describe_floor(
    cfg: &Config,
    element: &str,
    props: &[(String, String)],
    files: &FrameFiles,
    pace: Pace,
) -> String {
    let i420 = cfg.width as usize * cfg.height as usize * 3 / 2;
    let parse = format!(
        "rawvideoparse format=i420 width={} height={} framerate={FPS}/1",
        cfg.width, cfg.height
    );
    format!(
        "{} ! {} ! {},stream-format=byte-stream,alignment=au ! fakesink sync=false async=false",
        file_source(&files.i420, i420, &parse, pace),
        encoder(element, props),
        cfg.codec.caps(),
    )
}

/// `gst-launch-1.0` arguments for `description`: `-e` so that the end of the
/// source drains the encoder before the process exits; the description is
/// split on blanks as a shell would (gst-launch joins its arguments again).
pub fn launch_args(description: &str) -> Vec<String> {
    std::iter::once("-e".to_owned())
        .chain(description.split_whitespace().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x264_matches_the_streamer() {
        let cfg = Config {
            width: 640,
            height: 360,
            codec: Codec::H264,
        };
        let props = encoder_properties("x264enc", cfg.codec, &|_| true);
        let files = FrameFiles::in_dir(Path::new("/b"));
        let d = describe(
            &cfg,
            "x264enc",
            &props,
            Source::File(&files),
            300,
            Pace::Unpaced,
            5004,
        );
        assert!(!d.contains("clocksync"), "{d}");
        let live = describe(
            &cfg,
            "x264enc",
            &props,
            Source::File(&files),
            300,
            Pace::Live,
            5004,
        );
        assert!(live.contains("rawvideoparse format=bgr width=640 height=360 framerate=30/1 ! clocksync ! videoconvert"), "{live}");
        let smpte = describe(
            &cfg,
            "x264enc",
            &props,
            Source::Smpte,
            300,
            Pace::Unpaced,
            5004,
        );
        assert!(
            smpte.contains("num-buffers=300") && smpte.contains("is-live=false"),
            "{smpte}"
        );
        let floor = describe_floor(&cfg, "x264enc", &props, &files, Pace::Unpaced);
        assert!(
            floor.starts_with(
                "filesrc location=/b/frames.i420 blocksize=345600 ! rawvideoparse format=i420"
            ),
            "{floor}"
        );
        assert!(
            floor.contains(
                "aud=false ! video/x-h264,stream-format=byte-stream,alignment=au ! fakesink"
            ),
            "{floor}"
        );
        for part in [
            "filesrc location=/b/frames.bgr blocksize=691200",
            "rawvideoparse format=bgr width=640 height=360 framerate=30/1",
            "videoconvert ! video/x-raw,format=I420",
            "x264enc tune=zerolatency speed-preset=superfast key-int-max=30 bframes=0 bitrate=2500 byte-stream=true aud=false",
            "video/x-h264,stream-format=byte-stream,alignment=au",
            "rtph264pay pt=96 mtu=1400",
            "udpsink host=127.0.0.1 port=5004 sync=false",
        ] {
            assert!(d.contains(part), "{part} not in {d}");
        }
        assert_eq!(launch_args(&d)[0], "-e");
    }

    #[test]
    fn x265_and_nvenc_properties() {
        let p = encoder_properties("x265enc", Codec::H265, &|_| true);
        assert!(p.contains(&("option-string".into(), "\"repeat-headers=1\"".into())));
        assert!(p.contains(&("speed-preset".into(), "ultrafast".into())));
        // An older nvh264enc without `tune`: the old preset name, and only
        // the properties it has.
        let has = |k: &str| ["preset", "gop-size", "bitrate", "rc-mode"].contains(&k);
        let p = encoder_properties("nvh264enc", Codec::H264, &has);
        assert_eq!(
            p.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            [
                "preset=low-latency-hp",
                "rc-mode=cbr",
                "gop-size=30",
                "bitrate=2500"
            ]
        );
    }

    #[test]
    fn parses_inspect_output() {
        if crate::gst::element_exists("x264enc") != Some(true) {
            return; // nothing to inspect on this host
        }
        let props = element_properties("x264enc");
        for p in [
            "tune",
            "speed-preset",
            "key-int-max",
            "bframes",
            "byte-stream",
        ] {
            assert!(props.iter().any(|x| x == p), "{p} not in {props:?}");
        }
    }
}
