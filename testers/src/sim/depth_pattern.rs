//! The DEPTH and CONFIDENCE test patterns of `--depth-unit` / `--confidence`
//! (contract `cv-mmap-ipc.md` §2 "v2 header": plane slots 1 and 2, GRAY/F32,
//! the video plane's width and height, stride `width * 4`).
//!
//! Both are pure functions of `(x, y, frame, width, height)`, so a consumer's
//! test can recompute every sample: [`depth_value`] and [`confidence_value`].
//! `frame` is the frame counter written at 0x0C (it goes back to 0 at a reset).
//!
//! # Depth
//! In millimetres, every pixel outside the special row segment below is the
//! integer (all divisions are integer divisions, rounding down)
//!
//! ```text
//! mm = 500 + 4000 * x / width + 2000 * y / height + 10 * (frame % 60)
//! ```
//!
//! a ramp from 500 mm (top left) to just under 7090 mm, shifted by a 10 mm
//! step per frame that repeats every [`DEPTH_PERIOD`] frames. The sample is
//! `mm as f32` with `--depth-unit mm`, and `mm as f32 / 1000.0_f32` (one f32
//! division, correctly rounded) with `--depth-unit m`.
//!
//! # Special values
//! The first 16 pixels of row 0 (`y == 0`, `x < 16`, as far as the row is
//! that wide) hold fixed values in every frame, to exercise a recorder's
//! conversion rules; [`SPECIAL_MM`] lists them in millimetres:
//!
//! | x  | mm         | what it exercises                                   |
//! |----|------------|-----------------------------------------------------|
//! | 0  | NaN        | not a number                                        |
//! | 1  | +inf       | positive infinity                                   |
//! | 2  | -inf       | negative infinity                                   |
//! | 3  | -250.0     | negative depth                                      |
//! | 4  | 0.0        | zero                                                |
//! | 5  | -0.0       | negative zero                                       |
//! | 6  | 0.4        | rounds down to 0                                    |
//! | 7  | 0.5        | tie just above 0 (0 half-to-even, 1 half-away)      |
//! | 8  | 1062.5     | tie, even below: 1062 half-to-even, 1063 half-away  |
//! | 9  | 1187.5     | tie, odd below: 1188 either way                     |
//! | 10 | 1234.4     | rounds down to 1234                                 |
//! | 11 | 1234.5     | tie: 1234 half-to-even, 1235 half-away              |
//! | 12 | 1234.6     | rounds up to 1235                                   |
//! | 13 | 65535.0    | the largest u16                                     |
//! | 14 | 65535.5    | tie that rounds to 65536 (past u16) either way      |
//! | 15 | 70000.0    | above the u16 range                                 |
//!
//! With `--depth-unit m` the same pixels hold `mm / 1000.0_f32`: NaN and the
//! infinities stay what they are, -0.0 stays -0.0. 1062.5 and 1187.5 mm
//! (1.0625 and 1.1875 m) are exact in both units, so they are exact ties in
//! both; the other fractional values (0.5, 1234.5, 65535.5 mm, and 0.4,
//! 1234.4, 1234.6 mm already in mm) are not exact in f32 metres and become
//! near-ties there: compute the expected value from the f32 sample itself.
//!
//! # Confidence
//! Every pixel (no special values), an integer in `0..=100`:
//!
//! ```text
//! confidence = (100 * x / width + 100 * y / height + frame) % 101
//! ```
//!
//! as `f32`, so it repeats every 101 frames.
//!
//! The hot path ([`FloatRenderer`]) uses per-column and per-row tables and
//! gives bit-identical samples; the tests check it against the functions.

pub use super::layout::{DepthUnit, FloatPlanes};

/// The depth pattern's moving part repeats every this many frames.
pub const DEPTH_PERIOD: u64 = 60;
/// The confidence pattern repeats every this many frames (its modulus).
pub const CONFIDENCE_PERIOD: u64 = 101;
/// Row that holds the special depth values.
pub const SPECIAL_ROW: u32 = 0;

/// The special depth values in millimetres, at `x = index` of row
/// [`SPECIAL_ROW`] (see the module documentation for the table).
pub const SPECIAL_MM: [f32; 16] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    -250.0,
    0.0,
    -0.0,
    0.4,
    0.5,
    1062.5,
    1187.5,
    1234.4,
    1234.5,
    1234.6,
    65535.0,
    65535.5,
    70000.0,
];

