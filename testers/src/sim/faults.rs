//! The simulator's fault modes, for `harness faults`:
//!
//! - `--stamp`: each frame's `frame_count` as u32 LE at the start of row 0
//!   and of the last row of the video plane, so a consumer can tell a frame
//!   that mixes two writes (`cvmmap_streamer --verify-stamps`).
//! - `--torn-writes`: after frame g is published (payload, metadata, sync),
//!   frame g+1 is written *in place* a random moment later, long before its
//!   own sync: first only the metadata counter (0x0C) and timestamp (0x10)
//!   change to g+1's, then the payload is rewritten in slow chunks. Every
//!   payload modification therefore happens while the metadata already says
//!   g+1, so a copy of g that overlaps it sees the counter change (contract
//!   §2, "Producer write order and torn reads": the consumer compares the
//!   counter and timestamp before and after its copy).
//! - `--torn-order payload-first`: the same rewrite in the contract's write
//!   order: the payload first, while the metadata still says g, then the
//!   metadata, then the sync. A copy of g that overlaps it cannot see any
//!   change in the metadata: the contract's limit (no seqlock upstream).
//! - `--reset-sizes WxH,...`: the resolution each reset switches to, in turn.
//!
//! The random delay comes from a small xorshift generator: no dependency,
//! and nothing here needs more than "spread over [0, D]".

use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use serde::Serialize;

use super::layout::Geometry;

/// Chunks (row blocks) one in-place rewrite is split into.
pub const TORN_CHUNKS: usize = 8;
/// Pause between two chunks: the write stays slow enough to overlap readers.
pub const TORN_CHUNK_PAUSE: Duration = Duration::from_micros(200);

/// Writes `frame_count` (u32 LE) at the start of row 0 and of the last row.
/// The caller guarantees rows of at least 4 bytes (the CLI checks it).
pub fn stamp_frame(geom: &Geometry, frame_count: u32, payload: &mut [u8]) {
    let b = frame_count.to_le_bytes();
    let last = geom.stride as usize * (geom.height as usize - 1);
    payload[..4].copy_from_slice(&b);
    payload[last..last + 4].copy_from_slice(&b);
}

/// The two stamps of a payload (first row, last row), as a reader sees them.
pub fn read_stamps(geom: &Geometry, payload: &[u8]) -> (u32, u32) {
    let last = geom.stride as usize * (geom.height as usize - 1);
    let get = |at: usize| u32::from_le_bytes(payload[at..at + 4].try_into().expect("4 bytes"));
    (get(0), get(last))
}

/// Overwrites only the frame counter (0x0C) and timestamp (0x10) of the
/// metadata block, with volatile stores and a fence after them, so that no
/// later payload store can become visible before them.
pub fn write_frame_id(meta: &mut [u8], frame_count: u32, timestamp_ns: u64) {
    assert!(meta.len() >= 0x18);
    let count = frame_count.to_le_bytes();
    let ts = timestamp_ns.to_le_bytes();
    for (i, b) in count.iter().chain(ts.iter()).enumerate() {
        // SAFETY: 0x0C + i < 0x18 <= meta.len(), checked above.
        unsafe { std::ptr::write_volatile(meta.as_mut_ptr().add(0x0C + i), *b) };
    }
    fence(Ordering::SeqCst);
}

/// xorshift64*: good enough to spread delays, seeded per process.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            0
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

/// Which comes first in an in-place rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TornOrder {
    /// Counter and timestamp, then the payload (detectable).
    CounterFirst,
    /// The payload, then (at the frame's deadline) the metadata: the
    /// contract's order, undetectable by a before/after check.
    PayloadFirst,
}

/// `--torn-writes`: the delay before each in-place rewrite, and the rewrite.
#[derive(Clone, Debug)]
pub struct TornWriter {
    pub max_delay_us: u64,
    pub order: TornOrder,
    rng: Rng,
    /// Frames rewritten in place so far.
    pub frames_in_place: u64,
}

impl TornWriter {
    pub fn new(max_delay_us: u64, seed: u64) -> Self {
        Self {
            max_delay_us,
            order: TornOrder::CounterFirst,
            rng: Rng::new(seed),
            frames_in_place: 0,
        }
    }

    /// A random delay in [0, max_delay_us] µs.
    pub fn next_delay(&mut self) -> Duration {
        Duration::from_micros(self.rng.up_to(self.max_delay_us))
    }

    /// Rewrites the frame in place: counter and timestamp first (unless the
    /// order is payload-first: then the metadata is left to the caller),
    /// then `frame` (already rendered and stamped) into `payload` in
    /// [`TORN_CHUNKS`] row blocks with `pause` between them.
    pub fn write_in_place(
        &mut self,
        meta: &mut [u8],
        payload: &mut [u8],
        frame: &[u8],
        geom: &Geometry,
        id: (u32, u64),
        pause: Duration,
    ) {
        if self.order == TornOrder::CounterFirst {
            write_frame_id(meta, id.0, id.1);
        }
        for (i, range) in chunk_ranges(geom, TORN_CHUNKS).into_iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                std::thread::sleep(pause);
            }
            payload[range.clone()].copy_from_slice(&frame[range]);
            fence(Ordering::SeqCst);
        }
        self.frames_in_place += 1;
    }
}

