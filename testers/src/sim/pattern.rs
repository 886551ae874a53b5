//! The reference test pattern (contract `cv-mmap-ipc.md` §6, dummy backend):
//! for frame `f`, pixel `(x, y)` has `B=(x+3f)%256`, `G=(2y+5f)%256`,
//! `R=(x/2+y/3+7f)%256`.
//!
//! Other formats carry the same colours: RGB/RGBA/BGRA reorder the channels
//! (alpha 255), GRAY is the full-range BT.601 luma, YUV is packed 4:4:4
//! BT.601 limited range `Y U V` per pixel, YUYV is BT.601 limited range
//! `Y0 U Y1 V` with chroma from the average of the pixel pair.
//!
//! The hot path uses per-column and per-row tables so that no division happens
//! per pixel; every value is taken modulo 256 by `u8` wrapping arithmetic.

use super::layout::{Geometry, PixelFormat};

/// Colour of one pixel, channel values 0..=255.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// Reference (slow, obvious) formula of §6, used by tests and as documentation.
pub fn reference_colour(x: u64, y: u64, f: u64) -> Rgb {
    Rgb {
        b: ((x + 3 * f) % 256) as u8,
        g: ((2 * y + 5 * f) % 256) as u8,
        r: ((x / 2 + y / 3 + 7 * f) % 256) as u8,
    }
}

/// Full-range BT.601 luma `0.299R + 0.587G + 0.114B`, rounded (16-bit fixed point).
pub fn luma_full(c: Rgb) -> u8 {
    let (r, g, b) = (u32::from(c.r), u32::from(c.g), u32::from(c.b));
    ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16) as u8
}

/// BT.601 limited-range Y (16..=235), standard 8-bit integer approximation.
pub fn y_limited(c: Rgb) -> u8 {
    let (r, g, b) = (i32::from(c.r), i32::from(c.g), i32::from(c.b));
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

/// BT.601 limited-range (U, V) (16..=240), standard 8-bit integer approximation.
pub fn uv_limited(c: Rgb) -> (u8, u8) {
    let (r, g, b) = (i32::from(c.r), i32::from(c.g), i32::from(c.b));
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (u as u8, v as u8)
}

fn average(a: Rgb, b: Rgb) -> Rgb {
    let avg = |p: u8, q: u8| ((u16::from(p) + u16::from(q) + 1) >> 1) as u8;
    Rgb {
        r: avg(a.r, b.r),
        g: avg(a.g, b.g),
        b: avg(a.b, b.b),
    }
}

/// Frame-independent lookup tables for one geometry.
#[derive(Debug, Clone)]
pub struct PatternTables {
    /// `x % 256` per column (blue base).
    b_col: Vec<u8>,
    /// `(x / 2) % 256` per column (red, column part).
    r_col: Vec<u8>,
    /// `(2y) % 256` per row (green base).
    g_row: Vec<u8>,
    /// `(y / 3) % 256` per row (red, row part).
    r_row: Vec<u8>,
}

impl PatternTables {
    pub fn new(width: u32, height: u32) -> Self {
        let w = u64::from(width);
        let h = u64::from(height);
        Self {
            b_col: (0..w).map(|x| (x % 256) as u8).collect(),
            r_col: (0..w).map(|x| ((x / 2) % 256) as u8).collect(),
            g_row: (0..h).map(|y| ((2 * y) % 256) as u8).collect(),
            r_row: (0..h).map(|y| ((y / 3) % 256) as u8).collect(),
        }
    }

    /// The (width, height) these tables were made for.
    pub fn size(&self) -> (u32, u32) {
        (self.b_col.len() as u32, self.g_row.len() as u32)
    }

    /// Colours of row `y` in frame `f`, left to right.
    fn row_colours(&self, y: usize, f: u64) -> impl Iterator<Item = Rgb> + '_ {
        // (k*f) % 256 only depends on f % 256.
        let f8 = f as u8;
        let b_off = f8.wrapping_mul(3);
        let g = self.g_row[y].wrapping_add(f8.wrapping_mul(5));
        let r_base = self.r_row[y].wrapping_add(f8.wrapping_mul(7));
        self.b_col
            .iter()
            .zip(&self.r_col)
            .map(move |(&bc, &rc)| Rgb {
                r: rc.wrapping_add(r_base),
                g,
                b: bc.wrapping_add(b_off),
            })
    }
}