/// The regular depth ramp in whole millimetres (no special values):
/// `500 + 4000*x/width + 2000*y/height + 10*(frame % 60)`.
pub fn ramp_mm(x: u32, y: u32, frame: u64, width: u32, height: u32) -> u32 {
    let (x, y, w, h) = (
        u64::from(x),
        u64::from(y),
        u64::from(width.max(1)),
        u64::from(height.max(1)),
    );
    (500 + 4000 * x / w + 2000 * y / h + 10 * (frame % DEPTH_PERIOD)) as u32
}

/// The depth at `(x, y)` of `frame` in millimetres, special values included.
pub fn depth_mm(x: u32, y: u32, frame: u64, width: u32, height: u32) -> f32 {
    if y == SPECIAL_ROW
        && let Some(&v) = SPECIAL_MM.get(x as usize)
    {
        return v;
    }
    ramp_mm(x, y, frame, width, height) as f32
}

/// A millimetre value in `unit`: itself, or `mm / 1000.0_f32` for metres.
pub fn in_unit(mm: f32, unit: DepthUnit) -> f32 {
    match unit {
        DepthUnit::Millimetre => mm,
        DepthUnit::Metre => mm / 1000.0,
    }
}

/// The DEPTH sample at `(x, y)` of `frame`, as published with `unit`.
pub fn depth_value(x: u32, y: u32, frame: u64, width: u32, height: u32, unit: DepthUnit) -> f32 {
    in_unit(depth_mm(x, y, frame, width, height), unit)
}

/// The CONFIDENCE sample at `(x, y)` of `frame`:
/// `(100*x/width + 100*y/height + frame) % 101`, in `0..=100`.
pub fn confidence_value(x: u32, y: u32, frame: u64, width: u32, height: u32) -> f32 {
    let (x, y, w, h) = (
        u64::from(x),
        u64::from(y),
        u64::from(width.max(1)),
        u64::from(height.max(1)),
    );
    ((100 * x / w + 100 * y / h + frame) % CONFIDENCE_PERIOD) as f32
}

/// Renders the float planes of one geometry, back to back as they sit in
/// the payload (DEPTH, then CONFIDENCE, each `width * 4 * height` bytes,
/// little-endian f32), from frame-independent tables.
#[derive(Clone, Debug)]
pub struct FloatRenderer {
    planes: FloatPlanes,
    /// `4000*x/width` per column.
    depth_col: Vec<u32>,
    /// `500 + 2000*y/height` per row.
    depth_row: Vec<u32>,
    /// `100*x/width` per column (0..=99).
    conf_col: Vec<u32>,
    /// `100*y/height` per row (0..=99).
    conf_row: Vec<u32>,
}

impl FloatRenderer {
    pub fn new(planes: FloatPlanes, width: u32, height: u32) -> Self {
        let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
        let col = |k: u64| (0..u64::from(width)).map(|x| (k * x / w) as u32).collect();
        let row = |k: u64| (0..u64::from(height)).map(move |y| (k * y / h) as u32);
        Self {
            planes,
            depth_col: col(4000),
            depth_row: row(2000).map(|v| 500 + v).collect(),
            conf_col: col(100),
            conf_row: row(100).collect(),
        }
    }

    /// The (width, height) these tables were made for.
    pub fn size(&self) -> (u32, u32) {
        (self.depth_col.len() as u32, self.depth_row.len() as u32)
    }

    /// Bytes [`FloatRenderer::fill`] writes: [`FloatPlanes::bytes`] of its size.
    pub fn len(&self) -> usize {
        let (w, h) = self.size();
        self.planes.bytes(w, h) as usize
    }

    /// True when no float plane is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes frame `frame`'s float planes into `out` (at least
    /// [`FloatRenderer::len`] bytes): DEPTH first when enabled, then
    /// CONFIDENCE when enabled.
    pub fn fill(&self, frame: u64, out: &mut [u8]) {
        let (w, h) = self.size();
        let plane = w as usize * 4 * h as usize;
        let mut rest = out;
        if let Some(unit) = self.planes.depth {
            let (depth, tail) = rest.split_at_mut(plane);
            self.fill_depth(frame, unit, depth);
            rest = tail;
        }
        if self.planes.confidence {
            self.fill_confidence(frame, &mut rest[..plane]);
        }
    }

