//! Raw producer frames to I420 on the CPU, for the software encoders.
//!
//! `videoconvert` was the pipeline's colour conversion: single-threaded,
//! unpacking each row to a 4:4:4 intermediate and packing it again, after a
//! copy of the frame out of shared memory. The conversion here runs in one
//! SIMD pass (yuvutils-rs picks AVX2 or SSE4.1 at run time) and is also the
//! copy: the ingest converts straight from the mapped segment into the
//! buffer the encoder gets (`ingest::snapshot`), on its own thread, while
//! the encoder's thread works on the frame before. Frames that arrive raw
//! (the dummy source, the first frame) are converted by the encoder.
//! `benches/convert.rs` measures it against GStreamer's converter.
//!
//! Pure code: no GStreamer, no clocks. The caller gives plane slices and
//! strides; every size is checked here, so a frame that does not fit is an
//! error, never a panic.

pub mod depth;

use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};

use crate::contract::PixelFormat;
use crate::ingest::VideoGeometry;

/// The YCbCr matrix the conversion applies and the caps announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
}

impl Matrix {
    /// GStreamer's own default for YUV without stated colorimetry: BT.709
    /// above SD heights, BT.601 up to 576 lines (video-info.c,
    /// `set_default_colorimetry`); limited range either way.
    pub fn for_height(height: u32) -> Self {
        if height > 576 {
            Self::Bt709
        } else {
            Self::Bt601
        }
    }

    /// The caps' `colorimetry` field for this matrix, limited range.
    pub fn caps_name(self) -> &'static str {
        match self {
            Self::Bt601 => "bt601",
            Self::Bt709 => "bt709",
        }
    }

    fn standard(self) -> YuvStandardMatrix {
        match self {
            Self::Bt601 => YuvStandardMatrix::Bt601,
            Self::Bt709 => YuvStandardMatrix::Bt709,
        }
    }
}

/// Where the planes of a `width` x `height` I420 picture lie in one buffer:
/// GStreamer's default layout (video-info.c: rows padded to 4 bytes, U then
/// V after Y), so a buffer in it needs no `VideoMeta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I420Layout {
    pub y_stride: usize,
    pub c_stride: usize,
    pub u_offset: usize,
    pub v_offset: usize,
    pub size: usize,
}

impl I420Layout {
    pub fn new(width: u32, height: u32) -> Self {
        let round4 = |n: usize| (n + 3) & !3;
        let (w, h) = (width as usize, height as usize);
        let (y_stride, c_stride) = (round4(w), round4(chroma(width)));
        let u_offset = y_stride * h;
        let v_offset = u_offset + c_stride * chroma(height);
        Self {
            y_stride,
            c_stride,
            u_offset,
            v_offset,
            size: v_offset + c_stride * chroma(height),
        }
    }

    /// The planes of `buf` (at least `size` bytes, else None).
    pub fn planes<'a>(&self, buf: &'a mut [u8]) -> Option<I420<'a>> {
        let buf = buf.get_mut(..self.size)?;
        let (y, rest) = buf.split_at_mut(self.u_offset);
        let (u, v) = rest.split_at_mut(self.v_offset - self.u_offset);
        Some(I420 {
            y,
            y_stride: self.y_stride,
            u,
            u_stride: self.c_stride,
            v,
            v_stride: self.c_stride,
        })
    }
}

/// The three planes of an I420 picture, as the encoder's buffer lays them out.
pub struct I420<'a> {
    pub y: &'a mut [u8],
    pub y_stride: usize,
    pub u: &'a mut [u8],
    pub u_stride: usize,
    pub v: &'a mut [u8],
    pub v_stride: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("frame of {len} bytes is short for {width}x{height} rows of {stride} bytes")]
    ShortSource {
        len: usize,
        width: u32,
        height: u32,
        stride: usize,
    },
    #[error("I420 destination too small for {width}x{height}")]
    ShortDestination { width: u32, height: u32 },
    #[error("colour conversion refused the frame: {0}")]
    Refused(String),
}

fn chroma(n: u32) -> usize {
    n.div_ceil(2) as usize
}

