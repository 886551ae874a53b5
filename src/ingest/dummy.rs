//! The in-process dummy source (`--input-mode dummy`): the contract's test
//! pattern (contract §6) as BGR frames, paced at a fixed rate, with wall-clock
//! capture timestamps. It exercises the encoder and outputs without a producer.
//! With `--dummy-raw-file` the frames are read from a file of packed BGR
//! frames instead (looped), so a benchmark can feed the streamer and a
//! file-fed GStreamer pipeline the same bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::warn;

use super::{Form, Frame, FramePool, LatestQueue, VideoGeometry};
use crate::contract::PixelFormat;
use crate::telemetry::{IngestCounters, incr};

#[derive(Debug, Clone)]
pub struct DummyConfig {
    pub label: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Frames to produce (0: until stopped).
    pub frames: u64,
    /// Packed BGR frames to read (looped) instead of generating the
    /// pattern; the configuration checked that it holds whole frames.
    pub raw_file: Option<PathBuf>,
}

/// Where the dummy's pixels come from.
enum Pixels {
    Pattern,
    /// The file and how many frames it holds.
    File(File, u64),
}

impl Pixels {
    fn open(cfg: &DummyConfig, frame_bytes: u64) -> Self {
        let Some(path) = &cfg.raw_file else {
            return Self::Pattern;
        };
        match File::open(path).and_then(|f| Ok((f.metadata()?.len(), f))) {
            Ok((len, f)) if len >= frame_bytes && frame_bytes > 0 => {
                Self::File(f, len / frame_bytes)
            }
            Ok((len, _)) => {
                warn!(path = %path.display(), len, "raw file holds no whole frame; generating the pattern");
                Self::Pattern
            }
            Err(e) => {
                warn!(path = %path.display(), error = %e, "raw file unreadable; generating the pattern");
                Self::Pattern
            }
        }
    }

    fn fill(&self, data: &mut [u8], cfg: &DummyConfig, f: u64) {
        match self {
            Self::Pattern => fill_test_pattern(data, cfg.width, cfg.height, f),
            Self::File(file, n) => {
                let at = (f % n) * data.len() as u64;
                if let Err(e) = file.read_exact_at(data, at) {
                    // Checked at start-up; a file cut short since is the
                    // pattern's business from then on.
                    warn!(error = %e, frame = f, "raw file read failed; pattern used for this frame");
                    fill_test_pattern(data, cfg.width, cfg.height, f);
                }
            }
        }
    }
}

/// Writes frame `f` of the contract's BGR test pattern:
/// B=(x+3f)%256, G=(2y+5f)%256, R=(x/2+y/3+7f)%256.
pub fn fill_test_pattern(data: &mut [u8], width: u32, height: u32, f: u64) {
    let (w, h) = (width as usize, height as usize);
    let f = f as usize;
    for (y, row) in data.chunks_exact_mut(w * 3).take(h).enumerate() {
        let g = ((2 * y + 5 * f) % 256) as u8;
        let r_base = y / 3 + 7 * f;
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            px[0] = ((x + 3 * f) % 256) as u8;
            px[1] = g;
            px[2] = ((x / 2 + r_base) % 256) as u8;
        }
    }
}

fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Produces frames into `queue` until `cfg.frames` or `stop`.
pub fn run_dummy(
    cfg: &DummyConfig,
    queue: &LatestQueue<Frame>,
    stats: &IngestCounters,
    stop: &AtomicBool,
) {
    let geometry = VideoGeometry {
        pixel_format: PixelFormat::Bgr,
        width: cfg.width,
        height: cfg.height,
        stride: cfg.width as usize * 3,
    };
    let pixels = Pixels::open(cfg, geometry.plane_bytes() as u64);
    let pool = FramePool::new();
    let interval = Duration::from_secs_f64(1.0 / cfg.fps);
    let start = Instant::now();
    let mut f = 0u64;
    while !stop.load(Ordering::Relaxed) && (cfg.frames == 0 || f < cfg.frames) {
        let mut data = pool.take(geometry.plane_bytes());
        pixels.fill(&mut data, cfg, f);
        let frame = Frame {
            frame_count: f as u32,
            capture_ts_ns: wall_clock_ns(),
            geometry,
            data,
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        };
        if queue.push(frame).is_some() {
            incr(&stats.frames_dropped_queue);
        }
        incr(&stats.frames_ingested);
        f += 1;
        // Absolute deadlines: no drift. Sleep in short slices to notice `stop`.
        let deadline = start + interval.mul_f64(f as f64);
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_the_contract_formula() {
        let (w, h) = (16u32, 9u32);
        let mut d = vec![0u8; (w * h * 3) as usize];
        fill_test_pattern(&mut d, w, h, 5);
        let px = |x: usize, y: usize| &d[(y * w as usize + x) * 3..][..3];
        assert_eq!(px(0, 0), [15, 25, 35]);
        assert_eq!(
            px(10, 6),
            [(10 + 15) as u8, (12 + 25) as u8, (5 + 2 + 35) as u8]
        );
    }

    #[test]
    fn produces_the_requested_number_of_frames() {
        let q = LatestQueue::new(16);
        let stats = IngestCounters::default();
        let cfg = DummyConfig {
            label: "t".into(),
            width: 8,
            height: 4,
            fps: 1000.0,
            frames: 5,
            raw_file: None,
        };
        run_dummy(&cfg, &q, &stats, &AtomicBool::new(false));
        assert_eq!(q.len(), 5);
        assert_eq!(stats.snapshot().frames_ingested, 5);
    }

    #[test]
    fn a_raw_file_is_played_frame_by_frame_and_looped() {
        let (w, h) = (8u32, 4u32);
        let frame = (w * h * 3) as usize;
        let path = std::env::temp_dir().join(format!("cvmmap-dummy-{}.bgr", std::process::id()));
        let bytes: Vec<u8> = (0..2 * frame)
            .map(|i| (i / frame * 100 + i % 7) as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        let q = LatestQueue::new(16);
        let cfg = DummyConfig {
            label: "t".into(),
            width: w,
            height: h,
            fps: 1000.0,
            frames: 3,
            raw_file: Some(path.clone()),
        };
        run_dummy(
            &cfg,
            &q,
            &IngestCounters::default(),
            &AtomicBool::new(false),
        );
        std::fs::remove_file(&path).ok();
        let got: Vec<Vec<u8>> = std::iter::from_fn(|| match q.pop_timeout(Duration::ZERO) {
            crate::queue::Pop::Item(f) => Some(f.data.to_vec()),
            _ => None,
        })
        .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], bytes[..frame]);
        assert_eq!(got[1], bytes[frame..]);
        assert_eq!(got[2], bytes[..frame], "the file loops");
    }
}