    fn fill_depth(&self, frame: u64, unit: DepthUnit, out: &mut [u8]) {
        let step = 10 * (frame % DEPTH_PERIOD) as u32;
        let row_bytes = self.depth_col.len() * 4;
        if row_bytes == 0 {
            return;
        }
        for (row, &base) in out.chunks_exact_mut(row_bytes).zip(&self.depth_row) {
            let base = base + step;
            let samples = row.chunks_exact_mut(4).zip(&self.depth_col);
            // The unit is decided once per row so the loops stay branch-free.
            match unit {
                DepthUnit::Millimetre => {
                    for (px, &c) in samples {
                        px.copy_from_slice(&((c + base) as f32).to_le_bytes());
                    }
                }
                DepthUnit::Metre => {
                    for (px, &c) in samples {
                        px.copy_from_slice(&(((c + base) as f32) / 1000.0).to_le_bytes());
                    }
                }
            }
        }
        if let Some(row) = out.chunks_exact_mut(row_bytes).nth(SPECIAL_ROW as usize) {
            for (px, &mm) in row.chunks_exact_mut(4).zip(&SPECIAL_MM) {
                px.copy_from_slice(&in_unit(mm, unit).to_le_bytes());
            }
        }
    }

    fn fill_confidence(&self, frame: u64, out: &mut [u8]) {
        let shift = (frame % CONFIDENCE_PERIOD) as u32;
        let row_bytes = self.conf_col.len() * 4;
        if row_bytes == 0 {
            return;
        }
        for (row, &r) in out.chunks_exact_mut(row_bytes).zip(&self.conf_row) {
            // r + shift <= 99 + 100, so one subtraction brings it into 0..101.
            let base = r + shift;
            let base = if base >= 101 { base - 101 } else { base };
            for (px, &c) in row.chunks_exact_mut(4).zip(&self.conf_col) {
                let v = c + base;
                let v = if v >= 101 { v - 101 } else { v };
                px.copy_from_slice(&(v as f32).to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(buf: &[u8], i: usize) -> f32 {
        f32::from_le_bytes(buf[4 * i..4 * i + 4].try_into().unwrap())
    }

    fn render(planes: FloatPlanes, w: u32, h: u32, frame: u64) -> Vec<u8> {
        let r = FloatRenderer::new(planes, w, h);
        let mut buf = vec![0xEE; r.len()];
        r.fill(frame, &mut buf);
        buf
    }

    #[test]
    fn special_values_table() {
        let unit = DepthUnit::Millimetre;
        let d = |x| depth_value(x, 0, 7, 640, 360, unit);
        assert!(d(0).is_nan());
        assert_eq!(d(1), f32::INFINITY);
        assert_eq!(d(2), f32::NEG_INFINITY);
        assert_eq!(d(3), -250.0);
        assert_eq!(d(4).to_bits(), 0.0f32.to_bits());
        assert_eq!(d(5).to_bits(), (-0.0f32).to_bits());
        assert_eq!((d(6), d(7)), (0.4, 0.5));
        assert_eq!((d(8), d(9)), (1062.5, 1187.5));
        assert_eq!((d(10), d(11), d(12)), (1234.4, 1234.5, 1234.6));
        assert_eq!((d(13), d(14), d(15)), (65535.0, 65535.5, 70000.0));
        // Exact ties really are ties in f32, and the rounding rules differ on them.
        for (v, even, away) in [
            (0.5f32, 0.0, 1.0),
            (1062.5, 1062.0, 1063.0),
            (1187.5, 1188.0, 1188.0),
            (1234.5, 1234.0, 1235.0),
            (65535.5, 65536.0, 65536.0),
        ] {
            assert_eq!(v.fract(), 0.5, "{v}");
            assert_eq!((v.round_ties_even(), v.round()), (even, away), "{v}");
        }
        assert_eq!((d(10).round(), d(12).round()), (1234.0, 1235.0));
        // x = 16 is the ramp again; other rows have no special values.
        assert_eq!(d(16), ramp_mm(16, 0, 7, 640, 360) as f32);
        assert_eq!(
            depth_mm(0, 1, 7, 640, 360),
            ramp_mm(0, 1, 7, 640, 360) as f32
        );
    }

    #[test]
    fn special_values_are_in_every_frame_and_unit() {
        for frame in [0, 1, 59, 60, 1234, u64::from(u32::MAX)] {
            for (x, &mm) in SPECIAL_MM.iter().enumerate() {
                let x = x as u32;
                let got = depth_value(x, 0, frame, 1920, 1080, DepthUnit::Millimetre);
                assert_eq!(got.to_bits(), mm.to_bits(), "x {x} frame {frame}");
                let m = depth_value(x, 0, frame, 1920, 1080, DepthUnit::Metre);
                assert_eq!(m.to_bits(), (mm / 1000.0).to_bits());
            }
        }
        let m = |x| depth_value(x, 0, 0, 64, 8, DepthUnit::Metre);
        assert!(m(0).is_nan());
        assert_eq!((m(1), m(2)), (f32::INFINITY, f32::NEG_INFINITY));
        assert_eq!(m(5).to_bits(), (-0.0f32).to_bits());
        // 1062.5 and 1187.5 mm are exact in metres too: still exact ties.
        assert_eq!((m(8), m(9)), (1.0625, 1.1875));
        assert_eq!((m(8) * 1000.0, m(9) * 1000.0), (1062.5, 1187.5));
        assert_eq!(m(15), 70.0);
    }

    #[test]
    fn ramp_formula_and_range() {
        assert_eq!(ramp_mm(0, 0, 0, 1920, 1080), 500);
        assert_eq!(ramp_mm(960, 540, 0, 1920, 1080), 500 + 2000 + 1000);
        assert_eq!(ramp_mm(1919, 1079, 59, 1920, 1080), 500 + 3997 + 1998 + 590);
        assert_eq!(ramp_mm(1, 1, 61, 3, 3), 500 + 1333 + 666 + 10);
        assert_eq!(
            depth_value(100, 10, 3, 1920, 1080, DepthUnit::Metre),
            (500 + 208 + 18 + 30) as f32 / 1000.0
        );
    }

    #[test]
    fn confidence_formula_and_range() {
        assert_eq!(confidence_value(0, 0, 0, 640, 360), 0.0);
        assert_eq!(confidence_value(639, 359, 0, 640, 360), 99.0 + 99.0 - 101.0);
        assert_eq!(confidence_value(0, 0, 100, 640, 360), 100.0);
        assert_eq!(confidence_value(0, 0, 101, 640, 360), 0.0);
        let mut seen = [false; 101];
        for y in (0..360).step_by(7) {
            for x in (0..640).step_by(5) {
                for f in [0, 50, 100, 1000] {
                    let v = confidence_value(x, y, f, 640, 360);
                    assert!((0.0..=100.0).contains(&v) && v.fract() == 0.0);
                    seen[v as usize] = true;
                }
            }
        }
        assert!(seen.iter().all(|&s| s), "every value 0..=100 occurs");
    }

    #[test]
    fn renderer_matches_the_functions_bit_for_bit() {
        let sizes = [
            (1, 1),
            (3, 2),
            (15, 4),
            (16, 3),
            (17, 5),
            (64, 36),
            (101, 7),
        ];
        let all = [
            FloatPlanes {
                depth: Some(DepthUnit::Millimetre),
                confidence: true,
            },
            FloatPlanes {
                depth: Some(DepthUnit::Metre),
                confidence: true,
            },
            FloatPlanes {
                depth: Some(DepthUnit::Metre),
                confidence: false,
            },
            FloatPlanes {
                depth: None,
                confidence: true,
            },
        ];
        for planes in all {
            for (w, h) in sizes {
                for frame in [0, 1, 59, 60, 100, 101, 12345] {
                    let buf = render(planes, w, h, frame);
                    let n = (w * h) as usize;
                    let planes_n =
                        usize::from(planes.depth.is_some()) + usize::from(planes.confidence);
                    assert_eq!(buf.len(), planes_n * n * 4);
                    let mut i = 0;
                    if let Some(unit) = planes.depth {
                        for y in 0..h {
                            for x in 0..w {
                                let want = depth_value(x, y, frame, w, h, unit);
                                assert_eq!(
                                    sample(&buf, i).to_bits(),
                                    want.to_bits(),
                                    "depth {x},{y} {w}x{h} f{frame}"
                                );
                                i += 1;
                            }
                        }
                    }
                    if planes.confidence {
                        for y in 0..h {
                            for x in 0..w {
                                let want = confidence_value(x, y, frame, w, h);
                                assert_eq!(sample(&buf, i), want, "conf {x},{y} {w}x{h} f{frame}");
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn renderer_at_1080p_spot_checks() {
        let planes = FloatPlanes {
            depth: Some(DepthUnit::Millimetre),
            confidence: true,
        };
        let (w, h) = (1920u32, 1080u32);
        let r = FloatRenderer::new(planes, w, h);
        assert_eq!((r.size(), r.len()), ((w, h), 2 * 1920 * 1080 * 4));
        let mut buf = vec![0; r.len()];
        r.fill(42, &mut buf);
        let n = (w * h) as usize;
        for (x, y) in [
            (0, 0),
            (15, 0),
            (16, 0),
            (1919, 0),
            (0, 1),
            (1919, 1079),
            (777, 555),
        ] {
            let i = (y * w + x) as usize;
            assert_eq!(
                sample(&buf, i).to_bits(),
                depth_value(x, y, 42, w, h, DepthUnit::Millimetre).to_bits()
            );
            assert_eq!(sample(&buf, n + i), confidence_value(x, y, 42, w, h));
        }
    }
}