/// Checks both sides' sizes: after this, no index below can go out of range.
pub fn check(src: &[u8], g: &VideoGeometry, dst: &I420) -> Result<(), ConvertError> {
    let (w, h) = (g.width as usize, g.height as usize);
    // The whole plane, last row's padding included, as the contract sizes
    // it (stride x height): yuvutils-rs walks the rows in pairs of strides
    // and panics on a shorter tail (found by fuzz/pixels_to_i420).
    let need = g.stride.saturating_mul(h);
    // YUYV carries chroma per pixel pair: one pixel has none.
    let too_narrow = g.pixel_format == PixelFormat::Yuyv && w < 2;
    if w == 0 || h == 0 || too_narrow || g.stride < g.row_bytes() || src.len() < need {
        return Err(ConvertError::ShortSource {
            len: src.len(),
            width: g.width,
            height: g.height,
            stride: g.stride,
        });
    }
    let (cw, ch) = (chroma(g.width), chroma(g.height));
    let fits = |plane: &[u8], stride: usize, pw: usize, ph: usize| {
        stride >= pw && plane.len() >= stride * (ph - 1) + pw
    };
    if !(fits(dst.y, dst.y_stride, w, h)
        && fits(dst.u, dst.u_stride, cw, ch)
        && fits(dst.v, dst.v_stride, cw, ch))
    {
        return Err(ConvertError::ShortDestination {
            width: g.width,
            height: g.height,
        });
    }
    Ok(())
}

/// Converts one frame of any producer format to I420 (limited range,
/// `matrix`); chroma is the average of each 2x2 block.
pub fn to_i420(
    src: &[u8],
    g: &VideoGeometry,
    dst: I420,
    matrix: Matrix,
) -> Result<(), ConvertError> {
    check(src, g, &dst)?;
    // Exactly the plane: a longer slice makes yuvutils-rs's odd-height tail
    // row the bytes after it.
    let src = &src[..g.plane_bytes()];
    match g.pixel_format {
        PixelFormat::Bgr | PixelFormat::Rgb | PixelFormat::Bgra | PixelFormat::Rgba => {
            rgb_family(src, g, dst, matrix)
        }
        PixelFormat::Yuyv => yuyv(src, g, dst),
        PixelFormat::Gray => {
            gray(src, g, dst);
            Ok(())
        }
        PixelFormat::Yuv => {
            yuv444_packed(src, g, dst);
            Ok(())
        }
    }
}

fn planar<'a>(dst: I420<'a>, g: &VideoGeometry) -> YuvPlanarImageMut<'a, u8> {
    YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(dst.y),
        y_stride: dst.y_stride as u32,
        u_plane: BufferStoreMut::Borrowed(dst.u),
        u_stride: dst.u_stride as u32,
        v_plane: BufferStoreMut::Borrowed(dst.v),
        v_stride: dst.v_stride as u32,
        width: g.width,
        height: g.height,
    }
}

fn rgb_family(
    src: &[u8],
    g: &VideoGeometry,
    dst: I420,
    matrix: Matrix,
) -> Result<(), ConvertError> {
    let f = match g.pixel_format {
        PixelFormat::Bgr => yuvutils_rs::bgr_to_yuv420,
        PixelFormat::Rgb => yuvutils_rs::rgb_to_yuv420,
        PixelFormat::Bgra => yuvutils_rs::bgra_to_yuv420,
        _ => yuvutils_rs::rgba_to_yuv420,
    };
    let mut image = planar(dst, g);
    f(
        &mut image,
        src,
        g.stride as u32,
        YuvRange::Limited,
        matrix.standard(),
        YuvConversionMode::Balanced,
    )
    .map_err(|e| ConvertError::Refused(e.to_string()))
}

