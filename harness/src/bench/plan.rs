//! What a bench run measures: the frame sizes, codecs and frame count from
//! the command line, and the encoder settings both sides are given. The
//! settings are spelled out to the streamer too (rather than left to its
//! defaults), so that "the same settings" holds even if a default changes.

use super::BenchError;

/// Frames per second of the paced runs (a camera's rate) and the nominal
/// framerate in the unpaced runs' caps.
pub const FPS: u32 = 30;
/// Keyframe interval, B-frames and target rate: the streamer's defaults.
pub const GOP: u32 = 30;
pub const B_FRAMES: u32 = 0;
pub const BITRATE_KBPS: u32 = 2500;
/// RTP payload type and MTU: the streamer's defaults, and rtpXpay's.
pub const PAYLOAD_TYPE: u8 = 96;
pub const MTU: u32 = 1400;
/// The streamer's ingest queue in the paced runs: its default (latest frame
/// only), as run in production, so the latency is the one users get.
pub const QUEUE_SIZE: u32 = 1;
/// ... and in the unpaced run: the largest it takes. The dummy source does
/// not wait for the encoder; a deep queue rides out the encoder's start-up
/// and drops frames only under sustained overload, so the run measures the
/// encoder's rate rather than how many frames a one-slot queue lost while
/// the pipeline was being built. Its memory then includes the backlog.
pub const UNPACED_QUEUE_SIZE: u32 = 64;

pub const DEFAULT_SIZES: &str = "640x360,1280x720,1920x1080";
pub const DEFAULT_CODECS: &str = "h264,h265";
pub const DEFAULT_FRAMES: u64 = 300;
/// `--quick`: small enough for the test suite on a loaded two-core host,
/// long enough (2 s paced) for a few dozen latency samples.
pub const QUICK_SIZE: (u32, u32) = (320, 180);
pub const QUICK_FRAMES: u64 = 60;
/// Rounds per configuration: every side measured this many times and the
/// goals judged on each figure's median (one 300-frame run varies by
/// +-0.5 ms/frame for x264 and +-1.5 ms for x265 here, more than the
/// overhead judged). `--quick` takes one.
pub const DEFAULT_ROUNDS: u32 = 3;
pub const MAX_ROUNDS: u32 = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        }
    }

    /// The streamer's default `--preset` for this codec (README, flags).
    pub fn preset(self) -> &'static str {
        match self {
            Codec::H264 => "superfast",
            Codec::H265 => "ultrafast",
        }
    }

    /// The software encoder the streamer falls back to.
    pub fn software_element(self) -> &'static str {
        match self {
            Codec::H264 => "x264enc",
            Codec::H265 => "x265enc",
        }
    }

    pub fn payloader(self) -> &'static str {
        match self {
            Codec::H264 => "rtph264pay",
            Codec::H265 => "rtph265pay",
        }
    }

    pub fn caps(self) -> &'static str {
        match self {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
        }
    }
}

/// One size x codec pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub width: u32,
    pub height: u32,
    pub codec: Codec,
}

impl Config {
    /// e.g. `640x360_h264`: folder name and row id.
    pub fn id(&self) -> String {
        format!("{}x{}_{}", self.width, self.height, self.codec.as_str())
    }

    pub fn size(&self) -> String {
        format!("{}x{}", self.width, self.height)
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub configs: Vec<Config>,
    pub frames: u64,
    pub quick: bool,
    pub rounds: u32,
}

fn parse_size(s: &str) -> Result<(u32, u32), BenchError> {
    let bad = || BenchError::BadSize(s.to_owned());
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    // 4:2:0 needs even dimensions; the streamer's dummy source takes 16..=8192.
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) || w % 2 != 0 || h % 2 != 0 {
        return Err(bad());
    }
    Ok((w, h))
}

fn parse_codec(s: &str) -> Result<Codec, BenchError> {
    match s.trim() {
        "h264" => Ok(Codec::H264),
        "h265" => Ok(Codec::H265),
        other => Err(BenchError::BadCodec(other.to_owned())),
    }
}

