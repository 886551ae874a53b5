//! The bytes every side of a configuration encodes: the contract's test
//! pattern (contract §6) for frames 0..N, written once per configuration.
//!
//! - `frames.bgr`: packed BGR, what cvmmap_sim publishes for frames 0..N
//!   (its frame counter starts at 0 and the pattern is a function of it),
//!   what the streamer's dummy source reads with `--dummy-raw-file` and
//!   what gst-launch reads with `filesrc ! rawvideoparse format=bgr`;
//! - `frames.i420`: the same frames through GStreamer's `videoconvert`, for
//!   the encoder-only floor (`rawvideoparse format=i420 ! encoder`).
//!
//! Content matters: x265 costs twice as much on this pattern as on scrolled
//! SMPTE bars, so a comparison on different pictures measures the pictures.
//! Both files are removed when the configuration is done (1080p: 2.8 GB).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::plan::{Config, FPS};

/// Frame `f` of the pattern into `out` (rows of `3 * width` bytes):
/// B=(x+3f)%256, G=(2y+5f)%256, R=(x/2+y/3+7f)%256.
pub fn pattern_frame(width: u32, height: u32, f: u64, out: &mut [u8]) {
    let (w, h) = (width as usize, height as usize);
    let f = (f % 256) as usize;
    for (y, row) in out.chunks_exact_mut(w * 3).take(h).enumerate() {
        let g = ((2 * y + 5 * f) % 256) as u8;
        let r_row = y / 3 + 7 * f;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            px[0] = ((x + 3 * f) % 256) as u8;
            px[1] = g;
            px[2] = ((x / 2 + r_row) % 256) as u8;
        }
    }
}

/// The two files of one configuration.
#[derive(Debug)]
pub struct FrameFiles {
    pub bgr: PathBuf,
    pub i420: PathBuf,
}

impl FrameFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            bgr: dir.join("frames.bgr"),
            i420: dir.join("frames.i420"),
        }
    }

    /// Writes `frames.bgr`; `frames.i420` is made from it by gst-launch
    /// ([`i420_description`]).
    pub fn write_bgr(&self, cfg: &Config, frames: u64) -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&self.bgr)?);
        let mut frame = vec![0u8; bgr_bytes(cfg)];
        for f in 0..frames {
            pattern_frame(cfg.width, cfg.height, f, &mut frame);
            out.write_all(&frame)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_data()
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.bgr);
        let _ = std::fs::remove_file(&self.i420);
    }
}

pub fn bgr_bytes(cfg: &Config) -> usize {
    cfg.width as usize * cfg.height as usize * 3
}

/// `rawvideoparse` for the BGR file at the bench's nominal rate.
pub fn parse_bgr(cfg: &Config) -> String {
    format!(
        "rawvideoparse format=bgr width={} height={} framerate={FPS}/1",
        cfg.width, cfg.height
    )
}

/// The gst-launch description that converts the BGR file to I420.
pub fn i420_description(cfg: &Config, files: &FrameFiles) -> String {
    format!(
        "filesrc location={} blocksize={} ! {} ! videoconvert ! video/x-raw,format=I420 \
         ! filesink location={}",
        files.bgr.display(),
        bgr_bytes(cfg),
        parse_bgr(cfg),
        files.i420.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::Codec;

    #[test]
    fn pattern_matches_the_contract_formula() {
        let mut f = vec![0u8; 16 * 9 * 3];
        pattern_frame(16, 9, 5, &mut f);
        let px = |x: usize, y: usize| &f[(y * 16 + x) * 3..][..3];
        assert_eq!(px(0, 0), [15, 25, 35]);
        assert_eq!(px(10, 6), [25, 37, 42]);
        // f=100, (300,200) in a wide frame: B=88, G=132, R=148.
        let mut wide = vec![0u8; 320 * 201 * 3];
        pattern_frame(320, 201, 100, &mut wide);
        assert_eq!(&wide[(200 * 320 + 300) * 3..][..3], [88, 132, 148]);
    }

    #[test]
    fn writes_every_frame_back_to_back() {
        let dir = std::env::temp_dir().join(format!("bench-frames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = FrameFiles::in_dir(&dir);
        let cfg = Config {
            width: 16,
            height: 8,
            codec: Codec::H264,
        };
        files.write_bgr(&cfg, 3).unwrap();
        let bytes = std::fs::read(&files.bgr).unwrap();
        assert_eq!(bytes.len(), 3 * bgr_bytes(&cfg));
        let mut third = vec![0u8; bgr_bytes(&cfg)];
        pattern_frame(16, 8, 2, &mut third);
        assert_eq!(&bytes[2 * bgr_bytes(&cfg)..], &third[..]);
        files.remove();
        assert!(!files.bgr.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