/// YUYV (YUY2: `Y0 U Y1 V` per pixel pair), already YCbCr: luma copied,
/// chroma averaged over the pair's two rows. yuvutils-rs's SIMD pass where
/// it takes the frame (even width, rows without padding: 0.8 checks
/// `2 * width * height` against the whole buffer, stride ignored), else a
/// scalar pass (about 6x slower: benches/convert.rs).
fn yuyv(src: &[u8], g: &VideoGeometry, dst: I420) -> Result<(), ConvertError> {
    let (w, h) = (g.width as usize, g.height as usize);
    if w % 2 == 0 && g.stride == 2 * w && src.len() >= g.stride * h {
        let packed = yuvutils_rs::YuvPackedImage {
            yuy: &src[..g.stride * h],
            yuy_stride: g.stride as u32,
            width: g.width,
            height: g.height,
        };
        return yuvutils_rs::yuyv422_to_yuv420(&mut planar(dst, g), &packed)
            .map_err(|e| ConvertError::Refused(e.to_string()));
    }
    for (row, out) in src
        .chunks(g.stride)
        .zip(dst.y.chunks_mut(dst.y_stride))
        .take(h)
    {
        for (o, pair) in out[..w].iter_mut().zip(row.chunks_exact(2)) {
            *o = pair[0];
        }
    }
    // Byte of chroma `c` (1: U, 3: V) for the pair holding column 2*cx; an
    // odd width's last pixel has half a pair, so it takes the last whole one.
    let at = |cx: usize, y: usize, c: usize| {
        let pair = cx.min(w / 2 - 1); // w >= 2 (check)
        u32::from(src[y.min(h - 1) * g.stride + 4 * pair + c])
    };
    fill_chroma(g, dst.u, dst.u_stride, dst.v, dst.v_stride, |cx, cy| {
        let y = 2 * cy;
        let avg = |c| (at(cx, y, c) + at(cx, y + 1, c)).div_ceil(2) as u8;
        (avg(1), avg(3))
    });
    Ok(())
}

/// Grey is full-range luma: squeezed into 16..=235, chroma neutral.
fn gray(src: &[u8], g: &VideoGeometry, dst: I420) {
    let lut: [u8; 256] = std::array::from_fn(|v| (16 + (v * 219 + 127) / 255) as u8);
    let w = g.width as usize;
    for (row, out) in src
        .chunks(g.stride)
        .zip(dst.y.chunks_mut(dst.y_stride))
        .take(g.height as usize)
    {
        for (o, &i) in out[..w].iter_mut().zip(&row[..w]) {
            *o = lut[usize::from(i)];
        }
    }
    fill_chroma(g, dst.u, dst.u_stride, dst.v, dst.v_stride, |_, _| {
        (128, 128)
    });
}

/// Packed 4:4:4 (`Y U V` per pixel, GStreamer's v308), already YCbCr:
/// luma copied, chroma averaged over 2x2.
fn yuv444_packed(src: &[u8], g: &VideoGeometry, dst: I420) {
    let (w, h) = (g.width as usize, g.height as usize);
    for (row, out) in src
        .chunks(g.stride)
        .zip(dst.y.chunks_mut(dst.y_stride))
        .take(h)
    {
        for (o, px) in out[..w].iter_mut().zip(row.chunks_exact(3)) {
            *o = px[0];
        }
    }
    let at = |x: usize, y: usize, c: usize| {
        u32::from(src[y.min(h - 1) * g.stride + x.min(w - 1) * 3 + c])
    };
    fill_chroma(g, dst.u, dst.u_stride, dst.v, dst.v_stride, |cx, cy| {
        let (x, y) = (2 * cx, 2 * cy);
        let avg = |c| {
            ((at(x, y, c) + at(x + 1, y, c) + at(x, y + 1, c) + at(x + 1, y + 1, c) + 2) / 4) as u8
        };
        (avg(1), avg(2))
    });
}

fn fill_chroma(
    g: &VideoGeometry,
    u: &mut [u8],
    u_stride: usize,
    v: &mut [u8],
    v_stride: usize,
    value: impl Fn(usize, usize) -> (u8, u8),
) {
    let (cw, ch) = (chroma(g.width), chroma(g.height));
    for cy in 0..ch {
        for cx in 0..cw {
            let (cu, cv) = value(cx, cy);
            u[cy * u_stride + cx] = cu;
            v[cy * v_stride + cx] = cv;
        }
    }
}

#[cfg(test)]
mod tests;