impl Plan {
    /// Sizes x codecs (sizes outer), from the flags; `--quick` changes only
    /// what was not given explicitly.
    pub fn new(
        sizes: Option<&[String]>,
        codecs: Option<&[String]>,
        frames: Option<u64>,
        quick: bool,
    ) -> Result<Self, BenchError> {
        let sizes: Vec<(u32, u32)> = match sizes {
            Some(list) => list
                .iter()
                .map(|s| parse_size(s))
                .collect::<Result<_, _>>()?,
            None if quick => vec![QUICK_SIZE],
            None => DEFAULT_SIZES
                .split(',')
                .map(parse_size)
                .collect::<Result<_, _>>()?,
        };
        let codecs: Vec<Codec> = match codecs {
            Some(list) => list
                .iter()
                .map(|s| parse_codec(s))
                .collect::<Result<_, _>>()?,
            None if quick => vec![Codec::H264],
            None => DEFAULT_CODECS
                .split(',')
                .map(parse_codec)
                .collect::<Result<_, _>>()?,
        };
        let frames = frames.unwrap_or(if quick { QUICK_FRAMES } else { DEFAULT_FRAMES });
        // Fewer than a few dozen frames leaves too few latency samples for a
        // p99 and lets start-up dominate the throughput.
        if frames < 30 {
            return Err(BenchError::TooFewFrames(frames));
        }
        if sizes.is_empty() || codecs.is_empty() {
            return Err(BenchError::Empty);
        }
        let mut configs = Vec::new();
        for &(width, height) in &sizes {
            for &codec in &codecs {
                let c = Config {
                    width,
                    height,
                    codec,
                };
                if !configs.contains(&c) {
                    configs.push(c);
                }
            }
        }
        Ok(Self {
            configs,
            frames,
            quick,
            rounds: if quick { 1 } else { DEFAULT_ROUNDS },
        })
    }

    /// `--rounds N` (1..=9); None keeps the default.
    pub fn with_rounds(mut self, rounds: Option<u32>) -> Result<Self, BenchError> {
        match rounds {
            None => {}
            Some(n @ 1..=MAX_ROUNDS) => self.rounds = n,
            Some(n) => return Err(BenchError::BadRounds(n)),
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn defaults_and_quick() {
        let p = Plan::new(None, None, None, false).unwrap();
        assert_eq!(p.configs.len(), 6);
        assert_eq!(p.configs[0].id(), "640x360_h264");
        assert_eq!(p.configs[5].id(), "1920x1080_h265");
        assert_eq!(p.frames, DEFAULT_FRAMES);
        let q = Plan::new(None, None, None, true).unwrap();
        assert_eq!(q.configs.len(), 1);
        assert_eq!(q.configs[0].id(), "320x180_h264");
        assert_eq!(q.frames, QUICK_FRAMES);
        assert_eq!((p.rounds, q.rounds), (DEFAULT_ROUNDS, 1));
        assert_eq!(q.clone().with_rounds(Some(5)).unwrap().rounds, 5);
        assert!(q.clone().with_rounds(Some(0)).is_err());
        assert!(q.clone().with_rounds(Some(10)).is_err());
        let mixed = Plan::new(Some(&list("640x360")), None, Some(90), true).unwrap();
        assert_eq!(mixed.configs[0].id(), "640x360_h264");
        assert_eq!(mixed.frames, 90);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Plan::new(Some(&list("640")), None, None, false).is_err());
        assert!(Plan::new(Some(&list("641x360")), None, None, false).is_err());
        assert!(Plan::new(Some(&list("8x8")), None, None, false).is_err());
        assert!(Plan::new(None, Some(&list("vp8")), None, false).is_err());
        assert!(Plan::new(None, None, Some(5), false).is_err());
        let dup = Plan::new(
            Some(&list("640x360,640x360")),
            Some(&list("h265")),
            None,
            false,
        );
        assert_eq!(dup.unwrap().configs.len(), 1);
    }
}