/// Byte ranges of `n` row blocks covering the plane (fewer when the plane
/// has fewer rows); the first holds row 0, the last the last row.
pub fn chunk_ranges(geom: &Geometry, n: usize) -> Vec<std::ops::Range<usize>> {
    let rows = geom.height as usize;
    let stride = geom.stride as usize;
    let per = rows.div_ceil(n.max(1)).max(1);
    (0..rows)
        .step_by(per)
        .map(|r| r * stride..(r + per).min(rows) * stride)
        .collect()
}

/// Parses `--reset-sizes WxH[,WxH...]`.
pub fn parse_sizes(s: &str) -> Result<Vec<(u32, u32)>, String> {
    let sizes: Result<Vec<_>, String> = s
        .split(',')
        .map(|item| {
            let item = item.trim();
            let (w, h) = item
                .split_once(['x', 'X'])
                .ok_or_else(|| format!("`{item}` is not WxH"))?;
            let n = |v: &str| {
                v.parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("`{item}`: sizes are positive integers"))
            };
            Ok((n(w)?, n(h)?))
        })
        .collect();
    let sizes = sizes?;
    if sizes.is_empty() {
        return Err("no size given".into());
    }
    Ok(sizes)
}

/// One producer reset, as the `--json` summary lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResetEvent {
    /// Wall clock (Unix ns) when the reset happened, before its first frame.
    pub at_unix_ns: u64,
    /// Frames published before it.
    pub before_frame: u64,
    pub width: u32,
    pub height: u32,
    /// The segment was unlinked and created again (a new inode).
    pub recreated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::layout::PixelFormat;

    fn geom(w: u32, h: u32, pad: u32) -> Geometry {
        Geometry {
            width: w,
            height: h,
            stride: w * 3 + pad,
            format: PixelFormat::Bgr,
        }
    }

    #[test]
    fn stamps_first_and_last_row() {
        let g = geom(4, 3, 2);
        let mut p = vec![0xEEu8; g.payload_size() as usize];
        stamp_frame(&g, 0x0102_0304, &mut p);
        assert_eq!(&p[0..4], &[4, 3, 2, 1]);
        assert_eq!(&p[28..32], &[4, 3, 2, 1], "row 2 starts at 2*14");
        assert_eq!(p[4], 0xEE);
        assert_eq!(read_stamps(&g, &p), (0x0102_0304, 0x0102_0304));
    }

    #[test]
    fn frame_id_touches_only_counter_and_timestamp() {
        let mut m = [0xAAu8; 256];
        write_frame_id(&mut m, 7, 0x1122_3344_5566_7788);
        assert_eq!(&m[0x0C..0x10], &[7, 0, 0, 0]);
        assert_eq!(
            &m[0x10..0x18],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert!(m[..0x0C].iter().chain(&m[0x18..]).all(|&b| b == 0xAA));
    }

    #[test]
    fn chunks_cover_the_plane_in_order() {
        for (h, n, want) in [(360, 8, 8), (5, 8, 5), (1, 8, 1), (9, 8, 5)] {
            let g = geom(16, h, 0);
            let r = chunk_ranges(&g, n);
            assert_eq!(r.len(), want, "h={h}");
            assert_eq!(r[0].start, 0);
            assert_eq!(r.last().unwrap().end, g.payload_size() as usize);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn in_place_rewrite_changes_the_counter_before_the_payload() {
        let g = geom(8, 16, 0);
        let size = g.payload_size() as usize;
        let mut meta = [0u8; 256];
        let mut payload = vec![0u8; size];
        stamp_frame(&g, 1, &mut payload);
        let mut next = vec![9u8; size];
        stamp_frame(&g, 2, &mut next);
        let mut t = TornWriter::new(0, 1);
        t.write_in_place(&mut meta, &mut payload, &next, &g, (2, 5), Duration::ZERO);
        assert_eq!(payload, next);
        assert_eq!(&meta[0x0C..0x10], &[2, 0, 0, 0]);
        assert_eq!(meta[0x10], 5);
        assert_eq!(t.frames_in_place, 1);
    }

    #[test]
    fn payload_first_leaves_the_metadata_alone() {
        let g = geom(8, 16, 0);
        let size = g.payload_size() as usize;
        let mut meta = [0u8; 256];
        meta[0x0C] = 1;
        let mut payload = vec![0u8; size];
        let mut next = vec![9u8; size];
        stamp_frame(&g, 2, &mut next);
        let mut t = TornWriter::new(0, 1);
        t.order = TornOrder::PayloadFirst;
        t.write_in_place(&mut meta, &mut payload, &next, &g, (2, 5), Duration::ZERO);
        assert_eq!(payload, next);
        assert_eq!(meta[0x0C], 1, "still the previous frame");
    }

    #[test]
    fn delays_stay_in_range_and_spread() {
        let mut t = TornWriter::new(1000, 42);
        let d: Vec<u64> = (0..2000)
            .map(|_| t.next_delay().as_micros() as u64)
            .collect();
        assert!(d.iter().all(|&x| x <= 1000));
        assert!(d.iter().any(|&x| x < 100) && d.iter().any(|&x| x > 900));
        assert_eq!(TornWriter::new(0, 3).next_delay(), Duration::ZERO);
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(
            parse_sizes("640x360,320X180").unwrap(),
            [(640, 360), (320, 180)]
        );
        for bad in ["", "640", "0x10", "ax2", "640x360,"] {
            assert!(parse_sizes(bad).is_err(), "{bad}");
        }
    }
}
