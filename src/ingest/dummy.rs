//! The in-process dummy source (`--input-mode dummy`): the contract's test
//! pattern (contract §6) as BGR frames, paced at a fixed rate, with wall-clock
//! capture timestamps. It exercises the encoder and outputs without a producer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Frame, LatestQueue, VideoGeometry};
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
    let interval = Duration::from_secs_f64(1.0 / cfg.fps);
    let start = Instant::now();
    let mut f = 0u64;
    while !stop.load(Ordering::Relaxed) && (cfg.frames == 0 || f < cfg.frames) {
        let mut data = vec![0u8; geometry.plane_bytes()];
        fill_test_pattern(&mut data, cfg.width, cfg.height, f);
        let frame = Frame {
            frame_count: f as u32,
            capture_ts_ns: wall_clock_ns(),
            geometry,
            data,
            encoded: None,
            frame_rate: None,
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
        };
        run_dummy(&cfg, &q, &stats, &AtomicBool::new(false));
        assert_eq!(q.len(), 5);
        assert_eq!(stats.snapshot().frames_ingested, 5);
    }
}