/// Writes frame `f` into `payload` (`geom.payload_size()` bytes, rows `geom.stride`
/// apart); row padding bytes are set to zero.
pub fn fill_frame(tables: &PatternTables, geom: &Geometry, f: u64, payload: &mut [u8]) {
    let stride = geom.stride as usize;
    let row_bytes = geom.row_bytes() as usize;
    let rows = payload[..stride * geom.height as usize].chunks_exact_mut(stride);
    for (y, row) in rows.enumerate() {
        let (pixels, padding) = row.split_at_mut(row_bytes);
        fill_row(geom.format, tables.row_colours(y, f), pixels);
        padding.fill(0);
    }
}

fn fill_row(format: PixelFormat, mut colours: impl Iterator<Item = Rgb>, out: &mut [u8]) {
    match format {
        PixelFormat::Bgr => {
            for (px, c) in out.chunks_exact_mut(3).zip(colours) {
                px.copy_from_slice(&[c.b, c.g, c.r]);
            }
        }
        PixelFormat::Rgb => {
            for (px, c) in out.chunks_exact_mut(3).zip(colours) {
                px.copy_from_slice(&[c.r, c.g, c.b]);
            }
        }
        PixelFormat::Bgra => {
            for (px, c) in out.chunks_exact_mut(4).zip(colours) {
                px.copy_from_slice(&[c.b, c.g, c.r, 255]);
            }
        }
        PixelFormat::Rgba => {
            for (px, c) in out.chunks_exact_mut(4).zip(colours) {
                px.copy_from_slice(&[c.r, c.g, c.b, 255]);
            }
        }
        PixelFormat::Gray => {
            for (px, c) in out.iter_mut().zip(colours) {
                *px = luma_full(c);
            }
        }
        PixelFormat::Yuv => {
            for (px, c) in out.chunks_exact_mut(3).zip(colours) {
                let (u, v) = uv_limited(c);
                px.copy_from_slice(&[y_limited(c), u, v]);
            }
        }
        PixelFormat::Yuyv => {
            // Width is even (validated by the CLI), so colours come in pairs.
            for px in out.chunks_exact_mut(4) {
                let (Some(c0), Some(c1)) = (colours.next(), colours.next()) else {
                    break;
                };
                let (u, v) = uv_limited(average(c0, c1));
                px.copy_from_slice(&[y_limited(c0), u, y_limited(c1), v]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        format: PixelFormat,
        width: u32,
        height: u32,
        padding: u32,
        f: u64,
    ) -> (Geometry, Vec<u8>) {
        let geom = Geometry {
            width,
            height,
            stride: width * u32::from(format.channels()) + padding,
            format,
        };
        let mut buf = vec![0xEE; geom.payload_size() as usize];
        fill_frame(&PatternTables::new(width, height), &geom, f, &mut buf);
        (geom, buf)
    }

    fn at(geom: &Geometry, buf: &[u8], x: u32, y: u32) -> Vec<u8> {
        let ch = u32::from(geom.format.channels());
        let off = (y * geom.stride + x * ch) as usize;
        buf[off..off + ch as usize].to_vec()
    }

    #[test]
    fn reference_formula_hand_values() {
        // f=1, (10,20): B=13, G=45, R=5+6+7=18
        assert_eq!(
            reference_colour(10, 20, 1),
            Rgb {
                r: 18,
                g: 45,
                b: 13
            }
        );
        // f=100, (300,200): B=600%256=88, G=900%256=132, R=(150+66+700)%256=148
        assert_eq!(
            reference_colour(300, 200, 100),
            Rgb {
                r: 148,
                g: 132,
                b: 88
            }
        );
    }

    #[test]
    fn bgr_rgb_bgra_rgba_pixels() {
        let cases = [
            (PixelFormat::Bgr, vec![13, 45, 18], vec![88, 132, 148]),
            (PixelFormat::Rgb, vec![18, 45, 13], vec![148, 132, 88]),
            (
                PixelFormat::Bgra,
                vec![13, 45, 18, 255],
                vec![88, 132, 148, 255],
            ),
            (
                PixelFormat::Rgba,
                vec![18, 45, 13, 255],
                vec![148, 132, 88, 255],
            ),
        ];
        for (format, p1, p2) in cases {
            let (g, buf) = render(format, 640, 360, 0, 1);
            assert_eq!(at(&g, &buf, 10, 20), p1, "{format:?}");
            let (g, buf) = render(format, 640, 360, 7, 100);
            assert_eq!(at(&g, &buf, 300, 200), p2, "{format:?}");
        }
    }

    #[test]
    fn gray_is_bt601_luma() {
        let (g, buf) = render(PixelFormat::Gray, 640, 360, 0, 1);
        // 0.299*18 + 0.587*45 + 0.114*13 = 33.28
        assert_eq!(at(&g, &buf, 10, 20), vec![33]);
        // 0.299*148 + 0.587*132 + 0.114*88 = 131.78
        let (g, buf) = render(PixelFormat::Gray, 640, 360, 0, 100);
        assert_eq!(at(&g, &buf, 300, 200), vec![132]);
    }

    #[test]
    fn yuyv_limited_range_pair() {
        let (g, buf) = render(PixelFormat::Yuyv, 640, 360, 0, 1);
        // pixels (10,20)=RGB(18,45,13), (11,20)=RGB(18,45,14); average (18,45,14)
        // Y = ((66*18+129*45+25*13+128)>>8)+16 = 45, same for the second pixel;
        // U = ((-38*18-74*45+112*14+128)>>8)+128 = 118; V likewise 118.
        assert_eq!(at(&g, &buf, 10, 20), vec![45, 118]);
        assert_eq!(at(&g, &buf, 11, 20), vec![45, 118]);
    }

    #[test]
    fn yuv_444_limited_range_pixels() {
        // (10,20) f=1: RGB(18,45,13).
        // Y = ((66*18+129*45+25*13+128)>>8)+16 = (7446>>8)+16 = 45
        // U = ((-38*18-74*45+112*13+128)>>8)+128 = (-2430>>8)+128 = -10+128 = 118
        // V = ((112*18-94*45-18*13+128)>>8)+128 = (-2320>>8)+128 = -10+128 = 118
        let (g, buf) = render(PixelFormat::Yuv, 640, 360, 0, 1);
        assert_eq!(g.stride, 1920);
        assert_eq!(at(&g, &buf, 10, 20), vec![45, 118, 118]);
        // (11,20) f=1: RGB(18,45,14): U = (-2318>>8)+128 = 118, V = (-2338>>8)+128 = 118
        assert_eq!(at(&g, &buf, 11, 20), vec![45, 118, 118]);
        // (300,200) f=100: RGB(148,132,88).
        // Y = (29124>>8)+16 = 113+16 = 129
        // U = ((-5624-9768+9856+128)>>8)+128 = (-5408>>8)+128 = -22+128 = 106
        // V = ((16576-12408-1584+128)>>8)+128 = (2712>>8)+128 = 10+128 = 138
        let (g, buf) = render(PixelFormat::Yuv, 640, 360, 5, 100);
        assert_eq!(at(&g, &buf, 300, 200), vec![129, 106, 138]);
        // (0,0) f=0: black -> (16, 128, 128).
        let (g, buf) = render(PixelFormat::Yuv, 8, 4, 0, 0);
        assert_eq!(at(&g, &buf, 0, 0), vec![16, 128, 128]);
    }

    #[test]
    fn yuyv_extremes_stay_in_limited_range() {
        assert_eq!(y_limited(Rgb { r: 0, g: 0, b: 0 }), 16);
        assert_eq!(
            y_limited(Rgb {
                r: 255,
                g: 255,
                b: 255
            }),
            235
        );
        assert_eq!(
            uv_limited(Rgb {
                r: 128,
                g: 128,
                b: 128
            }),
            (128, 128)
        );
        assert_eq!(uv_limited(Rgb { r: 0, g: 0, b: 255 }).0, 240);
        assert_eq!(uv_limited(Rgb { r: 255, g: 0, b: 0 }).1, 240);
    }

    #[test]
    fn table_fill_matches_reference_everywhere() {
        for f in [0u64, 1, 85, 255, 256, 1000] {
            let (g, buf) = render(PixelFormat::Bgr, 613, 97, 5, f);
            for y in 0..97u32 {
                for x in 0..613u32 {
                    let c = reference_colour(x.into(), y.into(), f);
                    assert_eq!(at(&g, &buf, x, y), vec![c.b, c.g, c.r], "x={x} y={y} f={f}");
                }
                let pad = ((y + 1) * g.stride - 5) as usize;
                assert_eq!(&buf[pad..pad + 5], &[0; 5]);
            }
        }
    }

    #[test]
    fn consecutive_frames_differ() {
        let (_, a) = render(PixelFormat::Gray, 64, 32, 0, 7);
        let (_, b) = render(PixelFormat::Gray, 64, 32, 0, 8);
        assert_ne!(a, b);
    }
}
